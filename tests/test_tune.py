"""`genstrat tune`: sampling settings measured against a validation reference of training objects, resumable, with
one-line errors."""

import json
import shutil

import pytest

from genstrat.cli import main

TRAIN = ["--size", "tiny", "--batch-size", "16", "--no-progress"]
TUNE = ["--n", "20", "--judge-steps", "30", "--batch", "10", "--no-progress"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    ckpt = tmp_path_factory.mktemp("tune") / "mp"
    assert main(["train", "--data", "digits", "--strategy", "mask-predict", "--steps", "5", *TRAIN,
                 "--out", str(ckpt)]) == 0
    return ckpt


def test_tune_measures_every_setting_and_seed_against_training_objects(checkpoint, tmp_path, capsys):
    out = tmp_path / "tune.json"
    assert main(["tune", str(checkpoint), "--vary", "temperature=0,1", "--vary", "guidance=1.0,1.5", "--seeds", "3",
                 "--steps", "4", *TUNE, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert [r["setting"] for r in rows] == [{"temperature": t, "guidance": w} for t in (0.0, 1.0) for w in (1.0, 1.5)]
    assert all(r["seed"] == 3 and r["steps"] == 4 and r["n"] == 20 and 0 <= r["agree"] <= 1 for r in rows)
    assert all(r["val_fd"] >= 0 and len(r["val_fd_ci"]) == 2 and len(r["agree_ci"]) == 2 for r in rows)
    # the reference is the training split (digits has 1,347 training images: 1,000 of them), and held-out images
    # sit at a positive distance from it
    assert result["validation_n"] == 1000 and result["real_fd"] > 0
    printed = capsys.readouterr().out
    assert printed.count("mean of 1 seeds") == 4 and str(out) in printed

    # the same setting and seed measured again gives the same figure; --resume keeps what is there
    again = tmp_path / "again.json"
    assert main(["tune", str(checkpoint), "--vary", "temperature=1", "--vary", "guidance=1.5", "--seeds", "3",
                 "--steps", "4", *TUNE, "--out", str(again)]) == 0
    assert json.loads(again.read_text())["rows"][0]["val_fd"] == rows[3]["val_fd"]
    capsys.readouterr()
    assert main(["tune", str(checkpoint), "--vary", "temperature=1", "--vary", "guidance=1.5", "--seeds", "3,4",
                 "--steps", "4", *TUNE, "--out", str(again), "--resume"]) == 0
    measured = [line for line in capsys.readouterr().out.splitlines() if "seed=" in line]
    assert len(measured) == 1 and "seed=4" in measured[0]
    assert [r["seed"] for r in json.loads(again.read_text())["rows"]] == [3, 4]
    other = tmp_path / "other"  # rows of another checkpoint are not mistaken for this one's
    shutil.copytree(checkpoint, other)
    assert main(["tune", str(other), "--vary", "temperature=1", *TUNE, "--out", str(again), "--resume"]) == 2
    assert "cannot resume" in capsys.readouterr().err


@pytest.mark.parametrize("vary, message", [
    ("temprature=0.9", "no such sampling option"),
    ("revise=maybe", "give true or false"),
    ("guidance=high", "is not a number"),
    ("guidance", "takes NAME=V1,V2"),
    ("top_k=0,50", "--top-k must be at least 1"),
    ("top_p=1.5", "--top-p must be in (0, 1]"),
    ("temperature=-0.5", "--temperature must be at least 0"),
])
def test_tune_errors_are_one_line_before_any_sampling(checkpoint, tmp_path, capsys, vary, message):
    out = tmp_path / "t.json"
    assert main(["tune", str(checkpoint), "--vary", vary, *TUNE, "--out", str(out)]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 1 and message in errors[0] and not out.exists()


def test_tune_on_text_says_it_needs_a_judge(tmp_path, capsys):
    ckpt = tmp_path / "text"
    assert main(["train", "--data", "probe", "--strategy", "mask-predict", "--steps", "2", *TRAIN,
                 "--out", str(ckpt)]) == 0
    capsys.readouterr()
    assert main(["tune", str(ckpt), "--vary", "temperature=1", *TUNE, "--out", str(tmp_path / "t.json")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 1 and "Fréchet distance in a judge's features" in errors[0]
