"""The random-vector issue's bars, read off one MNIST bench's results (and a second GAN seed's), printed and written
as JSON: nothing here is typed in by hand.

    python docs/experiments/random_vector_bars.py runs/random-vector-mnist/results.json \
        runs/random-vector-mnist-gan-seed1/results.json --out docs/results/random-vector-mnist-bars.json
"""

from __future__ import annotations

import argparse
import json


def rows_of(path: str) -> list[dict]:
    with open(path) as f:
        return json.load(f)


def best(rows: list[dict], strategy: str, key: str = "fd") -> dict | None:
    own = [r for r in rows if r["strategy"] == strategy and r.get(key) is not None]
    return min(own, key=lambda r: r[key]) if own else None


def gan_bars(rows: list[dict]) -> dict:
    real = next(r for r in rows if r["strategy"] == "real")
    gan = best(rows, "gan")
    one_pass = [best(rows, name) for name in ("latent", "nar")]
    baseline = min((r for r in one_pass if r), key=lambda r: r["fd"])
    diffusion = best(rows, "diffusion")
    return {
        "gan_fd": gan["fd"], "gan_fd_ci": gan.get("fd_ci"), "gan_agree": gan["agree"], "gan_nfe": gan["nfe"],
        "gan_diversity": gan["diversity"], "real_diversity": real["diversity"], "gan_train_steps": gan["train_steps"],
        "best_one_pass_row": baseline["series"], "best_one_pass_fd": baseline["fd"],
        "best_diffusion_row": f"{diffusion['series']} {diffusion['steps']}", "best_diffusion_fd": diffusion["fd"],
        "bar_nfe_1": gan["nfe"] == 1,
        "bar_agreement_0.9": gan["agree"] >= 0.9,
        "bar_fd_0.25x_one_pass": gan["fd"] <= 0.25 * baseline["fd"],
        "fd_ratio_to_one_pass": round(gan["fd"] / baseline["fd"], 3),
        "bar_diversity_0.5x_real": gan["diversity"] >= 0.5 * real["diversity"],
        "fd_ratio_to_best_diffusion": round(gan["fd"] / diffusion["fd"], 2),
    }


def flow_bars(rows: list[dict]) -> dict:
    flows = [r for r in rows if r["strategy"] == "flow"]
    ar = next((r for r in rows if r["strategy"] == "ar"), {})
    top = max(flows, key=lambda r: r["agree"])
    return {
        "flow_nll_bits_per_unit": flows[0].get("nll_bits_per_unit"),
        "ar_nll_bits_per_unit": ar.get("nll_bits_per_unit"),
        "flow_rows": [{k: r.get(k) for k in ("series", "nfe", "fd", "agree", "latency_b1_s", "train_steps")}
                      for r in flows],
        "bar_nll_beside_ar": flows[0].get("nll_bits_per_unit") is not None and ar.get("nll_bits_per_unit") is not None,
        "bar_agreement_0.8": top["agree"] >= 0.8, "best_flow_agree": top["agree"], "best_flow_row": top["series"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("second_gan_seed", nargs="?")
    parser.add_argument("--out")
    args = parser.parse_args()
    rows = rows_of(args.results)
    report = {"run": args.results, "gan": gan_bars(rows), "flow": flow_bars(rows)}
    if args.second_gan_seed:
        report["gan_second_seed"] = {"run": args.second_gan_seed, **gan_bars(rows_of(args.second_gan_seed) + [
            r for r in rows if r["strategy"] in ("latent", "nar", "diffusion")])}
        report["gan_second_seed"]["note"] = ("its own real row and GAN row; the one-pass and diffusion rows it is "
                                             "compared with are the first run's")
    print(json.dumps(report, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
