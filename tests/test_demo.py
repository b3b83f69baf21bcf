"""`genstrat demo`: three benches (images, text, audio), the lecture's claims read off their rows, one page."""

import json

import pytest

import genstrat.demo as demo
from genstrat import api
from genstrat.cli import main

TINY = {"size": "tiny", "batch_size": 8, "throughput_batch": 10, "latency_repeats": 1, "judge_steps": 20}


def tiny_parts():
    """The demo's own parts (same data, same strategies, same budgets' shape), on a few training steps."""
    settings = {
        "digits": {**TINY, "n": 20},
        "probe": {**TINY, "n": 60},
        "spoken": {**TINY, "n": 10, "seconds": 0.25, "sample_rate": 4000},  # its own codec: the shipped one takes 1 s
    }
    return tuple(demo.DemoPart(p.folder, p.modality, p.data, p.strategies, train_steps=2, steps=p.steps,
                               settings={**{k: v for k, v in p.settings.items() if k != "autoencoder"},
                                         **settings[p.folder]},
                               budgets={name: 4 for name in p.budgets}, ae_steps=2, figures=p.figures)
                 for p in demo.PARTS)


# the lecture's summary (issue 37), one claim each, and one for each strategy added since
CLAIM_IDS = {"ar-beats-nar", "ar-slow", "nar-mixes", "ar-valid", "latent-fixes", "two-stage-faster", "passes-help",
             "diffusion-works", "audio-faster", "audio-intelligible", "gan-one-pass", "flow-exact",
             "next-scale-coarse-to-fine", "students-few-passes"}


def test_demo_runs_every_modality_and_reads_the_claims_off_its_rows(tmp_path, monkeypatch, capsys):
    """Trained here (--from-scratch), then a second demo that loads those models and measures them live."""
    monkeypatch.setattr(demo, "PARTS", tiny_parts())
    scratch = tmp_path / "scratch"
    assert main(["demo", "--from-scratch", "--out", str(scratch), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"demo done: open {scratch / 'index.html'}" in printed
    saved = json.loads((scratch / "claims.json").read_text())
    claims = saved["claims"]
    assert saved["from_scratch"] is True
    assert {c["id"] for c in claims} == CLAIM_IDS == {name for name, _ in demo.CLAIMS}
    assert all(isinstance(c["holds"], bool) for c in claims)
    assert all(c["claim"] in printed and c["id"] in printed for c in claims)
    for part in demo.PARTS:
        rows = json.loads((scratch / part.folder / "results.json").read_text())
        assert set(part.strategies) <= {r["strategy"] for r in rows}
        assert all(r["trained"] == "here" for r in rows if r["strategy"] in part.strategies)
    page = (scratch / "index.html").read_text(encoding="utf-8")
    assert "The lecture&#x27;s claims" in page or "The lecture's claims" in page
    assert page.count('<section class="bench"') == 3 and "<audio" in page
    # the first screen: the lecture's table, in its words, before the claims
    assert page.index("step by step") < page.index("claims, read off this demo")
    assert "all at once" in page and "a few passes" in page and "here, 2 updates" in page

    loaded = tmp_path / "loaded"
    page, claims = api.demo(loaded, progress=False, trained=scratch)  # the API's door to the same demo
    for part in demo.PARTS:
        rows = json.loads((loaded / part.folder / "results.json").read_text())
        mine = [r for r in rows if r["strategy"] in part.strategies]
        assert mine and all(r["trained"] == "loaded" for r in mine)
        assert not (loaded / part.folder / "checkpoints").exists() or not any(
            (loaded / part.folder / "checkpoints").rglob("model.safetensors"))
    assert "loaded, 2 updates" in page.read_text(encoding="utf-8")


def test_demo_refuses_an_unwritable_folder_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["demo", "--out", str(blocker / "demo")]) == 2
    assert "cannot write" in capsys.readouterr().err


@pytest.mark.parametrize("claim", [claim for _, claim in demo.CLAIMS], ids=[name for name, _ in demo.CLAIMS])
def test_a_claim_that_misses_says_so(claim):
    rows = {
        "probe": [{"strategy": "ar", "valid": 0.5, "mixed": 0.2, "series": "ar"},
                  {"strategy": "nar", "series": "nar", "valid": 0.1, "mixed": 0.3},
                  {"strategy": "latent", "series": "latent", "valid": 0.1, "mixed": 0.3}],
        "digits": [{"strategy": "independent", "fd": 5.0},
                   {"strategy": "ar", "steps": 64, "nfe": 64, "fd": 30.0, "latency_b1_s": 0.01, "nll_bits_per_unit": 1},
                   {"strategy": "nar", "series": "nar", "steps": 1, "nfe": 1, "fd": 20.0, "latency_b1_s": 0.002},
                   {"strategy": "mask-predict", "steps": 1, "fd": 10.0, "fd_ci": [9, 11]},
                   {"strategy": "mask-predict", "steps": 8, "fd": 20.0, "fd_ci": [19, 21]},
                   {"strategy": "diffusion", "steps": 2, "nfe": 2, "fd": 8.0},
                   {"strategy": "distilled:diffusion", "steps": 2, "nfe": 2, "fd": 9.0},
                   {"strategy": "gan", "steps": 1, "nfe": 1, "fd": 40.0},
                   {"strategy": "flow", "steps": 64, "nfe": 64, "fd": 40.0, "nll_bits_per_unit": 2},
                   {"strategy": "two-stage:ar", "steps": 16, "nfe": 16, "fd": 50.0, "latency_b1_s": 0.005},
                   {"strategy": "two-stage:next-scale", "steps": 3, "nfe": 3, "fd": 40.0, "latency_b1_s": 0.006}],
        "spoken": [{"strategy": "ar", "latency_b1_s": 0.01, "nfe": 8000},
                   {"strategy": "reconstruction:fsq", "agree": 0.5},
                   {"strategy": "two-stage:ar", "latency_b1_s": 0.02, "nfe": 126, "agree": 0.9}],
    }
    text, holds = claim(rows)
    assert holds is False and "claim" in text
    text, holds = claim({"digits": [], "probe": [], "spoken": []})  # rows missing: said, not a traceback
    assert holds is False and "missing" in text
