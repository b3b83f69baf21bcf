import json
import subprocess
import sys

import pytest

from genstrat.cli import main


def run_cli(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        code = main(argv)
        raise SystemExit(code)
    err = capsys.readouterr().err
    return exc.value.code, err


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    ckpt = tmp_path_factory.mktemp("ck") / "ar"
    assert main(["train", "--data", "digits", "--strategy", "ar", "--steps", "2", "--size", "tiny", "--out", str(ckpt),
                 "--no-progress"]) == 0
    return ckpt


@pytest.mark.parametrize("argv, message", [
    (["train", "--data", "cifar99", "--strategy", "ar", "--steps", "1", "--out", "x"], "unknown dataset 'cifar99'"),
    (["train", "--data", "digits", "--strategy", "vqgan", "--steps", "1", "--out", "x"], "unknown strategy 'vqgan'"),
    (["train", "--data", "imagefolder:", "--strategy", "ar", "--steps", "1", "--out", "x"], "needs a path"),
    (["bench", "--data", "digits", "--strategies", "ar,bogus", "--train-steps", "1", "--out", "x"],
     "unknown strategy 'bogus'"),
    (["train", "--data", "mnist", "--data-dir", "/nonexistent/mnist", "--strategy", "ar", "--steps", "1", "--out", "x"],
     "does not exist"),
    (["sample", "/nonexistent/ckpt", "--label", "1"], "does not exist"),
    (["bench", "--data", "digits", "--strategies", "ar", "--train-steps", "1", "--peers", "gpt2", "--out", "x"],
     "unknown peer 'gpt2' in --peers; choose from: transformers:gpt2, diffusers:unet2d, k-diffusion, muse-maskgit"),
])
def test_one_line_errors(capsys, argv, message):
    code, err = run_cli(capsys, argv)
    assert code == 2
    assert message in err
    assert err.startswith("genstrat: error:") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["sample", "CKPT", "--label", "1", "--steps", "0"],
    ["sample", "CKPT", "--label", "1", "--n", "-3"],
    ["train", "--data", "digits", "--strategy", "ar", "--steps", "0", "--out", "x"],
    ["train", "--data", "digits", "--strategy", "ar", "--minutes", "abc", "--out", "x"],
    ["train", "--data", "digits", "--strategy", "ar", "--out", "x"],
    ["bench", "--data", "digits", "--steps", "1,0", "--train-steps", "1", "--out", "x"],
    ["frobnicate"],
])
def test_argument_errors(capsys, argv):
    code, err = run_cli(capsys, argv)
    assert code == 2 and "error:" in err and "Traceback" not in err


def test_label_out_of_range(capsys, checkpoint):
    code, err = run_cli(capsys, ["sample", str(checkpoint), "--label", "10"])
    assert code == 2 and "out of range" in err and "0..9" in err


def test_corrupt_checkpoints(capsys, checkpoint, tmp_path):
    import shutil

    broken = tmp_path / "truncated"
    shutil.copytree(checkpoint, broken)
    data = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[: len(data) // 2])
    code, err = run_cli(capsys, ["sample", str(broken), "--label", "1"])
    assert code == 2 and "truncated or corrupt" in err

    badjson = tmp_path / "badjson"
    shutil.copytree(checkpoint, badjson)
    (badjson / "config.json").write_text("{not json")
    code, err = run_cli(capsys, ["sample", str(badjson), "--label", "1"])
    assert code == 2 and "not valid JSON" in err

    mismatch = tmp_path / "mismatch"
    shutil.copytree(checkpoint, mismatch)
    config = json.loads((mismatch / "config.json").read_text())
    config["backbone"]["d_model"] = 64
    (mismatch / "config.json").write_text(json.dumps(config))
    code, err = run_cli(capsys, ["sample", str(mismatch), "--label", "1"])
    assert code == 2 and "do not match" in err

    missing = tmp_path / "missing"
    shutil.copytree(checkpoint, missing)
    (missing / "model.safetensors").unlink()
    code, err = run_cli(capsys, ["sample", str(missing), "--label", "1"])
    assert code == 2 and "missing" in err


def test_console_script_exit_status(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "genstrat", "train", "--data", "nope", "--strategy", "ar",
                           "--steps", "1", "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("genstrat: error: unknown dataset 'nope'; choose one of: digits, fsdd, mnist, "
                                   "names, probe, shakespeare, spoken, imagefolder:PATH, textfile:PATH, "
                                   "audiofolder:PATH")
