"""`nar`: one-shot non-autoregressive generation, every position sampled independently.

p(x | c) is modelled as prod_i p(x_i | c) (as in NAT, Gu et al. 2018, without the latent
fertilities): the bidirectional backbone sees only the condition and an all-MASK canvas and
predicts every position in one pass. Each position then draws its own value. Where a
condition admits several whole answers (a "3" with a loop or without), positions pick
different ones and the mix is blurry noise: the lecture's multi-modality problem, left
visible on purpose. NFE = 1. On images whose sides allow it (digits, MNIST) the backbone reads
2×2 patch slots (``units/patches.py``; DiT, Peebles & Xie 2023 sec. 3.1): a quarter of the
slots makes a pass several times cheaper (docs/benchmarks.md, the all-strategy MNIST section),
and every pixel still has its own logits and its own independent draw, so the problem stays
visible.

On text the row has a fixed length and is read up to its first END (``nar-end``, the
lecture's second way to let NAR text stop; ``nar-length`` is the first). ``nar-end`` is the
same strategy under the name the text bench uses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genstrat.strategies.base import Generation, Strategy, SweepPoint
from genstrat.units.patches import patch_options
from genstrat.strategies.sampling import guided_logits, sample_units


class OneShot(Strategy):
    name = "nar"
    lecture_part = "one-shot"
    causal = False
    sweep_keys = ("temperature",)

    def steps_for(self, requested):
        return 1

    def backbone_options(self):
        return patch_options(self.units)

    def sweep(self, steps):
        """Over fixed-length units the one pass read two ways: drawn at the default temperature, and at each unit's
        most likely value (temperature 0, the "mode" series). Without z the mode is one object per label; with z
        (``latent``) one per z. Variable-length text keeps the drawn reading only."""
        drawn = [SweepPoint(1, {}, self.name)]
        return drawn if self.units.variable_length else drawn + [
            SweepPoint(1, {"temperature": 0.0}, f"{self.name} mode")]

    def blank(self, model, batch: int, device) -> torch.Tensor:
        return torch.full((batch, model.cfg.seq_len), model.mask_id, dtype=torch.long, device=device)

    def loss(self, model, units, cond):
        logits = model(self.blank(model, units.shape[0], units.device), cond)[:, model.cond_slots:]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), units.reshape(-1))

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None):
        opts = options or self.sampling_defaults()
        canvas = self.blank(model, cond.shape[0], cond.device)
        logits = guided_logits(model, canvas, cond, opts.guidance)[:, model.cond_slots:]
        units, _ = sample_units(logits, opts, generator)
        if on_version is not None:
            on_version(1, units.clone())
        return Generation(units=units, nfe=1)


class EndCutNAR(OneShot):
    """``nar`` under its text name: fixed length, the output cut at the first END."""

    name = "nar-end"
