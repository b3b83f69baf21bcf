"""`bench --trained FOLDER`: an earlier bench's trained models are loaded, not trained, and measured live; each row
says which. Per-strategy budgets (``budgets``) give one strategy its own updates."""

import json

import pytest

from genstrat import api
from genstrat.cli import main
from genstrat.errors import GenstratError

TINY = {"size": "tiny", "batch_size": 8, "n": 30, "judge_steps": 50, "throughput_batch": 10, "latency_repeats": 1,
        "progress": False}


def rows_of(folder):
    return json.loads((folder / "results.json").read_text())


def test_a_bench_loads_the_models_an_earlier_bench_trained_and_trains_only_the_rest(tmp_path):
    first = tmp_path / "first"
    api.bench("digits", ["nar", "two-stage:ar"], first, train_steps=2, steps=[1], budgets={"nar": {"steps": 5}},
              **TINY)
    trained = {(r["strategy"], r.get("series")): r for r in rows_of(first)}
    assert trained[("nar", "nar")]["train_steps"] == 5 and trained[("two-stage:ar", "two-stage:ar")]["train_steps"] == 2
    assert trained[("nar", "nar")]["trained"] == "here"

    second = tmp_path / "second"
    api.bench("digits", ["nar", "two-stage:ar", "mask-predict"], second, train_steps=3, steps=[1], trained=str(first),
              **TINY)
    rows = {(r["strategy"], r.get("series")): r for r in rows_of(second)}
    for key in [("nar", "nar"), ("nar", "nar mode"), ("two-stage:ar", "two-stage:ar")]:
        assert rows[key]["trained"] == "loaded" and rows[key]["train_steps"] == trained[key]["train_steps"]
        assert rows[key]["fd"] == trained[key]["fd"]  # the same weights, the same seeded samples, the same judge
        assert rows[key]["loaded_from"].endswith(key[0].replace(":", "-"))
    assert rows[("mask-predict", "mask-predict")]["trained"] == "here"
    assert rows[("mask-predict", "mask-predict")]["train_steps"] == 3
    # the auto-encoder was used as trained there (its reconstructions judged here), not trained again
    reconstruction = rows[("reconstruction:fsq", None)]
    assert reconstruction["ae_given"] == str(first / "autoencoders" / "fsq")
    assert not (second / "checkpoints" / "nar").exists()


def test_a_trained_folder_on_other_data_or_an_unknown_name_is_refused_before_any_work(tmp_path, capsys):
    first = tmp_path / "first"
    api.bench("digits", ["nar"], first, train_steps=1, steps=[1], **TINY)
    with pytest.raises(GenstratError, match="was trained on digits"):
        api.bench("digits", ["nar"], tmp_path / "other", train_steps=1, steps=[1], trained=str(first), levels=4,
                  **TINY)
    assert main(["bench", "--data", "digits", "--strategies", "nar", "--train-steps", "1", "--trained",
                 "demo-nowhere", "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--trained demo-nowhere" in err[0] and "shipped" in err[0]
    assert not (tmp_path / "x").exists()


def test_a_budget_for_a_strategy_the_bench_does_not_run_is_refused(tmp_path):
    with pytest.raises(GenstratError, match="budget is given for ar, which this bench does not run"):
        api.bench("digits", ["nar"], tmp_path / "b", train_steps=1, budgets={"ar": {"steps": 2}}, **TINY)
    with pytest.raises(GenstratError, match="budget of nar must be"):
        api.bench("digits", ["nar"], tmp_path / "b", train_steps=1, budgets={"nar": {"epochs": 2}}, **TINY)
