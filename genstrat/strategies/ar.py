"""`ar`: autoregressive generation in raster order, one unit per network evaluation.

p(x | c) = prod_i p(x_i | x_<i, c)  (PixelCNN, van den Oord et al. 2016; Image GPT,
Chen et al. 2020; nanoGPT's ``generate``). Training is teacher-forced cross-entropy on
every position at once; sampling feeds each drawn unit back, with a KV cache so each step
computes one new slot. NFE = L, whatever ``steps`` says; on text, decoding stops once every
row has written END (NFE = the longest row + 1), and PAD after END is neither trained nor
scored.

The network is the shared Transformer with a KV cache, unless the unit space names another (``sequential_network``):
audio samples use a WaveNet with per-layer queues (``nn/wavenet.py``), which answers the same calls.

Each step after the first runs eagerly or as one compiled program at a fixed shape (``decode``: ``auto`` compiles
once the eager steps have cost what a compile does, and keeps it where it is faster; ``step_decoder.py``,
``nn/decode.py``); both draw the same units at a seed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genstrat.strategies.base import DECODE, TOKEN_OPTIONS, Generation, Strategy
from genstrat.strategies.step_decoder import StepDecoder


class AutoRegressive(Strategy):
    name = "ar"
    causal = True
    lecture_part = "autoregressive"
    options = TOKEN_OPTIONS + (DECODE,)

    def steps_for(self, requested):
        return self.units.seq_len

    def backbone_options(self):
        """The causal network the unit space asks for, where it names one (audio samples: a WaveNet)."""
        network = getattr(self.units, "sequential_network", "transformer")
        return {"network": network} if network != "transformer" else {}

    def ignored(self) -> int:
        """Target id the loss skips: PAD in variable-length rows (after END nothing is generated), else none."""
        return self.units.pad_id if self.units.variable_length else -100

    def loss(self, model, units, cond):
        logits = model(units[:, :-1], cond)[:, model.cond_slots - 1:]  # the slot before unit i predicts it
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), units.reshape(-1), ignore_index=self.ignored())

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None):
        opts = options or self.sampling_defaults()
        batch, length = cond.shape[0], model.cfg.seq_len
        rows = batch if opts.guidance == 1.0 else 2 * batch
        cache = model.new_cache(rows)
        units = torch.full((batch, length), model.mask_id, dtype=torch.long, device=cond.device)
        end = self.units.end_id  # variable-length rows stop at END; fixed-length units have none
        done = torch.zeros(batch, dtype=torch.bool, device=cond.device)
        decoder = StepDecoder(model, rows, opts)
        value = units[:, :0]  # first evaluation: the condition slots alone, always eager
        for i in range(length):
            value = decoder.next_values(i, value, cond, cache, generator)
            if end is not None:  # rows that have ended carry PAD
                value = value.masked_fill(done, self.units.pad_id)
                done |= value == end
            units[:, i] = value
            finished = end is not None and bool(done.all())
            if finished:  # every row has ended: the rest is PAD, in the last version too
                units[:, i + 1:] = self.units.pad_id
            if on_version is not None:
                on_version(i + 1, units.clone())
            if finished:
                return Generation(units=units, nfe=i + 1)
        return Generation(units=units, nfe=length)

    @torch.no_grad()
    def bits_per_unit(self, model, units, cond, batch_size: int = 500) -> float:
        """Test negative log-likelihood -log2 p(x | c) per unit (bits per pixel; on text per token, END
        included, PAD excluded)."""
        return self.total_nats(model, units, cond, batch_size)[0] / math.log(2)

    @torch.no_grad()
    def total_nats(self, model, units, cond, batch_size: int = 500) -> tuple[float, int, torch.Tensor]:
        """(mean nats per scored unit, number of scored units, nats of each row) of -log p(x | c)."""
        rows = []
        for u, c in zip(units.split(batch_size), cond.split(batch_size)):
            u = u.long()
            logits = model(u[:, :-1], c.long())[:, model.cond_slots - 1:]
            nats = F.cross_entropy(logits.transpose(1, 2), u, ignore_index=self.ignored(), reduction="none")
            rows.append(nats.sum(1))
        per_row = torch.cat(rows)
        count = int((units != self.ignored()).sum())
        return float(per_row.sum()) / max(count, 1), count, per_row
