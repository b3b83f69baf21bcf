"""`ar`: autoregressive generation in raster order, one unit per network evaluation.

p(x | c) = prod_i p(x_i | x_<i, c)  (PixelCNN, van den Oord et al. 2016; Image GPT,
Chen et al. 2020; nanoGPT's ``generate``). Training is teacher-forced cross-entropy on
every position at once; sampling feeds each drawn unit back, with a KV cache so each step
computes one new slot. NFE = L, whatever ``steps`` says.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genstrat.strategies.base import Generation, SamplingOptions, Strategy
from genstrat.strategies.sampling import guided_logits, sample_units


class AutoRegressive(Strategy):
    name = "ar"
    causal = True
    default_options = SamplingOptions(temperature=1.0, guidance=1.5)

    def steps_for(self, seq_len, requested):
        return seq_len

    def loss(self, model, units, cond):
        logits = model(units[:, :-1], cond)  # slot i predicts unit i
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), units.reshape(-1))

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None):
        opts = options or self.default_options
        batch, length = cond.shape[0], model.cfg.seq_len
        rows = batch if opts.guidance == 1.0 else 2 * batch
        cache = model.new_cache(rows)
        units = torch.full((batch, length), model.mask_id, dtype=torch.long, device=cond.device)
        feed = units[:, :0]  # first evaluation: the condition slot alone
        for i in range(length):
            logits = guided_logits(model, feed, cond, opts.guidance, cache)[:, -1]
            value, _ = sample_units(logits, opts, generator)
            units[:, i] = value
            feed = value[:, None]
            if on_version is not None:
                on_version(i + 1, units.clone())
        return Generation(units=units, nfe=length)

    @torch.no_grad()
    def bits_per_unit(self, model, units, cond, batch_size: int = 500) -> float:
        """Test negative log-likelihood -log2 p(x | c) / L, averaged over images (bits per pixel)."""
        total, count = 0.0, 0
        for u, c in zip(units.split(batch_size), cond.split(batch_size)):
            u = u.long()
            logits = model(u[:, :-1], c)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), u.reshape(-1), reduction="sum").item()
            count += u.numel()
        return total / count / math.log(2)
