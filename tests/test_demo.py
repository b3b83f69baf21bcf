"""`genstrat demo`: three benches (images, text, audio), the lecture's claims read off their rows, one page."""

import json

import pytest

import genstrat.demo as demo
from genstrat.cli import main

TINY = {"size": "tiny", "batch_size": 8, "throughput_batch": 10, "latency_repeats": 1, "judge_steps": 20}


def tiny_parts():
    """The demo's own parts (same data, same strategies), on a few training steps."""
    settings = {
        "digits": {**TINY, "n": 20, "ae_steps": 2},
        "probe": {**TINY, "n": 60},
        "spoken": {**TINY, "n": 10, "ae_steps": 2, "seconds": 0.25, "sample_rate": 4000},
    }
    return tuple(demo.DemoPart(p.folder, p.modality, p.data, p.strategies, minutes=None, train_steps=2,
                               steps=p.steps, settings=settings[p.folder]) for p in demo.PARTS)


def test_demo_runs_every_modality_and_reads_the_claims_off_its_rows(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "PARTS", tiny_parts())
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"demo done: open {out / 'index.html'}" in printed
    claims = json.loads((out / "claims.json").read_text())["claims"]
    assert len(claims) == len(demo.CLAIMS) and all(isinstance(c["holds"], bool) for c in claims)
    assert all(c["claim"] in printed for c in claims)
    for part in demo.PARTS:
        rows = json.loads((out / part.folder / "results.json").read_text())
        assert set(part.strategies) <= {r["strategy"] for r in rows}
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "The lecture&#x27;s claims" in page or "The lecture's claims" in page
    assert page.count('<section class="bench"') == 3 and "<audio" in page
    # the audio claim is about speed: even on 2 training steps, codes beat samples
    assert claims[-1]["holds"]


def test_demo_refuses_an_unwritable_folder_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["demo", "--out", str(blocker / "demo")]) == 2
    assert "cannot write" in capsys.readouterr().err


@pytest.mark.parametrize("claim", demo.CLAIMS)
def test_a_claim_that_misses_says_so(claim):
    rows = {
        "probe": [{"strategy": "ar", "valid": 0.5, "mixed": 0.2, "series": "ar"},
                  {"strategy": "nar", "series": "nar", "valid": 0.1, "mixed": 0.3}],
        "digits": [{"strategy": "mask-predict", "steps": 1, "fd": 10.0, "fd_ci": [9, 11]},
                   {"strategy": "mask-predict", "steps": 8, "fd": 20.0, "fd_ci": [19, 21]}],
        "spoken": [{"strategy": "ar", "latency_b1_s": 0.01, "nfe": 8000},
                   {"strategy": "two-stage:ar", "latency_b1_s": 0.02, "nfe": 126}],
    }
    text, holds = claim(rows)
    assert holds is False and "claim" in text
