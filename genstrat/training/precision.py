"""Training precision chosen by measurement, and the work a training step does, counted.

``auto`` (the default) keeps fp32 where the device has no bf16 matrix units (a CPU without ``amx_bf16`` or
``avx512_bf16`` in its flags: bf16 autocast there only adds conversions), and elsewhere times a few steps of the
actual model in fp32 and under bf16 autocast (Kalamkar et al. 2019: bfloat16 keeps fp32's exponent range, so no
loss scaling) and keeps bf16 only when it is faster and its loss on the same batch agrees with fp32's. Weights,
gradients and optimizer state stay fp32 either way. The probe trains copies and leaves every random-number
generator as it found it, so the run that follows draws exactly what it would have drawn without it.

The step's GFLOP are counted by ``torch.utils.flop_counter`` (matrix multiplications and attention, forward and
backward) on one batch, not estimated; GFLOP/s = GFLOP per step x updates per second.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from genstrat.strategies.training_step import PRECISIONS, StepContext

CHOICES = ("auto", *PRECISIONS)
BF16_FLAGS = ("amx_bf16", "avx512_bf16")
PROBE_STEPS, PROBE_WARMUP = 4, 2
SPEEDUP_NEEDED = 1.1  # bf16 must be at least this much faster to be kept
LOSS_AGREEMENT = 0.05  # and its loss on the same batch within this relative distance of fp32's
GIVE_UP_FACTOR = 3.0  # a bf16 first step this many times slower than fp32's first ends its probe there
PROBE_SHARE = 0.1  # the probe's most of a wall-clock training budget
COUNT_ROWS = 2  # FLOPs are counted (and a scout step timed) on this many rows of the batch, scaled to the batch


def cpu_flags() -> list[str]:
    """The CPU's feature flags as the kernel reports them (Linux), or none where that file does not exist."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line.split(":", 1)[1].split()
    except OSError:
        pass
    return []


def has_bf16_units(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return any(flag in cpu_flags() for flag in BF16_FLAGS)


@dataclass
class PrecisionChoice:
    precision: str  # what training runs in: fp32 or bf16
    reason: str  # one line: why
    rates: dict = field(default_factory=dict)  # updates per second of each precision the probe timed

    def to_dict(self) -> dict:
        return {"precision": self.precision, "reason": self.reason, "probe_updates_per_s": self.rates}


def one_step(strategy, model, optimizers: dict, units, cond, precision: str) -> float:
    """One training step of the strategy's own (``strategy.train_step``) in ``precision``; its first logged value."""
    logged = strategy.train_step(model, optimizers, units, cond, StepContext(model, model, precision))
    return float(next(iter(logged.values())))


def probe_rate(strategy, model, batches, precision: str, give_up_s: float | None = None) -> tuple[float, float, float]:
    """(updates per second, first loss, seconds of the first step) of ``precision`` on a copy of ``model`` over
    ``batches``; when the first step alone takes more than ``give_up_s``, the rate is that step's and the rest is
    not run (a precision that slow is not worth timing further)."""
    trial = copy.deepcopy(model).train()
    optimizer = strategy.optimizers(trial, 1e-4)
    start = time.perf_counter()
    first = one_step(strategy, trial, optimizer, *batches[0], precision)
    first_s = time.perf_counter() - start
    if give_up_s is not None and first_s > give_up_s:
        return 1 / first_s, first, first_s
    for units, cond in batches[1:PROBE_WARMUP]:
        one_step(strategy, trial, optimizer, units, cond, precision)
    start = time.perf_counter()
    for units, cond in batches[PROBE_WARMUP:]:
        one_step(strategy, trial, optimizer, units, cond, precision)
    return (len(batches) - PROBE_WARMUP) / (time.perf_counter() - start), first, first_s


def scouted_step_seconds(strategy, model, units: torch.Tensor, cond: torch.Tensor) -> float:
    """Seconds of one fp32 training step (the strategy's own) on COUNT_ROWS rows (after one untimed), times
    batch / rows: what a full step would about cost, known before running one."""
    trial, rows = copy.deepcopy(model).train(), min(COUNT_ROWS, units.shape[0])
    optimizers = strategy.optimizers(trial, 0.0)
    one_step(strategy, trial, optimizers, units[:rows], cond[:rows], "fp32")
    start = time.perf_counter()
    one_step(strategy, trial, optimizers, units[:rows], cond[:rows], "fp32")
    return (time.perf_counter() - start) * units.shape[0] / rows


def choose_precision(requested: str, strategy, model, batches, deterministic: bool = False,
                     budget_s: float | None = None) -> PrecisionChoice:
    """The precision to train in; ``batches`` are (units, cond) pairs on the model's device for the probe. With a
    wall-clock budget of ``budget_s`` seconds the probe may spend at most PROBE_SHARE of it: when fp32's first step
    says timing both would cost more (sample-level audio AR: a step takes seconds), training stays in fp32."""
    if requested != "auto":
        return PrecisionChoice(requested, f"asked for {requested}")
    device = next(model.parameters()).device
    if deterministic:
        return PrecisionChoice("fp32", "a deterministic run stays in fp32")
    if not has_bf16_units(device):
        return PrecisionChoice(
            "fp32",
            f"this {device.type.upper()} has no bf16 matrix units "
            f"({' / '.join(BF16_FLAGS)} not among its flags): bf16 would only add casts",
        )
    cap = None if budget_s is None else PROBE_SHARE * budget_s / (2 * len(batches))
    with preserved_random_state(device):
        if cap is not None:  # a scout: one fp32 step on a few rows, scaled to the batch, before any full step
            scout = scouted_step_seconds(strategy, model, *batches[0])
            if scout > cap:
                return PrecisionChoice("fp32", f"not timed: one fp32 step would take about {scout:.1f} s (timed on "
                                               f"{COUNT_ROWS} rows), so timing both precisions would spend more than "
                                               f"{PROBE_SHARE:.0%} of the {budget_s:.0f}-s budget")
        rate32, loss32, first32 = probe_rate(strategy, model, batches, "fp32", give_up_s=cap)
        if cap is not None and first32 > cap:
            return PrecisionChoice("fp32", f"not timed: one fp32 step took {first32:.1f} s, so timing both precisions "
                                           f"would spend more than {PROBE_SHARE:.0%} of the {budget_s:.0f}-s budget",
                                   {"fp32": round(rate32, 3)})
        limit = GIVE_UP_FACTOR * first32
        rate16, loss16, first16 = probe_rate(strategy, model, batches, "bf16", give_up_s=limit)
    rates = {"fp32": round(rate32, 3), "bf16": round(rate16, 3)}
    if first16 > limit:
        return PrecisionChoice("fp32", f"bf16 was timed and rejected: its first step took {first16:.1f} s, more than "
                                       f"{GIVE_UP_FACTOR:g}x fp32's first ({first32:.1f} s)", rates)
    agrees = abs(loss16 - loss32) <= LOSS_AGREEMENT * abs(loss32)
    if rate16 >= SPEEDUP_NEEDED * rate32 and agrees:
        return PrecisionChoice(
            "bf16",
            f"bf16 made {rate16 / rate32:.2f}x fp32's updates a second and its loss "
            f"agreed ({loss16:.4f} vs {loss32:.4f})",
            rates,
        )
    why = "its loss disagreed" if not agrees else f"it made only {rate16 / rate32:.2f}x fp32's updates a second"
    return PrecisionChoice("fp32", f"bf16 was timed and rejected: {why}", rates)


class preserved_random_state:
    """Run a block without moving torch's global generators (CPU and the device's)."""

    def __init__(self, device: torch.device):
        self.device = device

    def __enter__(self):
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None

    def __exit__(self, *exc):
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state(self.cuda, self.device)
        return False


def cpu_attention_flops() -> dict:
    """torch's counter knows the CUDA attention kernels; on a CPU ``scaled_dot_product_attention`` runs
    ``_scaled_dot_product_flash_attention_for_cpu``, counted here with the same formulas (QK^T and PV:
    4 B H S S' D forward, twice that backward), so the attention's FLOPs are not silently left out."""
    from torch.utils import flop_counter

    aten = torch.ops.aten
    mapping = {}
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        mapping[aten._scaled_dot_product_flash_attention_for_cpu] = (
            lambda q, k, v, *args, out_shape=None, **kwargs: flop_counter.sdpa_flop_count(q, k, v))
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu_backward"):
        mapping[aten._scaled_dot_product_flash_attention_for_cpu_backward] = (
            lambda g, q, k, v, *args, out_shape=None, **kwargs: flop_counter.sdpa_backward_flop_count(g, q, k, v))
    return mapping


def step_gflop(strategy, model, units: torch.Tensor, cond: torch.Tensor) -> float:
    """GFLOP of one training step's forward and backward passes on this batch (the strategy's own step: a GAN's
    discriminator and generator updates together), counted (the optimizer's few element-wise FLOPs per weight are
    not counted). Every counted operation (matrix products, convolutions, attention) is linear
    in the batch, so the count runs on COUNT_ROWS rows and is scaled to the batch: counting under the dispatch mode is
    slow (a WaveNet step over 32 one-second clips took minutes). Leaves the model's gradients and the random
    generators as they were."""
    device, rows = units.device, min(COUNT_ROWS, units.shape[0])
    trial = copy.deepcopy(model).train()
    optimizers = strategy.optimizers(trial, 0.0)
    counter = FlopCounterMode(display=False, custom_mapping=cpu_attention_flops())
    steps = strategy.count_steps  # a step that differs every few updates (a lazy penalty): the mean over its cycle
    with preserved_random_state(device), counter:
        for _ in range(steps):
            one_step(strategy, trial, optimizers, units[:rows], cond[:rows], "fp32")
    return counter.get_total_flops() / 1e9 * units.shape[0] / rows / steps
