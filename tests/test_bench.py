import json

from genstrat.cli import main

REQUIRED = {"data", "strategy", "steps", "nfe", "latency_b1_s", "throughput_per_s", "fd", "agree"}


def test_bench_on_a_tiny_budget(tmp_path):
    out = tmp_path / "bench"
    code = main(["bench", "--data", "digits", "--strategies", "ar,nar,mask-predict,latent,coarse-to-fine,diffusion", "--steps", "1,2", "--train-steps", "3",
                 "--size", "tiny", "--batch-size", "16", "--n", "40", "--judge-steps", "200", "--throughput-batch", "20",
                 "--out", str(out), "--no-progress"])
    assert code == 0
    rows = json.loads((out / "results.json").read_text())
    by = {(r["strategy"], r.get("steps")) for r in rows}
    assert {("real", None), ("independent", None), ("ar", 64), ("nar", 1), ("mask-predict", 1), ("mask-predict", 2),
            ("latent", 1), ("coarse-to-fine", 4), ("diffusion", 200), ("diffusion", 50), ("diffusion", 20), ("diffusion", 2)} <= by
    samplers = {(r["sampler"], r["steps"]) for r in rows if r["strategy"] == "diffusion"}
    assert samplers == {("ddpm", 200), ("ddim", 50), ("dpm-solver", 1), ("dpm-solver", 2), ("dpm-solver", 20)}
    for r in rows:
        if r["strategy"] not in ("real", "independent"):
            assert REQUIRED <= set(r), r
            assert r["latency_b1_s"] > 0 and r["throughput_per_s"] > 0 and 0 <= r["agree"] <= 1 and r["fd"] >= 0
            assert (out / r["grid"]).is_file()
    ar = next(r for r in rows if r["strategy"] == "ar")
    assert ar["nfe"] == 64 and ar["nll_bits_per_unit"] > 0
    assert next(r for r in rows if r["strategy"] == "real")["judge_test_accuracy"] > 0.5
    report = (out / "report.md").read_text()
    assert "quality_vs_latency.png" in report and "n = 40" in report
    assert (out / "quality_vs_latency.png").is_file()
    meta = json.loads((out / "meta.json").read_text())
    assert set(meta["versions"]) == {"ar", "nar", "mask-predict", "latent", "coarse-to-fine", "diffusion"}
    assert all((out / strip).is_file() for strip in meta["versions"].values())
    assert "## Versions" in report
    assert main(["report", str(out)]) == 0


def test_an_interrupted_bench_resumes_where_it_stopped(tmp_path, monkeypatch):
    """Rows measured before an interruption are kept, finished trainings and auto-encoders are not redone, only
    the missing rows are measured; a resume under other settings is refused with one clear line."""
    import pytest

    import genstrat.bench.run as run
    from genstrat.errors import GenstratError
    from genstrat.train import Budget

    out, calls = tmp_path / "bench", []
    real_sample_all = run.sample_all

    def counting(*args, **kwargs):
        calls.append(args[0].name)
        if len(calls) == 3 and stop_at_third:
            raise KeyboardInterrupt
        return real_sample_all(*args, **kwargs)

    monkeypatch.setattr(run, "sample_all", counting)
    settings = dict(budget=Budget(steps=3), size="tiny", batch_size=16, n=20, judge_steps=100, throughput_batch=10,
                    progress=False, latency_repeats=1)
    strategies = ["ar", "two-stage:ar", "two-stage:mask-predict"]
    stop_at_third = True
    with pytest.raises(KeyboardInterrupt):  # stops in two-stage:mask-predict's first row
        run.run_bench("digits", strategies, [1, 2], out, **settings)
    assert (out / "rows" / "ar.json").is_file() and (out / "rows" / "two-stage-ar.json").is_file()
    assert not (out / "rows" / "two-stage-mask-predict.json").exists()
    kept = json.loads((out / "rows" / "ar.json").read_text())["rows"]
    stamp = (out / "autoencoders" / "fsq" / "model.safetensors").stat().st_mtime_ns

    stop_at_third, calls[:] = False, []
    rows = run.run_bench("digits", strategies, [1, 2], out, resume=True, **settings)
    assert calls == ["two-stage:mask-predict", "two-stage:mask-predict"]  # only the missing rows were sampled
    assert [r for r in rows if r["strategy"] == "ar"] == kept
    assert [r["strategy"] for r in rows].count("reconstruction:fsq") == 1
    assert [r["strategy"] for r in rows].count("two-stage:ar") == 1
    assert [r["steps"] for r in rows if r["strategy"] == "two-stage:mask-predict"] == [1, 2]
    assert (out / "autoencoders" / "fsq" / "model.safetensors").stat().st_mtime_ns == stamp  # not retrained
    assert json.loads((out / "meta.json").read_text())["resumed"] == 1

    calls[:] = []
    again = run.run_bench("digits", strategies, [1, 2], out, resume=True, **settings)
    assert calls == [] and [r["fd"] for r in again] == [r["fd"] for r in rows]
    with pytest.raises(GenstratError, match=r"other settings \(steps\)"):
        run.run_bench("digits", strategies, [1, 4], out, resume=True, **settings)
    with pytest.raises(GenstratError, match="holds no bench"):
        run.run_bench("digits", strategies, [1, 2], tmp_path / "empty", resume=True, **settings)
    run.run_bench("digits", ["ar"], [1], out, **settings)  # without --resume: a fresh run, earlier rows dropped
    assert not (out / "rows" / "two-stage-ar.json").exists()


def test_pareto_front():
    from genstrat.report.plot import pareto_front

    points = [(1, 10), (2, 5), (3, 7), (0.5, 20), (4, 1)]
    assert pareto_front(points) == [3, 0, 1, 4]


def test_frechet_distance_properties():
    import torch

    from genstrat.eval.frechet import frechet_distance

    g = torch.Generator().manual_seed(0)
    a = torch.randn(2000, 4, generator=g)
    b = torch.randn(2000, 4, generator=g)
    assert frechet_distance(a, b) < 0.05
    assert abs(frechet_distance(a, a + 3.0) - 36.0) < 0.01  # |mu_a - mu_b|^2 with equal covariances
    assert frechet_distance(a, 2 * b) > 3.0
