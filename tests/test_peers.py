"""The peers (genstrat/peers/): the GPT-2 twin is our AR network, and `bench --peers` adds their rows."""

import json

import torch

from genstrat import api
from genstrat.data import load_dataset
from genstrat.model_io import build_model
from genstrat.peers import peer_rows
from genstrat.peers.gpt2_decoding import gpt2_twin
from genstrat.benchmark.config import BenchConfig
from genstrat.training import Budget
from genstrat.strategies import get_strategy


def test_gpt2_twin_computes_our_logits():
    data = load_dataset("digits")
    strategy = get_strategy("ar", data.units)
    torch.manual_seed(0)
    model = build_model(strategy, data.num_classes, size="tiny").eval()
    for p in model.parameters():  # trained-looking weights, not the zero biases of a fresh model
        torch.nn.init.normal_(p, std=0.1)
    twin = gpt2_twin(model)
    units, labels = data.train_units[:3].long(), data.train_labels[:3].long()
    with torch.no_grad():
        ours = model(units[:, :-1], labels) - model.head.bias
        prompt = torch.cat([(labels + model.cfg.vocab_size + 1)[:, None], units[:, :-1]], dim=1)
        theirs = twin(prompt).logits[..., : model.cfg.vocab_size]
    torch.testing.assert_close(theirs, ours, atol=1e-4, rtol=1e-4)


def test_bench_with_peers_adds_decoding_rows(tmp_path):
    rows = api.bench("digits", ["ar"], tmp_path / "b", train_steps=2, steps=[1], n=20, size="tiny",
                     judge_steps=5, throughput_batch=4, latency_repeats=1, progress=False, peers=True)
    ours, theirs = [r for r in rows if r.get("measure") == "decoding speed"]
    assert ours["strategy"] == "ar" and not ours["peer"] and theirs == {**theirs, "strategy": "transformers:gpt2",
                                                                        "peer": True}
    for row in (ours, theirs):
        assert row["tokens_per_s_b1"] > 0 and row["tokens_per_s_b64"] > 0 and row["tokens"] == 64
    assert ours["weights"].startswith("copied")
    assert abs(ours["speed_ratio_b1"] - ours["tokens_per_s_b1"] / theirs["tokens_per_s_b1"]) < 0.01
    report = (tmp_path / "b" / "report.md").read_text()
    assert "## Peers" in report and "transformers:gpt2" in report
    assert json.loads((tmp_path / "b" / "results.json").read_text())[-1]["strategy"] == "transformers:gpt2"


def test_a_peer_that_cannot_run_says_why(monkeypatch, tmp_path):
    monkeypatch.setattr("genstrat.peers.missing", lambda package: f"{package} is not installed")
    config = BenchConfig(data="digits", strategies=("ar", "diffusion", "two-stage:mask-predict"),
                         budget=Budget(steps=1), size="tiny")
    rows = {r["strategy"]: r for r in peer_rows(load_dataset("digits"), tmp_path, config, evaluator=object())}
    assert all(r["peer"] for r in rows.values())
    assert rows["transformers:gpt2"]["reason"] == "transformers is not installed"
    assert rows["diffusers:unet2d"]["reason"] == "diffusers is not installed"
    for peer in ("k-diffusion", "muse-maskgit"):  # each says why, in one line
        assert "torchvision" in rows[peer]["reason"] or "imports here" in rows[peer]["reason"]


def test_diffusers_unet_peer_is_trained_judged_and_kept(monkeypatch, tmp_path):
    """`bench --peers` beside a diffusion row trains both U-Nets the diffusers way and measures each sampler through
    the bench's own measure (n, judge, timing); a resumed run keeps their rows without training again."""
    monkeypatch.setattr("genstrat.peers.diffusers_unet.SAMPLERS", {"ddim": (2,), "dpm-solver++": (3,)})
    settings = dict(train_steps=2, steps=[2], n=20, size="tiny", judge_steps=5, throughput_batch=10,
                    latency_repeats=1, progress=False, peers=True)
    rows = api.bench("digits", ["diffusion"], tmp_path / "b", **settings)
    peers = [r for r in rows if r["strategy"] == "diffusers:unet2d"]
    assert {(r["size"], r["sampler"], r["nfe"]) for r in peers} == {
        (size, sampler, nfe) for size in ("matched", "course") for sampler, nfe in (("ddim", 2), ("dpm-solver++", 3))}
    for r in peers:
        assert r["peer"] and r["n"] == 20 and r["fd"] >= 0 and 0 <= r["agree"] <= 1 and r["train_steps"] == 2
        assert (tmp_path / "b" / r["grid"]).is_file()
    matched = next(r for r in peers if r["size"] == "matched")
    assert 0.5 < matched["params"] / matched["ours_params"] < 2
    monkeypatch.setattr("genstrat.peers.diffusers_unet.train_unet", None)  # a resume must not train again
    again = api.bench("digits", ["diffusion"], tmp_path / "b", resume=True, **settings)
    assert [r["fd"] for r in again if r["strategy"] == "diffusers:unet2d"] == [r["fd"] for r in peers]
