"""Batch-1 latency of trained checkpoints, timed side by side in one process with more calls than a bench makes.

    python docs/experiments/batch1_latency.py runs/next-scale-mnist-2/checkpoints/two-stage-ar \
        runs/next-scale-mnist-2/checkpoints/two-stage-next-scale --out docs/results/next-scale-mnist-latency.json

A bench times each row as the median of a few batch-1 calls after one warm-up (``eval/timing.py``), in the process
that trained it. This times every checkpoint at its own defaults (a sequential sampler eager, ``decode="eager"``: a
bench's few calls never reach the ski rental's compile, and more calls here would), interleaved (checkpoint A, B, A,
B, ... so that a change in the machine's speed reaches every one alike), ``--warmup`` calls each first, then the
median and quartiles of ``--repeats`` calls, one label a call (labels cycle through the classes). With
``--also-compiled`` each sequential sampler is timed a second time at ``decode=compiled``.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from genstrat import api


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--also-compiled", action="store_true",
                        help="time every sequential sampler a second time at decode=compiled (its compile in the "
                             "warm-up), the fastest path issue 33 built, which a bench's few calls never reach")
    parser.add_argument("--out")
    args = parser.parse_args()
    torch.set_num_threads(2)
    entries = []  # (label, path, loaded model, sampling options)
    for path in args.checkpoints:
        model = api.load(path)
        if "decode" not in model.options:
            entries.append((path, path, model, model.options))
            continue
        entries.append((path, path, model, model.options.merged(decode="eager")))
        if args.also_compiled:
            entries.append((f"{path} (decode=compiled)", path, model, model.options.merged(decode="compiled")))
    timings = {label: [] for label, *_ in entries}
    generator = torch.Generator().manual_seed(0)
    for call in range(args.warmup + args.repeats):
        cond = torch.tensor([call % 10])
        for label, _, model, sampling in entries:
            start = time.perf_counter()
            model.strategy.generate(model.model, cond, None, generator, options=sampling)
            if call >= args.warmup:
                timings[label].append(time.perf_counter() - start)
    rows = []
    for (label, path, _, sampling), times in zip(entries, timings.values()):
        q = torch.tensor(times).quantile(torch.tensor([0.25, 0.5, 0.75])).tolist()
        rows.append({"checkpoint": path, "decode": sampling.get("decode"), "median_ms": round(1000 * q[1], 2),
                     "quartiles_ms": [round(1000 * q[0], 2), round(1000 * q[2], 2)], "calls": len(times)})
        print(json.dumps(rows[-1]), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"repeats": args.repeats, "warmup": args.warmup, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
