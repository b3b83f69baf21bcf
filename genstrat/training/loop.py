"""The training loop every strategy shares (nanoGPT's ``train.py`` in miniature).

AdamW (or the optimizers the strategy owns: ``Strategy.optimizers`` and ``train_step``,
``strategies/training_step.py``), linear warm-up then cosine decay to 10% of the peak learning rate, gradient clipping,
classifier-free-guidance label dropout (the condition is replaced by the null label with
probability ``cond_drop``, Ho & Salimans 2022 sec. 3.2). The budget is a number of steps or
a wall-clock time; with a time budget the schedule follows elapsed time, so a run always
ends its decay when the budget ends.

Fault tolerance: every ``save_every_s`` seconds and/or ``save_every_steps`` steps, and at
the end, the whole training state (weights, optimizer, step, elapsed time, the data-order and
torch random-number generators) goes atomically into ``train_state.safetensors``;
``resume=True`` continues from it. With a step budget a run killed at any moment and
resumed ends with bit-for-bit the weights of an uninterrupted run (tested).

Weight averaging (``ema``, off by default): an exponential moving average of the weights,
theta_ema <- d theta_ema + (1 - d) theta with d = min(ema, (1 + t) / (10 + t)) (Polyak &
Juditsky 1992; the warm-up form of TensorFlow's ExponentialMovingAverage, used by DDPM and
MaskGIT). It travels in the training state; the saved and returned model holds the average.

Precision (``precision``): ``auto`` (default: chosen by measurement, ``precision.py``), ``fp32``, or
``bf16``, which runs the forward pass and the loss under ``torch.autocast`` with bfloat16
(Micikevicius et al. 2018 for mixed precision; bfloat16 keeps fp32's exponent range, so no loss
scaling is needed, Kalamkar et al. 2019). Weights, gradients, the optimizer and the weight average
stay fp32. A resumed run keeps the precision its state recorded. Every run also records its updates
per second and its step's counted GFLOP.

Distributed: when ``torch.distributed`` is initialised (``torchrun``), the model is wrapped
in DistributedDataParallel; every rank draws the same *global* batch from the same seeded
generator and trains on its own slice, so the averaged gradient is the global batch's.
Only rank 0 writes checkpoints and shows progress. A strategy whose step calls networks outside that wrapper (a GAN's
two, a flow's blocks) averages its gradients itself (``StepContext.average_gradients``).

A step whose logged values are not all finite ends training with a one-line error; the update it made is not saved
(the last good checkpoint on disk is kept), though the model object in memory holds it.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from genstrat.training.checkpoint import (assign_weights, optimizers_tensors, read_tensors, restore_optimizers,
                                          save_model, write_tensors)
from genstrat.errors import GenstratError
from genstrat.training.memory import check_fits
from genstrat.training.precision import (CHOICES, PROBE_STEPS, PROBE_WARMUP, PrecisionChoice, choose_precision,
                                         step_gflop)
from genstrat.strategies.training_step import StepContext, make_optimizer

__all__ = ["Budget", "train", "learning_rate", "make_optimizer", "update_average", "world", "STATE_FILE"]

STATE_FILE = "train_state.safetensors"


@dataclass
class Budget:
    """A training budget: ``steps`` or ``minutes`` (exactly one), and optionally a wall-clock ``limit_minutes`` that
    ends a step budget early (a judge or reference model may not take longer than the strategies it judges)."""

    steps: int | None = None
    minutes: float | None = None
    limit_minutes: float | None = None

    def __post_init__(self):
        if (self.steps is None) == (self.minutes is None):
            raise GenstratError("give exactly one training budget: --steps N or --minutes M")
        if self.steps is not None and self.steps < 1:
            raise GenstratError(f"--steps must be at least 1, got {self.steps}")
        if self.minutes is not None and not self.minutes > 0:
            raise GenstratError(f"--minutes must be positive, got {self.minutes}")

    def to_dict(self) -> dict:
        return {"steps": self.steps, "minutes": self.minutes,
                **({"limit_minutes": self.limit_minutes} if self.limit_minutes is not None else {})}

    def progress(self, step: int, elapsed_s: float) -> float:
        done = step / self.steps if self.steps is not None else elapsed_s / (self.minutes * 60)
        return done if self.limit_minutes is None else max(done, elapsed_s / (self.limit_minutes * 60))


def learning_rate(peak: float, step: int, progress: float, warmup: int = 100) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


class DistributedModel(torch.nn.parallel.DistributedDataParallel):
    """DDP that still answers the backbone's own attributes (``mask_id``, ``cfg``, ...) for the strategies."""

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def train(strategy, model, data, budget: Budget, *, batch_size: int = 128, lr: float = 2e-3, cond_drop: float = 0.1,
          seed: int = 0, out: Path | None = None, config: dict | None = None, save_every_s: float | None = 300,
          save_every_steps: int | None = None, resume: bool = False, progress: bool = True, desc: str | None = None,
          ema: float | None = None, precision: str = "auto", fused_optimizer: bool = False) -> dict:
    """Train ``model`` with the strategy's own step (``strategy.train_step`` over ``strategy.optimizers``; by default
    one AdamW on ``strategy.loss``) on ``data``; returns a summary dict: steps, seconds, loss, and what the
    run cost: ``updates_per_s``, ``step_gflop`` (counted), ``gflops_per_s``, and the precision chosen and why.

    When ``out`` is given, checkpoints (``config`` + weights + training state) go there.
    """
    if precision not in CHOICES:
        raise GenstratError(f"unknown precision '{precision}'; expected one of: {', '.join(CHOICES)}")
    rank, size = world()
    data = strategy.training_data(data)  # two-stage: the codes of every training image
    if batch_size < 1 or batch_size % size:
        raise GenstratError(f"--batch-size {batch_size} must be a positive multiple of the number of processes "
                            f"({size})")
    device = next(model.parameters()).device
    check_fits(model, batch_size // size, device)  # a step that cannot fit fails here, not when the kernel kills it
    out = Path(out) if out is not None else None
    optimizers = strategy.optimizers(model, lr, fused_optimizer)
    data_rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed + rank)
    step, elapsed, ema_loss = 0, 0.0, None
    if ema is not None and not 0 < ema < 1:
        raise GenstratError(f"--ema must be between 0 and 1 (e.g. 0.999), got {ema}")
    average = {k: v.detach().clone() for k, v in model.state_dict().items()} if ema else None
    resumed_precision = None
    if resume:
        step, elapsed, ema_loss, resumed_precision = restore_training(out, model, optimizers, data_rng, rank,
                                                                      average, device)
    local = slice(rank * batch_size // size, (rank + 1) * batch_size // size)
    probe_rng = torch.Generator().manual_seed(seed + 7919)  # the probe's batches: the training order is untouched
    batches = [tuple(t[local].to(device) for t in data.train_batch(batch_size, probe_rng))
               for _ in range(PROBE_STEPS + PROBE_WARMUP)]
    if resumed_precision:  # a resumed run goes on in the precision it chose, for the reason it chose it
        choice = PrecisionChoice(resumed_precision["precision"], resumed_precision["reason"],
                                 resumed_precision.get("probe_updates_per_s", {}))
    else:
        choice = choose_precision(precision, strategy, model, batches,
                                  deterministic=torch.are_deterministic_algorithms_enabled(),
                                  budget_s=budget.minutes * 60 if budget.minutes is not None else None)
    precision = choice.precision
    gflop = step_gflop(strategy, model, *batches[0])
    net = DistributedModel(model) if size > 1 else model
    first_step, first_elapsed = step, elapsed

    def checkpoint():
        if out is None or rank != 0:
            return
        summary = {"steps": step, "seconds": round(elapsed, 2), "loss": ema_loss, "batch_size": batch_size, "lr": lr,
                   "cond_drop": cond_drop, "seed": seed, "processes": size, **cost()}
        tensors, groups = optimizers_tensors(optimizers)
        state = {**{f"model.{k}": v for k, v in model.state_dict().items()},
                 **{f"optim.{k}": v for k, v in tensors.items()},
                 **{f"ema.{k}": v for k, v in (average or {}).items()},
                 "rng.data": data_rng.get_state(), "rng.torch": torch.get_rng_state(),
                 **({"rng.cuda": torch.cuda.get_rng_state(device)} if device.type == "cuda" else {})}
        meta = {"step": step, "elapsed_s": elapsed, "ema_loss": ema_loss, "precision": choice.to_dict(), **groups}
        write_tensors(out / STATE_FILE, state, metadata={"state": json.dumps(meta)})
        if average is not None:
            summary["ema"] = ema
        save_model(out, model, {**(config or {}), "training": summary}, weights=average)

    def cost() -> dict:
        """Updates per second over this process's steps, the step's counted GFLOP, and the precision's record."""
        rate = (step - first_step) / (elapsed - first_elapsed) if elapsed > first_elapsed else 0.0
        return {"updates_per_s": round(rate, 3), "step_gflop": round(gflop, 3), "gflops_per_s": round(gflop * rate, 2),
                **choice.to_dict()}

    total = budget.steps if budget.steps is not None else round(budget.minutes * 60)
    bar = tqdm(total=total, desc=desc or f"train {strategy.name}", disable=not progress or rank != 0,
               unit="step" if budget.steps else "s", initial=step if budget.steps else round(elapsed))
    model.train()
    last_save, last_saved_step = time.monotonic(), step
    start = time.monotonic() - elapsed
    context = StepContext(net, model, precision, size)
    while budget.progress(step, elapsed) < 1.0:
        units, cond = data.train_batch(batch_size, data_rng)
        drop = torch.rand(cond.shape[:1], generator=data_rng) < cond_drop
        cond = torch.where(drop.view(-1, *[1] * (cond.dim() - 1)), model.null_condition(cond), cond)
        units, cond = units[local].to(device), cond[local].to(device)
        for optimizer in optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(lr * group.get("lr_scale", 1.0), step, budget.progress(step, elapsed))
        logged = strategy.train_step(model, optimizers, units, cond, context)
        # one small collective: the global mean of every logged value (also a consistent finite check) and rank 0's
        # clock
        now = time.monotonic()
        shared = torch.tensor([float(v) / size for v in logged.values()] + [(now - start) if rank == 0 else 0.0],
                              dtype=torch.float64)
        if size > 1:
            dist.all_reduce(shared)
        *values, new_elapsed = shared.tolist()
        value = values[0]
        if not all(math.isfinite(v) for v in values):
            bar.close()
            model.eval()
            kept = (f"; the last good checkpoint in {out} is kept" if out is not None and (out / STATE_FILE).exists()
                    else "")
            bad = dict(zip(logged, values))
            name, worst = next((k, v) for k, v in bad.items() if not math.isfinite(v))
            raise GenstratError(f"training {name.replace('_', ' ')} became {worst} at step {step}; lower --lr{kept}")
        step += 1
        if average is not None:
            update_average(average, model, min(ema, (1 + step) / (10 + step)))
        ema_loss = value if ema_loss is None else 0.98 * ema_loss + 0.02 * value
        bar.update(1 if budget.steps else round(new_elapsed) - round(elapsed))
        elapsed = new_elapsed
        if step % 20 == 0:
            extra = {k: f"{v:.3f}" for k, v in zip(list(logged)[1:], values[1:])}
            bar.set_postfix(loss=f"{ema_loss:.4f}", step=step, **extra)
        due_time = save_every_s is not None and now - last_save > save_every_s
        due_steps = save_every_steps is not None and step - last_saved_step >= save_every_steps
        if out is not None and (due_time or due_steps) and budget.progress(step, elapsed) < 1.0:
            checkpoint()
            last_save, last_saved_step = now, step
    bar.close()
    model.eval()
    checkpoint()
    if average is not None:  # from here on the model is the average (as saved in model.safetensors)
        model.load_state_dict(average)
    return {"steps": step, "seconds": round(elapsed, 2), "loss": ema_loss, **cost()}


@torch.no_grad()
def update_average(average: dict, model, decay: float) -> None:
    """theta_ema <- decay theta_ema + (1 - decay) theta, every floating tensor in one foreach call; others copied."""
    live = model.state_dict()
    floats = [k for k, v in live.items() if v.is_floating_point()]
    torch._foreach_lerp_([average[k] for k in floats], [live[k] for k in floats], 1 - decay)
    for k, v in live.items():
        if not v.is_floating_point():
            average[k].copy_(v)


def restore_training(out: Path | None, model, optimizers: dict, data_rng: torch.Generator, rank: int,
                     average: dict | None = None,
                     device: torch.device | None = None) -> tuple[int, float, float | None, dict | None]:
    if out is None or not (out / STATE_FILE).is_file():
        raise GenstratError(f"cannot resume: {out} holds no training state ({STATE_FILE}); "
                            f"train without --resume first")
    tensors, metadata = read_tensors(out / STATE_FILE, "training state", with_metadata=True)
    try:
        meta = json.loads(metadata["state"])
        assign_weights(model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, out)
        restore_optimizers(optimizers, {k[6:]: v for k, v in tensors.items() if k.startswith("optim.")}, meta)
        if average is not None:
            for k in average:
                average[k].copy_(tensors[f"ema.{k}"])
        data_rng.set_state(tensors["rng.data"])
        if rank == 0:
            torch.set_rng_state(tensors["rng.torch"])
            # masks and noise drawn on the GPU
            if device is not None and device.type == "cuda" and "rng.cuda" in tensors:
                torch.cuda.set_rng_state(tensors["rng.cuda"], device)
    except (KeyError, ValueError, RuntimeError, json.JSONDecodeError) as e:
        raise GenstratError(f"training state in {out} does not match this model or is incomplete "
                            f"({e.__class__.__name__}: {str(e)[:100]}); start a new run with a new --out") from None
    recorded = meta.get("precision")  # absent in states written before precision was chosen by measurement
    return int(meta["step"]), float(meta["elapsed_s"]), meta.get("ema_loss"), recorded if isinstance(recorded, dict) \
        else None
