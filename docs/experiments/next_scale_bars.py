"""The next-scale issue's bars, read off one bench's results, printed and written as JSON: nothing typed by hand.

    python docs/experiments/next_scale_bars.py runs/next-scale-mnist/results.json \
        --out docs/results/next-scale-mnist-bars.json
    python docs/experiments/next_scale_bars.py runs/next-scale-fsdd/results.json --audio \
        --out docs/results/next-scale-fsdd-bars.json

Images: ``two-stage:next-scale`` against ``two-stage:ar`` of the same run (NFE <= 8, batch-1 latency <= 0.2x,
Fréchet <= 1.2x, agreement >= 0.9). Audio: ``two-stage:next-scale`` at RTF <= 0.02 at batch 1, agreement >= 0.85,
Fréchet <= 3x the ``real`` row's. Both: the multi-scale reconstruction beside the single-scale one.
"""

from __future__ import annotations

import argparse
import json


def row(rows: list[dict], strategy: str) -> dict:
    found = [r for r in rows if r["strategy"] == strategy]
    if not found:
        raise SystemExit(f"no {strategy} row in the results")
    return min(found, key=lambda r: r["fd"])


def brief(r: dict) -> dict:
    keys = ("nfe", "fd", "fd_ci", "agree", "agree_ci", "latency_b1_s", "rtf_b1", "train_steps", "train_seconds",
            "ae_seconds", "compiled")
    return {k: r.get(k) for k in keys if k in r}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--audio", action="store_true", help="the audio bars (fsdd)")
    parser.add_argument("--out")
    args = parser.parse_args()
    with open(args.results) as f:
        rows = json.load(f)
    ours = row(rows, "two-stage:next-scale")
    report = {"run": args.results, "two-stage:next-scale": brief(ours)}
    for kind in ("fsq", "multiscale"):
        recon = row(rows, f"reconstruction:{kind}")
        report[f"reconstruction:{kind}"] = {k: recon.get(k) for k in ("fd", "fd_ci", "agree", "psnr", "stoi",
                                                                      "ae_seconds", "ae_train_steps",
                                                                      "quantizer_seconds") if k in recon}
    if args.audio:
        real = row(rows, "real")
        report["real_fd"] = real["fd"]
        report["bar_rtf_b1_le_0.02"] = ours["rtf_b1"] <= 0.02
        report["bar_agree_ge_0.85"] = ours["agree"] >= 0.85
        report["fd_over_real"] = round(ours["fd"] / real["fd"], 3)
        report["bar_fd_le_3x_real"] = ours["fd"] <= 3 * real["fd"]
        for name in ("two-stage:ar", "two-stage:mask-predict"):
            if any(r["strategy"] == name for r in rows):
                report[name] = brief(row(rows, name))
    else:
        ar = row(rows, "two-stage:ar")
        report["two-stage:ar"] = brief(ar)
        report["latency_over_two_stage_ar"] = round(ours["latency_b1_s"] / ar["latency_b1_s"], 3)
        report["fd_over_two_stage_ar"] = round(ours["fd"] / ar["fd"], 3)
        report["bar_nfe_le_8"] = ours["nfe"] <= 8
        report["bar_latency_le_0.2x"] = report["latency_over_two_stage_ar"] <= 0.2
        report["bar_fd_le_1.2x"] = report["fd_over_two_stage_ar"] <= 1.2
        report["bar_agree_ge_0.9"] = ours["agree"] >= 0.9
        if any(r["strategy"] == "coarse-to-fine" for r in rows):
            report["coarse-to-fine"] = brief(row(rows, "coarse-to-fine"))
    print(json.dumps(report, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
