"""Patches: a block of neighbouring units (all their channels) read as one backbone slot, in 1-D or 2-D.

DiT (Peebles & Xie 2023, sec. 3.1) and U-ViT (Bao et al. 2023) cut an image into p x p patches and give the
Transformer one token per patch; attention is quadratic in the number of slots, so fewer, larger slots make a pass
much cheaper on a CPU. A row of audio samples or code frames is cut the same way into runs of p units. The units
themselves stay as they are: a strategy still sees (B, L) units in raster order (channels innermost) and every unit
keeps its own value and prediction; only the backbone groups them.

Geometry comes from the unit space (``units/space.py``): ``shape`` is (C, H, W) or (T,), and ``patchable`` says
whether a fixed block of neighbours means anything (text rows end anywhere: not patchable). A ``layout`` below is
(channels, *sides): (C, H, W) for an image, (1, T) for a row.
"""

from __future__ import annotations

import math

import torch

MAX_SLOTS = 256  # patch the object until it fits in this many slots ...
MIN_SLOTS = 16   # ... but never into fewer than this: then one unit per slot


def layout_of(units) -> tuple[int, ...] | None:
    """(channels, *sides) of a patchable unit space, None otherwise: (C, H, W) stays, (T,) becomes (1, T)."""
    if not units.patchable:
        return None
    shape = tuple(units.shape)
    return shape if len(shape) == 3 else (1, *shape)


def units_per_slot(layout: tuple[int, ...], p: int) -> int:
    """p ** dims * channels: how many units one slot of side p holds."""
    return p ** (len(layout) - 1) * layout[0]


def patch_side(units, max_slots: int | None = None) -> int:
    """The smallest patch side p dividing every side that leaves at most ``max_slots`` (default MAX_SLOTS) patches,
    or 1 (one unit per slot) when only patches leaving fewer than MIN_SLOTS would do (e.g. a prime side), and for
    units that are not patchable (text)."""
    fits = fitting_sides(units, smallest=1, max_slots=max_slots)
    return fits[0] if fits else 1


def patch_options(units) -> dict:
    """Backbone settings that patch a discrete bidirectional strategy's units: the smallest patch side p >= 2
    dividing every side that leaves MIN_SLOTS to MAX_SLOTS slots (MNIST and digits: 2), or none (one unit per slot)
    when no such p exists (a 7 x 7 code grid, a prime side) or the units are not patchable. Unlike diffusion's
    :func:`patch_side` this patches even objects that would fit unpatched (docs/benchmarks.md: more updates a
    minute for mask-predict on digits)."""
    fits = fitting_sides(units, smallest=2)
    return {"patch": fits[0], "layout": layout_of(units)} if fits else {}


def fitting_sides(units, smallest: int, max_slots: int | None = None) -> list[int]:
    """Every patch side p >= ``smallest`` dividing every side into MIN_SLOTS to ``max_slots`` (default MAX_SLOTS)
    patches, in increasing order; none for units that are not patchable."""
    layout = layout_of(units)
    if layout is None:
        return []
    sides, most = layout[1:], MAX_SLOTS if max_slots is None else max_slots
    return [p for p in range(smallest, min(sides) + 1)
            if all(s % p == 0 for s in sides) and MIN_SLOTS <= math.prod(s // p for s in sides) <= most]


def to_slots(x: torch.Tensor, layout: tuple[int, ...], p: int) -> torch.Tensor:
    """(B, L, ...) in raster order (channels innermost) -> (B, slots, units_per_slot, ...): slot s holds patch s,
    its units in raster order inside the patch. ``layout`` is (C, T) or (C, H, W)."""
    rest = x.shape[2:]
    if len(layout) == 2:
        c, t = layout
        return x.reshape(-1, t // p, p * c, *rest)
    c, h, w = layout
    patches_BhwppC = x.reshape(-1, h // p, p, w // p, p, c, *rest).transpose(2, 3)
    return patches_BhwppC.reshape(-1, (h // p) * (w // p), p * p * c, *rest)


def from_slots(slots: torch.Tensor, layout: tuple[int, ...], p: int) -> torch.Tensor:
    """The inverse of :func:`to_slots`: (B, slots, units_per_slot, ...) -> (B, L, ...)."""
    rest = slots.shape[3:]
    if len(layout) == 2:
        c, t = layout
        return slots.reshape(-1, t * c, *rest)
    c, h, w = layout
    pixels_BhpwpC = slots.reshape(-1, h // p, w // p, p, p, c, *rest).transpose(2, 3)
    return pixels_BhpwpC.reshape(-1, h * w * c, *rest)
