"""Training precision chosen by measurement, and every run's cost recorded (updates per second, counted GFLOP)."""

import torch

import genstrat.training.precision as precision
from genstrat.training.model_io import build_model
from genstrat.strategies import get_strategy
from genstrat.training.loop import Budget, train


def tiny(name, digits):
    torch.manual_seed(0)
    strategy = get_strategy(name, digits.units)
    return strategy, build_model(strategy, digits.num_classes, size="tiny")


def test_auto_keeps_fp32_without_bf16_units_and_says_why(digits, monkeypatch):
    monkeypatch.setattr(precision, "cpu_flags", lambda: ["avx2", "fma"])
    strategy, model = tiny("ar", digits)
    summary = train(strategy, model, digits, Budget(steps=3), batch_size=8, progress=False)
    assert summary["precision"] == "fp32" and "no bf16 matrix units" in summary["reason"]
    assert summary["updates_per_s"] > 0 and summary["step_gflop"] > 0
    assert abs(summary["gflops_per_s"] - summary["step_gflop"] * summary["updates_per_s"]) < 0.01 + 0.01 * summary[
        "gflops_per_s"]


def test_auto_times_both_and_keeps_bf16_only_when_faster_and_agreeing(digits, monkeypatch):
    monkeypatch.setattr(precision, "has_bf16_units", lambda device: True)
    strategy, model = tiny("mask-predict", digits)
    batches = [digits.train_batch(8, torch.Generator().manual_seed(i)) for i in range(6)]
    rates = {"fp32": (10.0, 2.0, 0.1), "bf16": (25.0, 2.01, 0.05)}  # (updates/s, first loss, first step's s)
    monkeypatch.setattr(precision, "probe_rate", lambda s, m, b, p, give_up_s=None: rates[p])
    assert precision.choose_precision("auto", strategy, model, batches).precision == "bf16"
    rates["bf16"] = (10.5, 2.01, 0.1)  # not faster enough
    assert precision.choose_precision("auto", strategy, model, batches).precision == "fp32"
    rates["bf16"] = (25.0, 2.5, 0.05)  # faster, but its loss disagrees
    choice = precision.choose_precision("auto", strategy, model, batches)
    assert choice.precision == "fp32" and "disagreed" in choice.reason
    rates["bf16"] = (0.2, 2.0, 5.0)  # its first step alone took 50x fp32's: the probe gave up there
    choice = precision.choose_precision("auto", strategy, model, batches)
    assert choice.precision == "fp32" and "first step took 5.0 s" in choice.reason
    # a step so slow that timing both would eat more than a tenth of a 60 s budget: not timed at all
    rates["fp32"] = (0.5, 2.0, 2.0)
    choice = precision.choose_precision("auto", strategy, model, batches, budget_s=60)
    assert choice.precision == "fp32" and choice.reason.startswith("not timed: one fp32 step took 2.0 s")
    # and one whose scout (a step on two rows, scaled to the batch) already says so: no full step is run at all
    monkeypatch.setattr(precision, "scouted_step_seconds", lambda *args: 10.0)
    choice = precision.choose_precision("auto", strategy, model, batches, budget_s=60)
    assert choice.reason.startswith("not timed: one fp32 step would take about 10.0 s") and choice.rates == {}
    assert precision.choose_precision("bf16", strategy, model, batches).precision == "bf16"  # forced
    assert precision.choose_precision("auto", strategy, model, batches, deterministic=True).precision == "fp32"


def test_the_probe_leaves_training_exactly_as_without_it(digits, monkeypatch):
    """The probe trains copies on batches of its own and restores every generator: a run that probed and kept fp32
    ends with bit-for-bit the weights of a plain fp32 run."""
    strategy, plain = tiny("mask-predict", digits)
    train(strategy, plain, digits, Budget(steps=4), batch_size=8, progress=False, precision="fp32")
    monkeypatch.setattr(precision, "has_bf16_units", lambda device: True)
    monkeypatch.setattr(precision, "SPEEDUP_NEEDED", 1e9)  # it probes, then keeps fp32
    strategy, probed = tiny("mask-predict", digits)
    summary = train(strategy, probed, digits, Budget(steps=4), batch_size=8, progress=False)
    assert summary["precision"] == "fp32" and set(summary["probe_updates_per_s"]) == {"fp32", "bf16"}
    for a, b in zip(plain.state_dict().values(), probed.state_dict().values()):
        assert torch.equal(a, b)


def test_step_flops_include_attention_on_the_cpu(digits):
    """Counted, not guessed: the matrix products of the step (about 6 x weights x tokens) plus attention, which
    torch's counter would miss on a CPU without the CPU kernel's formula."""
    from torch.utils.flop_counter import FlopCounterMode

    strategy, model = tiny("ar", digits)
    units, cond = digits.train_batch(8, torch.Generator().manual_seed(0))
    counted = precision.step_gflop(strategy, model, units, cond)
    plain = FlopCounterMode(display=False)
    with plain:
        strategy.loss(model, units, cond).backward()
    assert counted > plain.get_total_flops() / 1e9 > 0
    weights = sum(p.numel() for n, p in model.named_parameters() if p.dim() == 2 and "emb" not in n)
    assert counted > 6 * weights * 8 * 64 / 1e9 * 0.9
    # counted on two rows and scaled: the same as counting the whole batch (every counted operation is linear in it)
    whole = FlopCounterMode(display=False, custom_mapping=precision.cpu_attention_flops())
    with whole:
        strategy.loss(model, units, cond).backward()
    assert abs(counted - whole.get_total_flops() / 1e9) < 1e-6 * counted


def test_throughput_through_the_api_writes_its_rows_and_refuses_bad_runs_in_one_line(tmp_path, capsys):
    import json

    from genstrat.cli import main

    out = tmp_path / "t.json"
    assert main(["throughput", "--data", "digits", "--strategies", "ar", "--train-steps", "2", "--runs",
                 "fp32:plain", "--size", "tiny", "--out", str(out), "--no-progress"]) == 0
    rows = json.loads(out.read_text())
    assert [(r["strategy"], r["requested"], r["optimizer"]) for r in rows] == [("ar", "fp32", "plain")]
    assert rows[0]["updates_per_s"] > 0 and rows[0]["step_gflop"] > 0
    assert main(["throughput", "--data", "digits", "--runs", "fp64:plain", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genstrat: error: --runs: cannot read fp64:plain")
