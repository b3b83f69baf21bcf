import json

from genstrat.cli import main

REQUIRED = {"data", "strategy", "steps", "nfe", "latency_b1_s", "step_s_b1", "floor_s_b1", "throughput_per_s", "fd",
            "agree"}


def test_bench_on_a_tiny_budget(tmp_path):
    out = tmp_path / "bench"
    code = main(["bench", "--data", "digits", "--strategies", "ar,nar,mask-predict,latent,coarse-to-fine,diffusion",
                 "--steps", "1,2", "--train-steps", "3", "--size", "tiny", "--batch-size", "16", "--n", "40",
                 "--judge-steps", "200", "--throughput-batch", "20", "--out", str(out), "--no-progress"])
    assert code == 0
    rows = json.loads((out / "results.json").read_text())
    by = {(r["strategy"], r.get("steps")) for r in rows}
    assert {("real", None), ("independent", None), ("ar", 64), ("nar", 1), ("mask-predict", 1), ("mask-predict", 2),
            ("latent", 1), ("coarse-to-fine", 4), ("diffusion", 200), ("diffusion", 50), ("diffusion", 20),
            ("diffusion", 2)} <= by
    readings = {(r["strategy"], r.get("temperature")) for r in rows if r["strategy"] in ("nar", "latent")}
    assert readings == {("nar", None), ("nar", 0.0), ("latent", None), ("latent", 0.0)}  # drawn, and read at the mode
    from genstrat.reporting.plot import series
    assert series(next(r for r in rows if r.get("temperature") == 0.0 and r["strategy"] == "latent")) == "latent mode"
    assert "| temperature |" in (out / "report.md").read_text()
    assert {r["grid"] for r in rows if r["strategy"] == "latent"} == {"samples/latent-1.png",
                                                                      "samples/latent-0.0-1.png"}
    samplers = {(r["sampler"], r["steps"]) for r in rows if r["strategy"] == "diffusion"}
    assert samplers == {("ddpm", 200), ("ddim", 50),
                        *((solver, k) for solver in ("dpm-solver", "dpm-solver-sde") for k in (1, 2, 20))}
    for r in rows:
        if r["strategy"] not in ("real", "independent"):
            assert REQUIRED <= set(r), r
            assert r["latency_b1_s"] > 0 and r["throughput_per_s"] > 0 and 0 <= r["agree"] <= 1 and r["fd"] >= 0
            assert 0 < r["floor_s_b1"] and 0 < r["step_s_b1"] <= r["latency_b1_s"] + 1e-5  # each rounded
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


def test_an_interrupted_bench_resumes_where_it_stopped(tmp_path, monkeypatch, capsys):
    """A bench stopped in the middle of a strategy's sweep and resumed gives the rows of an uninterrupted run (all but
    the timings): kept rows are not measured again, a finished auto-encoder is not retrained, each reconstruction row
    appears once, the reference rows are kept from the start; a resume under other settings, or into a folder with no
    bench, is refused with one clear line."""
    import pytest

    import genstrat.benchmark.measure as measure
    import genstrat.benchmark.run as run
    from genstrat.benchmark.config import BenchConfig
    from genstrat.errors import GenstratError
    from genstrat.training.loop import Budget

    calls, stop_at = [], [None]
    real_sample_all = measure.sample_all

    def counting(*args, **kwargs):
        calls.append(args[0].name)
        if len(calls) == stop_at[0]:
            raise KeyboardInterrupt
        return real_sample_all(*args, **kwargs)

    monkeypatch.setattr(measure, "sample_all", counting)
    settings = dict(budget=Budget(steps=3), size="tiny", batch_size=16, n=20, judge_steps=100, throughput_batch=10,
                    latency_repeats=1, precision="fp32")  # auto's choice is a timing: two runs may choose apart

    def bench(strategies, steps, out, resume=False):
        config = BenchConfig(data="digits", strategies=tuple(strategies), steps=tuple(steps), **settings)
        return run.run_bench(config, out, resume=resume, progress=False)

    strategies, steps = ["ar", "two-stage:ar", "two-stage:mask-predict", "two-stage:diffusion"], [1, 2]
    whole = bench(strategies, steps, tmp_path / "whole")

    out = tmp_path / "stopped"
    stop_at[0], calls[:] = 4, []
    with pytest.raises(KeyboardInterrupt):  # in two-stage:mask-predict's second row, before the continuous auto-encoder
        bench(strategies, steps, out)
    assert (out / "rows" / "two-stage-ar.json").is_file() and (out / "rows" / "two-stage-mask-predict").is_dir()
    kept_references = json.loads((out / "rows" / "references.json").read_text())["rows"]  # kept before any training
    assert [r["strategy"] for r in kept_references] == ["real", "independent"]
    assert [{**r, "data": "digits", "n_test": whole[0]["n_test"]} for r in kept_references] == whole[:2]
    stamp = (out / "autoencoders" / "fsq" / "model.safetensors").stat().st_mtime_ns

    stop_at[0], calls[:] = None, []
    rows = bench(strategies, steps, out, resume=True)
    assert calls == ["two-stage:mask-predict"] + ["two-stage:diffusion"] * 8  # only the missing rows were sampled
    timing = {"latency_b1_s", "throughput_per_s", "train_seconds", "ae_seconds", "ae_train_steps", "updates_per_s",
              "gflops_per_s", "step_s_b1", "floor_s_b1"}
    same = lambda table: [{k: v for k, v in r.items() if k not in timing} for r in table]  # noqa: E731
    assert same(rows) == same(whole)
    assert [r["strategy"] for r in rows].count("reconstruction:fsq") == 1
    assert (out / "autoencoders" / "fsq" / "model.safetensors").stat().st_mtime_ns == stamp  # not retrained
    assert json.loads((out / "meta.json").read_text())["resumed"] == 1

    calls[:] = []
    again = bench(strategies, steps, out, resume=True)
    assert calls == [] and same(again) == same(rows)

    # other step counts: nothing is trained again, every kept row stays, only the new step counts are sampled (the AR
    # priors' one row is at L whatever --steps asks, so they sample nothing); fewer step counts sample nothing at all
    more = bench(strategies, [1, 2, 3], out, resume=True)
    assert "two-stage:mask-predict" in calls and not {"ar", "two-stage:ar"} & set(calls)
    assert all(r in same(more) for r in same(rows)) and any(r.get("steps") == 3 for r in more)
    new = [r for r in more if r.get("steps") == 3]
    assert {r["train_steps"] for r in new} == {3}  # from the kept checkpoints, at the budget's 3 updates
    assert (out / "autoencoders" / "fsq" / "model.safetensors").stat().st_mtime_ns == stamp
    calls[:] = []
    fewer = bench(strategies, [1], out, resume=True)
    assert calls == [] and not any(r.get("steps") == 2 and r["strategy"] == "two-stage:mask-predict" for r in fewer)
    with pytest.raises(GenstratError, match=r"other settings \(n\)"):
        run.run_bench(BenchConfig(data="digits", strategies=tuple(strategies), steps=(1,), **{**settings, "n": 30}),
                      out, resume=True, progress=False)
    assert main(["bench", "--data", "digits", "--train-steps", "3", "--out", str(tmp_path / "empty"), "--resume"]) == 2
    assert "holds no bench" in capsys.readouterr().err
    bench(["ar"], [1], out)  # without resume: a fresh run, nothing earlier is kept
    assert not (out / "rows" / "two-stage-ar.json").exists() and not (out / "autoencoders").exists()


def test_a_sampling_option_added_later_and_left_unset_does_not_block_a_resume(tmp_path):
    """A folder measured before a sampling option existed (its saved overrides lack it) resumes under a genstrat that
    has the option unset; the same option set to a value is a change of settings, refused in one line."""
    import pytest

    from genstrat.benchmark.store import RowStore
    from genstrat.errors import GenstratError

    RowStore(tmp_path, {"n": 10, "overrides": {"temperature": None}}, resume=False)
    assert RowStore(tmp_path, {"n": 10, "overrides": {"temperature": None, "decode": None}}, resume=True).resumed == 1
    with pytest.raises(GenstratError, match=r"other settings \(overrides\)"):
        RowStore(tmp_path, {"n": 10, "overrides": {"temperature": None, "decode": "eager"}}, resume=True)


def test_pareto_front():
    from genstrat.reporting.plot import pareto_front

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


def test_batch_one_latency_repeats_fast_calls_for_a_while_up_to_a_cap():
    """A fast call's median of five is noisy, so calls are repeated while they have taken less than ``fill_s`` in all,
    up to ``most``; without ``fill_s``, exactly ``repeats`` (after the warm-up). Counts, not times, are checked."""
    from genstrat.eval.timing import median_seconds

    calls = []
    median_seconds(lambda: calls.append(1), repeats=5, warmup=1)
    assert len(calls) == 6
    calls.clear()
    median_seconds(lambda: calls.append(1), repeats=5, warmup=1, fill_s=60.0, most=20)
    assert len(calls) == 21  # instant calls: repeated up to the cap


def test_every_seed_of_a_bench_is_judged_by_one_judge(tmp_path, monkeypatch):
    """``--seed`` changes what is trained and drawn, not the judge: it trains at ``--judge-seed`` (default 0), so the
    rows of benches at several seeds compare. A folder written before the option (its judge trained at ``--seed``)
    records no judge seed where the two agree, and so resumes unchanged."""
    import genstrat.modalities.image as image
    from genstrat.benchmark.config import BenchConfig
    from genstrat.training.loop import Budget

    seen, fit = [], image.fit_judge
    monkeypatch.setattr(image, "fit_judge", lambda data, **kw: seen.append(kw["seed"]) or fit(data, **kw))
    for k, extra in enumerate(([], ["--judge-seed", "2"])):
        assert main(["bench", "--data", "digits", "--strategies", "nar", "--steps", "1", "--train-steps", "2", "--size",
                     "tiny", "--n", "20", "--judge-steps", "20", "--throughput-batch", "10", "--seed", "1", *extra,
                     "--out", str(tmp_path / f"bench-{k}"), "--no-progress"]) == 0
    assert seen == [0, 2]
    settings = json.loads((tmp_path / "bench-0" / "bench.json").read_text())["settings"]
    assert settings["seed"] == 1 and settings["judge_seed"] == 0
    assert "judge_seed" not in BenchConfig(data="digits", strategies=("nar",), budget=Budget(steps=1)).settings(10, {})
