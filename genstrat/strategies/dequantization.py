"""Discrete unit levels as real values and back, for the strategies that model real values with a density or a
discriminator (``gan``, ``flow``).

Uniform dequantization (Theis et al. 2016, sec. 3.1; Ho et al. 2019, Flow++ sec. 3.1): level k of V becomes a real
x = 2 (k + u) / V - 1 with u ~ U[0, 1), so the V levels tile [-1, 1] in bins of width 2 / V and a continuous model
of x never sees a point mass (a flow's density would grow without bound on one, a discriminator would tell real
images from generated ones by their exact levels alone). Then p(k) = integral of p(x) over k's bin
>= (2 / V) exp E_u[log p(x)] (Jensen), so -log2 p(k) <= E_u[-log2 p(x)] + log2(V / 2): a continuous model's
negative log-density, plus log2(V / 2) per unit, bounds its discrete negative log-likelihood in bits per unit
(``bits_per_unit``), the same column as AR's. ``quantize`` is the inverse: the level whose bin holds x.

The slots are diffusion's (``diffusion.MAX_SLOTS``): patches of values, at most 64 slots (MNIST: 49 slots of a 4 x 4
patch), so every real-valued strategy reads the same layout.
"""

from __future__ import annotations

import math

import torch

from genstrat.units import patches


def dequantize(units: torch.Tensor, levels: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, L) levels -> (B, L) reals in [-1, 1): x = 2 (k + u) / V - 1, u ~ U[0, 1) (Theis et al. 2016)."""
    u = torch.rand(units.shape, generator=generator, device=units.device)
    return (units.float() + u) / levels * 2 - 1


def quantize(values: torch.Tensor, levels: int) -> torch.Tensor:
    """(B, L) reals -> the level whose bin holds each: floor((x + 1) / 2 * V), clamped to 0 .. V-1."""
    return ((values.float() + 1) / 2 * levels).floor().clamp(0, levels - 1).long()


def bin_bits(levels: int) -> float:
    """log2(V / 2): the bits per unit that turn a negative log-density in [-1, 1] into a discrete NLL bound."""
    return math.log2(levels / 2)


def slot_options(units, max_slots: int) -> dict:
    """Backbone settings for real-valued patch slots over ``units`` (as diffusion's)."""
    p = patches.patch_side(units, max_slots)
    per_slot = patches.units_per_slot(patches.layout_of(units), p)
    return {"continuous": True, "seq_len": units.seq_len // per_slot, "slot_values": per_slot}
