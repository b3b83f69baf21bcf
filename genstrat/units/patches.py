"""Patches: a p x p block of an image's units (all its channels) read as one backbone slot.

DiT (Peebles & Xie 2023, sec. 3.1) and U-ViT (Bao et al. 2023) cut an image into p x p patches
and give the Transformer one token per patch; attention is quadratic in the number of slots,
so on MNIST (28 x 28) 2 x 2 patches make a pass over 196 slots instead of 784, about 5x
cheaper on the CPU. The units themselves stay pixels: a strategy still sees (B, L) units in
raster order (channels innermost, ``PixelUnits``) and every pixel keeps its own value and
its own prediction; only the backbone groups them. ``diffusion`` patches its real values
(up to 4 x 4 with its own slot limit: 49 slots on MNIST),
and the bidirectional discrete strategies (``nar``, ``latent``, ``mask-predict``) let the
backbone patch their tokens (``BackboneConfig.patch``, :func:`patch_options`: 2 x 2 on digits
and MNIST). AR keeps one pixel per slot: its step is one unit.
"""

from __future__ import annotations

import torch

MAX_SLOTS = 256  # patch the image until it fits in this many slots ...
MIN_SLOTS = 16   # ... but never into fewer than this: then one pixel per slot


def patch_side(units, max_slots: int | None = None) -> int:
    """The smallest patch side p dividing the image's height and width that leaves at most ``max_slots`` (default
    MAX_SLOTS) patches, or 1 (one pixel per slot) when only patches leaving fewer than MIN_SLOTS would do (e.g. a
    prime side), and for units that are not an image (text)."""
    fits = fitting_sides(units, smallest=1, max_slots=max_slots)
    return fits[0] if fits else 1


def patch_options(units) -> dict:
    """Backbone settings that patch a discrete bidirectional strategy's image: the smallest patch side p >= 2 dividing
    both sides that leaves MIN_SLOTS to MAX_SLOTS slots (MNIST and digits: 2), or none (one unit per slot) when no such
    p exists (a 7 x 7 code grid, a prime side) or the units are not an image. Unlike diffusion's :func:`patch_side`
    this patches even images that would fit unpatched: on digits (8 x 8) 2 x 2 patches gave mask-predict ~3.8x the
    updates in the same 3 minutes (docs/benchmarks.md)."""
    fits = fitting_sides(units, smallest=2)
    return {"patch": fits[0], "image": tuple(units.shape)} if fits else {}


def fitting_sides(units, smallest: int, max_slots: int | None = None) -> list[int]:
    """Every patch side p >= ``smallest`` dividing the image's height and width into MIN_SLOTS to ``max_slots``
    (default MAX_SLOTS) patches, in increasing order; none for units that are not an image (text)."""
    if getattr(units, "height", None) is None:
        return []
    most = MAX_SLOTS if max_slots is None else max_slots
    return [p for p in range(smallest, min(units.height, units.width) + 1) if units.height % p == 0
            and units.width % p == 0 and MIN_SLOTS <= (units.height // p) * (units.width // p) <= most]


def to_slots(x: torch.Tensor, image: tuple[int, int, int], p: int) -> torch.Tensor:
    """(B, L, ...) in raster order (channels innermost) of a (channels, height, width) image
    -> (B, slots, p * p * channels, ...): slot s holds patch s, its units in raster order inside the patch."""
    c, h, w = image
    rest = x.shape[2:]
    patches = x.reshape(-1, h // p, p, w // p, p, c, *rest).transpose(2, 3)
    return patches.reshape(-1, (h // p) * (w // p), p * p * c, *rest)


def from_slots(slots: torch.Tensor, image: tuple[int, int, int], p: int) -> torch.Tensor:
    """The inverse of :func:`to_slots`: (B, slots, p * p * channels, ...) -> (B, L, ...)."""
    c, h, w = image
    rest = slots.shape[3:]
    pixels = slots.reshape(-1, h // p, w // p, p, p, c, *rest).transpose(2, 3)
    return pixels.reshape(-1, h * w * c, *rest)
