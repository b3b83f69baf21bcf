"""`nar-length`: one-shot NAR text that predicts its length first (NAT, Gu et al. 2018).

The lecture's first way to let NAR text stop: a classifier picks the length n, then one
pass fills n positions, each drawn independently (p(x | c) = p(n | c) prod_{i<n} p(x_i | n, c);
NAT eq. 3 without fertilities). Knowing the length rules out mixing answers of different
lengths, but answers of the same length still mix. NFE = 2 (the length, then the tokens).
Compare ``nar-end``: fixed length, cut at the first END. Text only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genstrat.strategies.base import Generation, Strategy
from genstrat.strategies.lengths import content_only, length_canvas, length_head, length_loss, sample_lengths
from genstrat.strategies.sampling import guided_logits, sample_units


class LengthFirstNAR(Strategy):
    name = "nar-length"
    lecture_part = "one-shot"
    causal = False
    modalities = ("text",)

    def parts(self, cfg):
        return length_head(cfg, self.units)

    def steps_for(self, requested):
        return 1

    def loss(self, model, units, cond):
        lengths = self.units.lengths(units)
        canvas = length_canvas(model, self.units, lengths)
        logits = model(canvas, cond)[:, model.cond_slots:]
        inside = canvas == model.mask_id
        return F.cross_entropy(logits[inside], units[inside]) + length_loss(model, cond, lengths)

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None):
        opts = options or self.sampling_defaults()
        canvas = length_canvas(model, self.units, sample_lengths(model, cond, generator))
        if on_version is not None:
            on_version(1, canvas.clone())
        logits = content_only(guided_logits(model, canvas, cond, opts.guidance)[:, model.cond_slots:], self.units)
        drawn, _ = sample_units(logits, opts, generator)
        units = torch.where(canvas == model.mask_id, drawn, canvas)
        if on_version is not None:
            on_version(2, units.clone())
        return Generation(units=units, nfe=2)
