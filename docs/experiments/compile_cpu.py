"""Does ``torch.compile`` pay for training on this CPU, and by how much with bf16 autocast beside it? (issue 21)

Issue 21 asks for twice fp32's updates a second on a CPU with bf16 units; bf16 autocast alone gave 1.9x (ar) but
0.75-1.3x on the strategies with short sequences (docs/benchmarks.md, "training throughput"), whose steps are
dominated by the time outside the matrix products (layer norms, GELU, softmax, the optimizer, Python). Inductor
(``torch.compile``; Ansel et al. 2024, PyTorch 2) fuses those element-wise chains into generated C++ loops. Per
strategy this times the same training step (the strategy's own loss, backward, fused AdamW, one MNIST batch) four
ways, eager or compiled x fp32 or bf16 autocast, each on a fresh copy of the same initial model: the seconds of the
first steps (which include compiling) and the steady rate over ``--steps`` more, and the rate a wall-clock budget
of ``--budget-minutes`` would see with the compile time paid out of it.

    python docs/experiments/compile_cpu.py --data mnist --data-dir ../shared/data/mnist \\
        --strategies ar,mask-predict,diffusion,coarse-to-fine,two-stage:ar --out docs/results/compile-cpu.json
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from pathlib import Path

import torch

from genstrat.benchmark.throughput import bound_strategy
from genstrat.data import load_dataset
from genstrat.training.model_io import build_model
from genstrat.training.precision import cpu_flags, one_step
from genstrat.training.loop import make_optimizer

WARMUP = 3  # steps before timing: compiling (forward, then backward) happens in the first of them


def time_variant(strategy, model, batches, precision: str, compiled: bool, steps: int) -> dict:
    trial = copy.deepcopy(model).train()
    if compiled:
        trial.compile()  # nn.Module.compile: forward compiled in place, attributes (cfg, cond_slots) kept
    optimizer = {"model": make_optimizer(trial, 1e-4, fused=True)}
    start = time.perf_counter()
    losses = [one_step(strategy, trial, optimizer, *batches[i % len(batches)], precision) for i in range(WARMUP)]
    warmup_s = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(steps):
        one_step(strategy, trial, optimizer, *batches[(WARMUP + i) % len(batches)], precision)
    rate = steps / (time.perf_counter() - start)
    return {"precision": precision, "compiled": compiled, "warmup_s": round(warmup_s, 2),
            "updates_per_s": round(rate, 3), "first_loss": round(losses[0], 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--data-dir")
    parser.add_argument("--strategies", default="ar,mask-predict,diffusion,coarse-to-fine,two-stage:ar")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=12, help="timed steps after the warm-up")
    parser.add_argument("--budget-minutes", type=float, default=10.0)
    parser.add_argument("--size", default="small")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    data = load_dataset(args.data, **({"data_dir": args.data_dir} if args.data_dir else {}))
    rows = []
    for name in args.strategies.split(","):
        strategy = bound_strategy(name, data)
        torch.manual_seed(0)
        model = build_model(strategy, data.num_classes, size=args.size, context_len=data.context_len)
        source = strategy.training_data(data)
        generator = torch.Generator().manual_seed(0)
        batches = [source.train_batch(args.batch_size, generator) for _ in range(4)]
        eager_fp32 = None
        for compiled in (False, True):
            for precision in ("fp32", "bf16"):
                torch.manual_seed(0)
                row = {"strategy": name, **time_variant(strategy, model, batches, precision, compiled, args.steps)}
                budget_s = args.budget_minutes * 60
                row["budget_updates"] = int(max(0.0, budget_s - row["warmup_s"]) * row["updates_per_s"])
                eager_fp32 = eager_fp32 or row["updates_per_s"]
                row["speedup_vs_eager_fp32"] = round(row["updates_per_s"] / eager_fp32, 2)
                rows.append(row)
                print(json.dumps(row), flush=True)
    result = {"command": "python docs/experiments/compile_cpu.py " + " ".join(
                  f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None),
              "torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(),
              "cpu_flags": cpu_flags(), "batch_size": args.batch_size, "model_size": args.size, "rows": rows}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
