"""`coarse-to-fine`: next-scale prediction, each scale in one parallel pass (VAR, Tian et al. 2024).

Versions go "small to large" (the lecture's second way to define versions): the image is
first a 1x1 grid, then 2x2, 4x4, ... up to full size (digits: 1, 2, 4, 8; MNIST: 1, 2, 4,
7, 14, 28; each side halved, rounding up, until 1). Every scale is the full image
area-averaged to that size and quantised to the same levels. The backbone sees the
concatenation of all scales and predicts

    p(x) = prod_k p(r_k | r_1, ..., r_{k-1}, c)     (VAR eq. 5, with r_k the k-th scale)

with a block-causal mask: a slot attends to its own scale and every coarser one. The input
at scale k's slots is scale k-1 upsampled (nearest) to scale k's size, so each slot knows
where in the coarser image it sits (VAR's upsampled "previous scale" input, on tokens
rather than features). Within a scale all positions are drawn in parallel. Training is
teacher-forced cross-entropy on every slot of every scale. NFE = number of scales.

It works on 8x8 digits (85 slots) and fails on MNIST at 28x28: its six scales hold 1,050 slots, the two finest 980
of them, so a training step costs ~45x a code prior's (412 against 9.2 GFLOP at batch 32, docs/results/
throughput.json) and 10 minutes buy ~200 updates where pixel strategies that work there made 2,000-9,000; and its
finest pass draws 784 pixels independently given a 14x14 image, one-shot NAR's problem inside one scale. The cheaper
first scales do not help: the cost is the last two. ``two-stage:next-scale`` (``next_scale.py``) is the same idea
over 88 codes of a learned stage one (docs/benchmarks.md, "why pixel coarse-to-fine fails on MNIST").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genstrat.strategies.base import Generation, Strategy
from genstrat.strategies.sampling import guided_logits, sample_units
from genstrat.units import PixelUnits


def scale_sizes(height: int, width: int) -> list[tuple[int, int]]:
    """Halve each side, rounding up, down to 1x1; coarsest first."""
    sizes = [(height, width)]
    while sizes[-1] != (1, 1):
        h, w = sizes[-1]
        sizes.append((math.ceil(h / 2), math.ceil(w / 2)))
    return sizes[::-1]


class CoarseToFine(Strategy):
    name = "coarse-to-fine"
    lecture_part = "iterative"
    modalities = ("image",)
    causal = False
    code_prior = False  # it shrinks and grows pixels; codes have no coarser scale here

    def __init__(self, units: PixelUnits):
        super().__init__(units)
        self.spaces = [PixelUnits(units.levels, units.channels, h, w)
                       for h, w in scale_sizes(units.height, units.width)]
        self.lengths = [s.seq_len for s in self.spaces]
        self.offsets = [sum(self.lengths[:k]) for k in range(len(self.lengths) + 1)]
        slot_scale = torch.cat([torch.tensor([-1])] + [torch.full((n,), k) for k, n in enumerate(self.lengths)])
        self.block_mask = slot_scale[None, :] <= slot_scale[:, None].clamp(min=0)  # (S, S): True = may attend

    def backbone_options(self):
        return {"seq_len": self.offsets[-1]}

    def steps_for(self, requested):
        return len(self.spaces)

    def pyramid(self, units: torch.Tensor) -> list[torch.Tensor]:
        """Full-resolution units (B, L) -> units of every scale, coarsest first."""
        images = self.units.decode(units)
        return [space.encode(F.adaptive_avg_pool2d(images, (space.height, space.width))) for space in self.spaces]

    def upsample(self, units: torch.Tensor, k: int, to: int) -> torch.Tensor:
        """Scale-k units -> nearest-neighbour units at scale ``to``'s size (exact token ids)."""
        src, dst = self.spaces[k], self.spaces[to]
        grid = units.reshape(-1, src.height, src.width, src.channels).permute(0, 3, 1, 2).float()
        grid = F.interpolate(grid, size=(dst.height, dst.width), mode="nearest")
        return grid.permute(0, 2, 3, 1).reshape(units.shape[0], dst.seq_len).long()

    def inputs(self, scales: list[torch.Tensor], mask_id: int) -> torch.Tensor:
        """Tokens fed at every slot up to scale len(scales): MASK for scale 0, else the previous scale upsampled."""
        first = torch.full((scales[0].shape[0], self.lengths[0]), mask_id, dtype=torch.long, device=scales[0].device)
        return torch.cat([first] + [self.upsample(scales[k - 1], k - 1, k)
                                    for k in range(1, len(scales) + 1) if k < len(self.spaces)], 1)

    def loss(self, model, units, cond):
        scales = [s.to(units.device) for s in self.pyramid(units.cpu())]
        mask = self.block_mask.to(units.device)
        logits = model(self.inputs(scales[:-1], model.mask_id), cond, attn_mask=mask)[:, model.cond_slots:]
        target = torch.cat(scales, 1)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None):
        opts = options or self.sampling_defaults()
        scales: list[torch.Tensor] = []
        for k in range(len(self.spaces)):
            end = self.offsets[k + 1]
            tokens = self.inputs(scales, model.mask_id) if scales else torch.full(
                (cond.shape[0], self.lengths[0]), model.mask_id, dtype=torch.long, device=cond.device)
            mask = self.block_mask[: end + 1, : end + 1].to(cond.device)
            logits = guided_logits(model, tokens, cond, opts.guidance, attn_mask=mask)[:, 1 + self.offsets[k]:]
            drawn, _ = sample_units(logits, opts, generator)
            scales.append(drawn)
            if on_version is not None:
                on_version(k + 1, self.upsample(drawn, k, len(self.spaces) - 1))
        return Generation(units=scales[-1], nfe=len(self.spaces))
