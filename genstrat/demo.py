"""`genstrat demo`: the whole lecture on the embedded data in one run, then one page (``index.html``) to open.

Three benches, each a plain ``genstrat bench`` into its own folder of ``OUT`` (so each can be re-read, re-reported or
resumed alone), on small budgets: 18.4 minutes from a fresh clone on 2 AMD EPYC cores, set-up included (16.1 the demo
itself; docs/benchmarks.md, "The demo"):

- **images** (``digits``): AR, one-shot NAR, mask-predict, diffusion, and two-stage AR over a learned auto-encoder's
  codes: blurry one-pass images, and the fixes sharpening them;
- **text** (the multi-modality ``probe``): AR, one-shot NAR, the latent-vector fix and mask-predict, with every
  output checked exactly: valid, or a mix of two answers (the lecture's 演授);
- **audio** (the embedded ``spoken`` digits): sample-level AR (WaveNet) against two-stage AR over codec codes.

Then ``CLAIMS``, the lecture's claims, are read off the benches' own rows, printed, kept in ``claims.json`` and put at
the top of the page. A claim that does not hold says so; nothing is tuned to make it hold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tqdm.auto import tqdm

from genstrat.checkpoint import ensure_writable, write_json


@dataclass(frozen=True)
class DemoPart:
    folder: str  # the bench folder inside the demo's OUT
    modality: str
    data: str
    strategies: tuple[str, ...]
    minutes: float | None  # training minutes per strategy (two-stage: auto-encoder and prior together) ...
    steps: tuple[int, ...] = (1, 8)
    settings: dict = field(default_factory=dict)  # the bench's other settings (BenchConfig fields)
    train_steps: int | None = None  # ... or training steps (the tests' tiny demo)


PARTS = (
    DemoPart("digits", "images", "digits", ("ar", "nar", "mask-predict", "diffusion", "two-stage:ar"), minutes=0.75,
             settings={"ae_minutes": 0.25, "overrides": {"sampler": "dpm-solver"}}),  # DDPM-200 alone: 13 min
    DemoPart("probe", "text", "probe", ("ar", "nar", "latent", "mask-predict"), minutes=0.6),
    # 0.75 s clips hold every eSpeak word whole (the longest ends at 0.71 s); a WaveNet step over 128 one-second
    # clips holds ~30 GB of activations, so batch 32; sample-level AR takes ~20 s a clip, so one timed repeat
    DemoPart("spoken", "audio", "spoken", ("ar", "two-stage:ar"), minutes=1.0, steps=(1,),
             settings={"ae_minutes": 0.5, "n": 100, "judge_steps": 500, "latency_repeats": 1, "batch_size": 32,
                       "data_options": {"seconds": 0.75}}),
)


def row(rows: list[dict], strategy: str, steps: int | None = None, series: str | None = None) -> dict | None:
    """The first row of a strategy (at ``steps``; of ``series``, e.g. 'nar' and not 'nar mode')."""
    for r in rows:
        if r["strategy"] == strategy and (steps is None or r.get("steps") == steps) \
                and (series is None or r.get("series") == series):
            return r
    return None


def probe_ar_valid(results: dict) -> tuple[str, bool]:
    ar = row(results["probe"], "ar")
    return f"probe: AR writes {ar['valid']:.1%} valid answers (claim: at least 95%)", ar["valid"] >= 0.95


def probe_nar_mixes(results: dict) -> tuple[str, bool]:
    ar, nar = row(results["probe"], "ar"), row(results["probe"], "nar", series="nar")
    ratio = nar["mixed"] / ar["mixed"] if ar["mixed"] else float("inf")
    return (f"probe: one-shot NAR mixes answers in {nar['mixed']:.1%} of its outputs, AR in {ar['mixed']:.2%} "
            f"({ratio:.0f}x; claim: at least 10x)", nar["mixed"] >= 10 * ar["mixed"] and nar["mixed"] > 0)


def digits_passes_help(results: dict) -> tuple[str, bool]:
    one, eight = row(results["digits"], "mask-predict", 1), row(results["digits"], "mask-predict", 8)
    return (f"digits: mask-predict at 8 passes reaches Fréchet {eight['fd']:.1f} {eight['fd_ci']}, at 1 pass "
            f"{one['fd']:.1f} {one['fd_ci']} (claim: 8 passes better)", eight["fd"] < one["fd"])


def audio_two_stage_faster(results: dict) -> tuple[str, bool]:
    ar, codes = row(results["spoken"], "ar"), row(results["spoken"], "two-stage:ar")
    return (f"audio: two-stage AR over codec codes makes a clip in {codes['latency_b1_s']:.3f} s "
            f"({codes['nfe']} steps), sample-level AR in {ar['latency_b1_s']:.1f} s ({ar['nfe']} steps): "
            f"{ar['latency_b1_s'] / codes['latency_b1_s']:.0f}x faster (claim: faster)",
            codes["latency_b1_s"] < ar["latency_b1_s"])


CLAIMS: tuple[Callable[[dict], tuple[str, bool]], ...] = (probe_ar_valid, probe_nar_mixes, digits_passes_help,
                                                          audio_two_stage_faster)


def check_claims(results: dict) -> list[dict]:
    """Each claim read off the rows: {"claim": one line with its figures, "holds": bool}."""
    return [dict(zip(("claim", "holds"), claim(results))) for claim in CLAIMS]


def claims_lines(claims: list[dict], seconds: float, resumed: bool = False) -> list[str]:
    """The page's preface: the claims, each marked, and what the demo cost (only this sitting's, when resumed)."""
    lines = ["## The lecture's claims, read off this demo's own rows", ""]
    lines += [f"- {'holds' if c['holds'] else '**does not hold**'}: {c['claim']}" for c in claims]
    cost = (f"This sitting of the demo took {seconds / 60:.1f} minutes of wall-clock (`genstrat demo --resume`: the "
            f"parts kept from earlier sittings are not counted)." if resumed else
            f"The demo took {seconds / 60:.1f} minutes of wall-clock (`genstrat demo`).")
    return lines + ["", cost, ""]


def run_demo(out: str | Path = "runs/demo", *, seed: int = 0, device=None, progress: bool = True,
             resume: bool = False, parts: tuple[DemoPart, ...] | None = None) -> tuple[Path, list[dict]]:
    """Run the benches of ``parts`` (default ``PARTS``) into ``out``, check the claims, write ``out/index.html``;
    returns (page, claims)."""
    from genstrat import api
    from genstrat.reporting.html import write_html
    from genstrat.training import Budget

    parts = parts or PARTS
    out = ensure_writable(Path(out), "--out")
    start = time.perf_counter()
    total = sum(len(p.strategies) for p in parts)
    results = {}
    with tqdm(total=total, desc="demo", unit="strategy", disable=not progress) as bar:
        for part in parts:
            settings = dict(part.settings)
            ae_minutes, ae_steps = settings.pop("ae_minutes", None), settings.pop("ae_steps", None)
            if ae_minutes is not None or ae_steps is not None:
                settings["ae_budget"] = Budget(minutes=ae_minutes, steps=ae_steps)

            def announce(name: str, part=part):
                bar.set_postfix_str(f"{part.modality}: {name}")

            def finished(name: str):
                bar.update(1)

            results[part.folder] = api.bench(
                part.data, part.strategies, out / part.folder, train_minutes=part.minutes, train_steps=part.train_steps,
                steps=part.steps,
                resume=resume and (out / part.folder / "bench.json").is_file(), seed=seed, device=device,
                progress=False, command=f"genstrat demo --out {out} (part {part.folder})",
                on_strategy=(announce, finished), **settings)
    claims = check_claims(results)
    seconds = time.perf_counter() - start
    write_json(out / "claims.json", {"claims": claims, "seconds": round(seconds, 1), "resumed": resume})
    page = write_html([out / p.folder for p in parts], out / "index.html",
                      preface=claims_lines(claims, seconds, resumed=resume))
    return page, claims


def print_claims(claims: list[dict]) -> None:
    for c in claims:
        print(f"  [{'holds' if c['holds'] else 'DOES NOT HOLD'}] {c['claim']}")


__all__ = ["PARTS", "CLAIMS", "run_demo", "check_claims", "print_claims"]
