"""Batch-1 latency of trained checkpoints, timed side by side in one process with more calls than a bench makes.

    python docs/experiments/batch1_latency.py runs/next-scale-mnist-2/checkpoints/two-stage-ar \
        runs/next-scale-mnist-2/checkpoints/two-stage-next-scale --out docs/results/next-scale-mnist-latency.json

A bench times each row as the median of a few batch-1 calls after one warm-up (``eval/timing.py``), in the process
that trained it. This times every checkpoint at its own defaults (a sequential sampler eager, ``decode="eager"``: a
bench's few calls never reach the ski rental's compile, and more calls here would), interleaved (checkpoint A, B, A,
B, ... so that a change in the machine's speed reaches every one alike), ``--warmup`` calls each first, then the
median and quartiles of ``--repeats`` calls, one label a call (labels cycle through the classes).
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
    parser.add_argument("--out")
    args = parser.parse_args()
    torch.set_num_threads(2)
    loaded = [api.load(path) for path in args.checkpoints]
    options = [m.options.merged(decode="eager") if "decode" in m.options else m.options for m in loaded]
    timings = {path: [] for path in args.checkpoints}
    generator = torch.Generator().manual_seed(0)
    for call in range(args.warmup + args.repeats):
        cond = torch.tensor([call % 10])
        for path, model, sampling in zip(args.checkpoints, loaded, options):
            start = time.perf_counter()
            model.strategy.generate(model.model, cond, None, generator, options=sampling)
            if call >= args.warmup:
                timings[path].append(time.perf_counter() - start)
    rows = []
    for path, times in timings.items():
        q = torch.tensor(times).quantile(torch.tensor([0.25, 0.5, 0.75])).tolist()
        rows.append({"checkpoint": path, "median_ms": round(1000 * q[1], 2),
                     "quartiles_ms": [round(1000 * q[0], 2), round(1000 * q[2], 2)], "calls": len(times)})
        print(json.dumps(rows[-1]), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"repeats": args.repeats, "warmup": args.warmup, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
