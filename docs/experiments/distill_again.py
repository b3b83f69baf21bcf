"""Distil a bench's teacher again with another seed and measure the students exactly as the bench measured its own
(same cached judge, same n and conditions, same sampling seed): the spread a distillation seed adds to a student row.

    python docs/experiments/distill_again.py runs/few-steps-mnist two-stage:diffusion --seed 1 --minutes 12 \
        --out docs/results/few-steps-mnist-distill-seed1.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from genstrat.benchmark.measure import Job, measure
from genstrat.benchmark.store import file_name
from genstrat.training.checkpoint import read_json
from genstrat.data import load_dataset
from genstrat.training.distillation import LR, distill, round_steps, split_budget
from genstrat.training.model_io import load_model
from genstrat.modalities import modality_of
from genstrat.training.loop import Budget


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bench")
    parser.add_argument("teacher")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=12)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    bench = Path(args.bench)
    settings = read_json(bench / "bench.json", "bench settings")["settings"]
    data_spec = settings["data"]
    data = load_dataset(data_spec["name"], data_dir=read_json(bench / "checkpoints" / file_name(args.teacher) /
                                                                "config.json", "config")["data"].get("data_dir"),
                        levels=data_spec.get("levels"))
    n, seed = settings["n"], settings["seed"]
    evaluator = modality_of(data.units).evaluator(data, n=n, seed=seed, judge_steps=settings["judge_steps"],
                                                  size=settings["size"], progress=False, device=torch.device("cpu"),
                                                  limit_minutes=settings["budget"]["minutes"])
    conditions = data.conditions(n, torch.Generator().manual_seed(seed + 2))
    counts = round_steps(settings["teacher_steps"], min(settings["steps"]))
    rounds = distill(bench / "checkpoints" / file_name(args.teacher), Path(args.out).with_suffix(""), steps=counts,
                     budget=split_budget(Budget(minutes=args.minutes), len(counts)),
                     teacher_steps=settings["teacher_steps"],
                     data=data, batch_size=settings["batch_size"], lr=LR, seed=args.seed, ema=settings["ema"],
                     precision=settings["precision"], progress=False)
    rows = []
    for record in rounds:
        model, strategy, _ = load_model(record["folder"])
        point = strategy.sweep([])[0]
        row, _ = measure(Job(strategy, model, point, strategy.sampling_defaults(), "again"), evaluator, conditions,
                         throughput_batch=settings["throughput_batch"], latency_repeats=settings["latency_repeats"],
                         seed=seed)
        row.update(distill_seed=args.seed, distill_seconds=record["distill_seconds"], distill_updates=record["updates"])
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("strategy", "steps", "fd", "fd_ci", "agree", "agree_ci")}), flush=True)
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
