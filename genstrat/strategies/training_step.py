"""How a strategy trains one step: the optimizers it owns and the update it makes with them.

Training, the precision probe, the throughput command and the FLOP counter all run a step through
``Strategy.train_step`` with the optimizers of ``Strategy.optimizers``, so a strategy that trains otherwise (a GAN's
two optimizers and alternating updates, a student beside a frozen teacher) says so once, in its own file. A strategy
with one loss writes nothing: the default below is the one-loss step every strategy had before (AdamW over every
weight, gradients clipped to norm 1).

A step receives a :class:`StepContext`: the network to call for the one-loss path (the DistributedDataParallel wrapper
under ``torchrun``, else the model), the plain model, the precision to run the forward passes in, and
``average_gradients`` for a step that calls parts of the model outside that wrapper (it all-reduces their gradients
itself, so every process applies the global batch's mean gradient, as DDP does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch
import torch.distributed as dist

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}
CLIP_NORM = 1.0  # the gradient-norm clip of the one-loss step


@dataclass
class StepContext:
    """What a training step needs besides its batch: ``net`` (call it for the one-loss path: DDP under torchrun),
    ``model`` (the plain module, for its parts and parameters), ``precision`` and the number of processes."""

    net: torch.nn.Module
    model: torch.nn.Module
    precision: str = "fp32"
    processes: int = 1

    def autocast(self):
        """The forward pass's precision: bfloat16 autocast for ``bf16`` (weights and optimizer stay fp32)."""
        device = next(self.model.parameters()).device
        return torch.autocast(device.type, dtype=PRECISIONS[self.precision], enabled=self.precision != "fp32")

    def average_gradients(self, parameters: Iterable[torch.nn.Parameter]) -> None:
        """Mean of each gradient over the processes (a no-op in one process); for steps that bypass ``net``."""
        if self.processes > 1:
            for p in parameters:
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad.div_(self.processes)


def make_optimizer(parameters, lr: float, fused: bool = False, **settings) -> torch.optim.Optimizer:
    """AdamW (Loshchilov & Hutter 2019), by default with betas (0.9, 0.99) and weight decay 0.01, over ``parameters``
    (a module's or an iterable); ``settings`` override those (a GAN's betas). ``fused``: one kernel updates every
    parameter (torch's fused implementation) where the device has it; off by default, on a 2-core CPU it bought
    nothing measurable (docs/benchmarks.md, "training throughput")."""
    if isinstance(parameters, torch.nn.Module):
        parameters = parameters.parameters()
    parameters = list(parameters)
    settings = dict(dict(lr=lr, betas=(0.9, 0.99), weight_decay=0.01), **settings)
    if fused:
        try:
            return torch.optim.AdamW(parameters, fused=True, **settings)
        except (RuntimeError, ValueError):  # a device or dtype without the fused kernel
            pass
    return torch.optim.AdamW(parameters, **settings)


def one_loss_step(strategy, optimizer: torch.optim.Optimizer, units: torch.Tensor, cond: torch.Tensor,
                  ctx: StepContext) -> dict[str, torch.Tensor]:
    """The default update: the strategy's loss, backward, clip, one optimizer step; returns {"loss": loss}. A
    strategy whose loss runs several networks of its own (``through_ddp = False``: a flow's blocks) is called with
    the plain model and its gradients are averaged here instead of by DDP."""
    with ctx.autocast():
        loss = strategy.loss(ctx.net if strategy.through_ddp else ctx.model, units, cond)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if not strategy.through_ddp:
        ctx.average_gradients(ctx.model.parameters())
    torch.nn.utils.clip_grad_norm_(ctx.model.parameters(), CLIP_NORM)
    optimizer.step()
    return {"loss": loss.detach()}
