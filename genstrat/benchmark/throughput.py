"""`genstrat throughput`: how fast each strategy trains on this machine, and how close to the machine it runs.

For each strategy and each precision (fp32, bf16 autocast, and what ``auto`` picks) one short training run through
the ordinary loop (``training/loop.py``) records updates per second and the step's counted GFLOP (``precision.py``);
beside them, the rate of one matrix product at the model's own widest shape (the attention input projection,
(batch x slots, d) @ (d, 3d)) in fp32 and bf16 is the ceiling to read GFLOP/s against. ``--optimizer`` chooses
between the plain per-parameter AdamW loop training uses and torch's fused AdamW, so what fusing buys is measured in
the same run. Two-stage rows train their prior over the codes of an untrained auto-encoder of the
right kind: speed does not depend on the weights.
"""

from __future__ import annotations

import platform
import time

import torch

from genstrat.data import load_dataset
from genstrat.training.model_io import build_model
from genstrat.modalities import modality_of
from genstrat.training.autoencoding import build_stage_one
from genstrat.training.precision import cpu_flags
from genstrat.strategies import check_strategy, get_strategy, stage_one_kind
from genstrat.training.loop import Budget, train


DEFAULT_RUNS = (("fp32", "plain"), ("fp32", "fused"), ("bf16", "fused"), ("auto", "fused"))  # as in docs/benchmarks.md


def matmul_gflops(m: int, k: int, n: int, dtype: torch.dtype, device: torch.device, seconds: float = 1.0) -> float:
    """Achieved GFLOP/s of an (m, k) @ (k, n) product in ``dtype``, timed over about ``seconds``."""
    a = torch.randn(m, k, device=device).to(dtype)
    b = torch.randn(k, n, device=device).to(dtype)
    for _ in range(3):
        a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return 2 * m * k * n * count / (time.perf_counter() - start) / 1e9


def profile_step(strategy, model, data, batch_size: int, seed: int, top: int = 10) -> list[dict]:
    """Where one fp32 training step's time goes (the strategy's own step): torch.profiler's top operators by self CPU
    time (milliseconds, share of the step), forward, backward and the optimizer together."""
    from torch.profiler import ProfilerActivity, profile

    from genstrat.training.precision import one_step

    device = next(model.parameters()).device
    units, cond = strategy.training_data(data).train_batch(batch_size, torch.Generator().manual_seed(seed))
    units, cond = units.to(device), cond.to(device)
    optimizers = strategy.optimizers(model, 1e-4)
    model.train()
    for _ in range(2):  # warm up allocations and kernels
        one_step(strategy, model, optimizers, units, cond, "fp32")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        one_step(strategy, model, optimizers, units, cond, "fp32")
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    return [
        {
            "op": e.key,
            "self_ms": round(e.self_cpu_time_total / 1000, 2),
            "share": round(e.self_cpu_time_total / total, 3),
            "calls": e.count,
        }
        for e in events[:top]
    ]


def bound_strategy(name: str, data):
    """The strategy over the data; a two-stage one over an untrained auto-encoder of its kind."""
    kind = stage_one_kind(name)
    if kind is None:
        return get_strategy(name, data.units)
    autoencoder = build_stage_one(modality_of(data.units).stage_one(data, kind))
    return get_strategy(name, data.units, autoencoder)


def measure_throughput(
    data_name: str,
    strategies: list[str],
    *,
    steps: int = 10,
    batch_size: int = 32,
    size: str = "small",
    seed: int = 0,
    runs: tuple[tuple[str, str], ...] = DEFAULT_RUNS,
    data_options: dict | None = None,
    device: torch.device | None = None,
    progress: bool = True,
) -> list[dict]:
    """One row per strategy and run (precision, optimizer): updates/s, GFLOP/s, the matmul ceiling at its shapes."""
    device = device or torch.device("cpu")
    data = load_dataset(data_name, **(data_options or {}))
    for name in strategies:
        check_strategy(name, data.units)
    flags, rows = cpu_flags(), []
    for name in strategies:
        strategy = bound_strategy(name, data)
        torch.manual_seed(seed)
        model = build_model(strategy, data.num_classes, size=size, context_len=data.context_len).to(device)
        profiled = profile_step(strategy, model, data, batch_size, seed)
        ceiling = None
        for precision, optimizer in runs:
            torch.manual_seed(seed)
            model = build_model(strategy, data.num_classes, size=size, context_len=data.context_len).to(device)
            summary = train(
                strategy,
                model,
                data,
                Budget(steps=steps),
                batch_size=batch_size,
                seed=seed,
                progress=progress,
                desc=f"{name} {precision} {optimizer}",
                precision=precision,
                save_every_s=None,
                fused_optimizer=optimizer == "fused",
            )
            if ceiling is None:
                cfg = model.cfg
                m = batch_size * (cfg.slots + cfg.cond_slots)
                ceiling = {
                    f"matmul_{p}_gflops_per_s": round(matmul_gflops(m, cfg.d_model, 3 * cfg.d_model, dtype, device), 1)
                    for p, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))
                }
                ceiling["matmul_shape"] = [m, cfg.d_model, 3 * cfg.d_model]
            rows.append(
                {
                    "strategy": name,
                    "requested": precision,
                    "precision": summary["precision"],
                    "optimizer": optimizer,
                    "updates_per_s": summary["updates_per_s"],
                    "step_gflop": summary["step_gflop"],
                    "gflops_per_s": summary["gflops_per_s"],
                    "reason": summary["reason"],
                    "probe_updates_per_s": summary["probe_updates_per_s"],
                    "steps": steps,
                    "batch_size": batch_size,
                    "model_size": size,
                    "data": data.name,
                    **ceiling,
                    "profile_fp32": profiled,
                    "cpu_flags": flags,
                    "machine": platform.machine(),
                    "threads": torch.get_num_threads(),
                    "torch": torch.__version__,
                }
            )
            if progress:
                r = rows[-1]
                print(
                    f"{name:>22} {precision:>4}->{r['precision']} {optimizer:>5}: {r['updates_per_s']:.3f} "
                    f"updates/s, {r['gflops_per_s']:.1f} GFLOP/s of {ceiling['matmul_fp32_gflops_per_s']} (fp32 "
                    f"matmul) / {ceiling['matmul_bf16_gflops_per_s']} (bf16)",
                    flush=True,
                )
    return rows
