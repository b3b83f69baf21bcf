"""The peers (genstrat/peers/): the GPT-2 twin is our AR network, and `bench --peers` adds their rows."""

import importlib.util
import json

import pytest
import torch

from genstrat import api
from genstrat.errors import GenstratError
from genstrat.data import load_dataset
from genstrat.training.model_io import build_model
from genstrat.peers import peer_rows
from genstrat.peers.gpt2_decoding import gpt2_twin
from genstrat.benchmark.config import BenchConfig
from genstrat.training.loop import Budget
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


def test_a_peer_that_cannot_run_says_why(monkeypatch, tmp_path):
    monkeypatch.setattr("genstrat.peers.missing", lambda package: f"{package} is not installed")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)  # as where the vision peers are not
    config = BenchConfig(data="digits", strategies=("ar", "diffusion", "two-stage:mask-predict"),
                         budget=Budget(steps=1), size="tiny", peers=True)
    rows = {r["strategy"]: r for r in peer_rows(load_dataset("digits"), tmp_path, config, evaluator=object())}
    assert all(r["peer"] for r in rows.values())
    assert rows["transformers:gpt2"]["reason"] == "transformers is not installed"
    assert rows["diffusers:unet2d"]["reason"] == "diffusers is not installed"
    for peer in ("k-diffusion", "muse-maskgit"):  # each says why, in one line, and where it runs
        assert "torchvision" in rows[peer]["reason"] and "make peers-env" in rows[peer]["reason"]
    chosen = BenchConfig(data="digits", strategies=("ar", "diffusion"), budget=Budget(steps=1), peers=("k-diffusion",))
    assert [r["strategy"] for r in peer_rows(load_dataset("digits"), tmp_path, chosen, evaluator=object())] == [
        "k-diffusion"]  # --peers NAMES: only those
    with pytest.raises(GenstratError, match="unknown peer 'nope' in --peers; choose from: transformers:gpt2"):
        BenchConfig(data="digits", strategies=("ar",), budget=Budget(steps=1), peers=("nope",))


def test_bench_with_peers_adds_decoding_and_unet_rows(monkeypatch, tmp_path):
    """`bench --peers` beside ar and diffusion: GPT-2's decoding-speed rows, and both diffusers U-Nets trained their
    way and measured at every sampler through the bench's own measure (n, judge, timing); a resumed run keeps the
    U-Nets' rows without training them again."""
    monkeypatch.setattr("genstrat.peers.diffusers_unet.SAMPLERS", {"ddim": (2,), "dpm-solver++": (3,)})
    monkeypatch.setattr("genstrat.peers.gpt2_decoding.FAST", False)  # the compiled paths: decode-floor's, and slow
    settings = dict(train_steps=2, steps=[1], n=20, size="tiny", judge_steps=5, throughput_batch=4, latency_repeats=1,
                    progress=False, peers=True, overrides={"sampler": "dpm-solver"})
    rows = api.bench("digits", ["ar", "diffusion"], tmp_path / "b", **settings)
    ours, theirs = [r for r in rows if r.get("measure") == "decoding speed"]
    assert ours["strategy"] == "ar" and not ours["peer"] and theirs == {**theirs, "strategy": "transformers:gpt2",
                                                                        "peer": True}
    for row in (ours, theirs):
        assert row["tokens_per_s_b1"] > 0 and row["tokens_per_s_b64"] > 0 and row["tokens"] == 64
    assert ours["weights"].startswith("copied")
    assert abs(ours["speed_ratio_b1"] - ours["tokens_per_s_b1"] / theirs["tokens_per_s_b1"]) < 0.01
    peers = [r for r in rows if r["strategy"] == "diffusers:unet2d"]
    assert {(r["size"], r["sampler"], r["nfe"]) for r in peers} == {
        (size, sampler, nfe) for size in ("matched", "course") for sampler, nfe in (("ddim", 2), ("dpm-solver++", 3))}
    for r in peers:
        assert r["peer"] and r["n"] == 20 and r["fd"] >= 0 and 0 <= r["agree"] <= 1 and r["train_steps"] == 2
        assert (tmp_path / "b" / r["grid"]).is_file()
    report = (tmp_path / "b" / "report.md").read_text()
    assert "## Peers" in report and "transformers:gpt2" in report and "diffusers:unet2d" in report
    monkeypatch.setattr("genstrat.peers.diffusers_unet.train_unet", None)  # a resume must not train again
    again = api.bench("digits", ["ar", "diffusion"], tmp_path / "b", resume=True, **settings)
    assert [r["fd"] for r in again if r["strategy"] == "diffusers:unet2d"] == [r["fd"] for r in peers]


def test_matched_unet_has_our_diffusion_backbones_size():
    """On MNIST's 28 x 28, the `matched` U-Net's parameter count is within a quarter of our `small` diffusion
    backbone's, and the `course` U-Net is the diffusion course's 32-64-64 network with attention."""
    from genstrat.peers.diffusers_unet import matched_width, unet
    from genstrat.units import PixelUnits

    units = PixelUnits(channels=1, height=28, width=28, levels=256)
    ours = build_model(get_strategy("diffusion", units), 10, size="small").num_params()
    matched = unet("matched", units.shape, 10, matched_width(ours, units.shape, 10))
    assert 0.8 < matched.num_parameters() / ours < 1.25
    course = unet("course", units.shape, 10)
    assert course.config.block_out_channels == (32, 64, 64) and "AttnDownBlock2D" in course.config.down_block_types


VISION_PEERS_HERE = all(importlib.util.find_spec(p) is not None for p in ("k_diffusion", "muse_maskgit_pytorch"))


@pytest.mark.skipif(not VISION_PEERS_HERE, reason="k-diffusion and muse-maskgit run in .venv-peers (make test-peers)")
def test_k_diffusion_samplers_and_maskgit_measured_beside_ours(monkeypatch, tmp_path):
    """In the peers environment: k-diffusion's three samplers (from two top sigmas) over the bench's trained diffusion
    model, and MaskGIT trained over the bench's codes for the updates our prior had, each judged and timed as our rows
    are (same n, conditions, judge); a resumed bench keeps their rows without sampling or training again."""
    from genstrat.cli import main

    monkeypatch.setattr("genstrat.peers.k_diffusion_samplers.STEPS", (3,))
    monkeypatch.setattr("genstrat.peers.diffusers_unet.SAMPLERS", {"ddim": (2,)})
    args = ["bench", "--data", "digits", "--strategies", "diffusion,two-stage:mask-predict", "--steps", "2",
            "--train-steps", "3", "--ae-steps", "5", "--n", "20", "--size", "tiny", "--judge-steps", "5",
            "--throughput-batch", "10", "--latency-repeats", "1", "--peers", "--out", str(tmp_path / "b"),
            "--no-progress"]
    assert main(args) == 0
    rows = json.loads((tmp_path / "b" / "results.json").read_text())
    kdiff = [r for r in rows if r["strategy"].startswith("k-diffusion:")]
    assert {r["strategy"] for r in kdiff} == {"k-diffusion:sample_dpmpp_2m", "k-diffusion:sample_dpmpp_2m_sde",
                                              "k-diffusion:sample_euler_ancestral"}
    # each sampler from the model's own top sigma and from EDM's sigma_max = 80
    assert len(kdiff) == 6 and sorted(r["sigma_max"] or 0 for r in kdiff) == [0, 0, 0, 80, 80, 80]
    maskgit = [r for r in rows if r["strategy"] == "muse-maskgit"]
    assert len(maskgit) == 2 and all(r["nfe"] == 8 for r in maskgit)  # its defaults, then our settings
    assert [(r["guidance"], r["topk_filter_thres"]) for r in maskgit] == [(3.0, 0.9), (1.2, 0.0)]
    ours = next(r for r in rows if r["strategy"] == "two-stage:mask-predict")
    assert maskgit[0]["train_steps"] == ours["train_steps"] == 3
    for r in [*kdiff, *maskgit]:
        assert r["peer"] and r["n"] == 20 and r["fd"] >= 0 and 0 <= r["agree"] <= 1 and "reason" not in r
        assert (tmp_path / "b" / r["grid"]).is_file()
    assert all(r["nfe"] == 3 for r in kdiff)
    monkeypatch.setattr("genstrat.peers.muse_maskgit.train_maskgit", None)  # a resume must not train again
    assert main([*args, "--resume"]) == 0
    again = json.loads((tmp_path / "b" / "results.json").read_text())
    assert [r["fd"] for r in again if r.get("peer") and "fd" in r] == [r["fd"] for r in rows if r.get("peer")
                                                                       and "fd" in r]
