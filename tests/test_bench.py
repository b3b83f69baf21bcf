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
