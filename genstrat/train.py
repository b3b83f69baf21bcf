"""The training loop every strategy shares (nanoGPT's ``train.py`` in miniature).

AdamW, linear warm-up then cosine decay to 10% of the peak learning rate, gradient clipping,
classifier-free-guidance label dropout (the condition is replaced by the null label with
probability ``cond_drop``, Ho & Salimans 2022 sec. 3.2). The budget is a number of steps or
a wall-clock time; with a time budget the schedule follows elapsed time, so a run always
ends its decay when the budget ends. Checkpoints are written atomically every
``save_every_s`` seconds and at the end; ``resume=True`` continues from one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from genstrat.checkpoint import (optimizer_tensors, read_json, read_tensors, restore_optimizer, save_model,
                                 write_json, write_tensors, load_weights)
from genstrat.errors import GenstratError


@dataclass
class Budget:
    steps: int | None = None
    minutes: float | None = None

    def __post_init__(self):
        if (self.steps is None) == (self.minutes is None):
            raise GenstratError("give exactly one training budget: --steps N or --minutes M")
        if self.steps is not None and self.steps < 1:
            raise GenstratError(f"--steps must be at least 1, got {self.steps}")
        if self.minutes is not None and not self.minutes > 0:
            raise GenstratError(f"--minutes must be positive, got {self.minutes}")

    def progress(self, step: int, elapsed_s: float) -> float:
        if self.steps is not None:
            return step / self.steps
        return elapsed_s / (self.minutes * 60)


def learning_rate(peak: float, step: int, progress: float, warmup: int = 100) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def train(strategy, model, data, budget: Budget, *, batch_size: int = 128, lr: float = 2e-3, cond_drop: float = 0.1,
          seed: int = 0, out: Path | None = None, config: dict | None = None, save_every_s: float = 300,
          resume: bool = False, progress: bool = True, desc: str | None = None) -> dict:
    """Train ``model`` with ``strategy.loss`` on ``data``; returns a summary dict.

    When ``out`` is given, checkpoints (``config`` + weights + training state) go there.
    """
    if batch_size < 1:
        raise GenstratError(f"--batch-size must be at least 1, got {batch_size}")
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0.01)
    data_rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    step, elapsed, ema_loss = 0, 0.0, None
    if resume:
        step, elapsed, ema_loss = restore_training(Path(out), model, optimizer, data_rng)

    def checkpoint():
        if out is None:
            return
        summary = {"steps": step, "seconds": round(elapsed, 2), "loss": ema_loss, "batch_size": batch_size, "lr": lr,
                   "cond_drop": cond_drop, "seed": seed}
        save_model(out, model, {**(config or {}), "training": summary})
        tensors, groups = optimizer_tensors(optimizer)
        write_tensors(out / "optimizer.safetensors", {**tensors, "rng.data": data_rng.get_state(), "rng.torch": torch.get_rng_state()})
        write_json(out / "state.json", {"step": step, "elapsed_s": elapsed, "ema_loss": ema_loss, **groups})

    total = budget.steps if budget.steps is not None else round(budget.minutes * 60)
    bar = tqdm(total=total, desc=desc or f"train {strategy.name}", disable=not progress, unit="step" if budget.steps else "s",
               initial=step if budget.steps else round(elapsed), leave=True)
    model.train()
    last_save = time.monotonic()
    start = time.monotonic() - elapsed
    while budget.progress(step, elapsed) < 1.0:
        units, cond = data.train_batch(batch_size, data_rng)
        units, cond = units.to(device), cond.to(device)
        if cond_drop > 0:
            drop = torch.rand(cond.shape, generator=data_rng) < cond_drop
            cond = torch.where(drop.to(device), torch.full_like(cond, model.null_label), cond)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(lr, step, budget.progress(step, elapsed))
        loss = strategy.loss(model, units, cond)
        if not torch.isfinite(loss):
            model.eval()
            raise GenstratError(f"training loss became {loss.item()} at step {step}; lower --lr "
                                f"(the last good checkpoint{' in ' + str(out) if out else ''} is kept)")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        value = loss.item()
        ema_loss = value if ema_loss is None else 0.98 * ema_loss + 0.02 * value
        now = time.monotonic()
        new_elapsed = now - start
        bar.update(1 if budget.steps else round(new_elapsed) - round(elapsed))
        elapsed = new_elapsed
        if step % 20 == 0:
            bar.set_postfix(loss=f"{ema_loss:.4f}", step=step)
        if out is not None and now - last_save > save_every_s:
            checkpoint()
            last_save = now
    bar.close()
    model.eval()
    checkpoint()
    return {"steps": step, "seconds": round(elapsed, 2), "loss": ema_loss}


def restore_training(out: Path, model, optimizer, data_rng: torch.Generator) -> tuple[int, float, float | None]:
    if out is None or not (out / "state.json").is_file():
        raise GenstratError(f"cannot resume: {out} holds no training state (state.json); train without --resume first")
    load_weights(out, model)
    state = read_json(out / "state.json", "training state")
    tensors = read_tensors(out / "optimizer.safetensors", "optimizer state")
    data_rng.set_state(tensors.pop("rng.data"))
    torch.set_rng_state(tensors.pop("rng.torch"))
    try:
        restore_optimizer(optimizer, tensors, state)
    except (KeyError, ValueError, RuntimeError) as e:
        raise GenstratError(f"optimizer state in {out} does not match the model ({e}); it is corrupt") from None
    return int(state["step"]), float(state["elapsed_s"]), state.get("ema_loss")
