"""`mask-predict`: iterative NAR that predicts every masked position, keeps the confident
ones and re-masks the rest, K passes (Mask-Predict, Ghazvininejad et al. 2019; MaskGIT,
Chang et al. 2022).

Training (MaskGIT sec. 3.2): draw r ~ U(0, 1), mask ceil(gamma(r) * L) random positions,
where gamma is the mask schedule (cosine: gamma(r) = cos(pi r / 2), MaskGIT eq. 3 and
sec. 3.3), and minimise cross-entropy on the masked positions only (eq. 1).

Decoding (MaskGIT sec. 3.2, "iterative decoding"): at pass t = 1..K, sample a value for
every masked position; score it by its log-probability plus Gumbel noise whose scale
anneals linearly to 0 (``noise * (1 - t/K)``, the "choice temperature" of MaskGIT's
reference code); keep the best and re-mask the floor(gamma(t/K) * L) lowest-scoring ones.
Decided positions stay fixed (MaskGIT); with ``revise=True`` every position, old or new,
competes for re-masking by the probability it had when drawn, as in Mask-Predict's
"mask the lowest-probability tokens, re-predict them" (Ghazvininejad et al. sec. 3.2), so a
pass can correct an earlier one. Without the noise, plain confidence ordering fills the easy
background first and samples collapse toward blank images as K grows; the noise is what
keeps quality from falling with K.

Masking and decoding stay per unit (pixel); on images whose sides allow it (digits, MNIST)
the backbone only groups them into 2×2 patch slots (``units/patches.py``; DiT's patching,
Peebles & Xie 2023 sec. 3.1). Attention is quadratic in slots, so a quarter of the slots makes
a training step several times cheaper and buys correspondingly more updates in the same
training time (docs/benchmarks.md, "digits (embedded)" and the all-strategy MNIST section).

On text the length is predicted first (CMLM, Ghazvininejad et al. 2019 sec. 3.1; see
``lengths.py``): the schedule then counts positions within each row's own length, and the
length pass adds 1 to NFE.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genstrat.strategies.base import TOKEN_OPTIONS, Generation, Option, Strategy
from genstrat.strategies.lengths import content_only, length_canvas, length_head, length_loss, sample_lengths
from genstrat.strategies.sampling import guided_logits, gumbel_noise, sample_units
from genstrat.units.patches import patch_options


def cosine_schedule(r: torch.Tensor | float) -> torch.Tensor | float:
    """gamma(r) = cos(pi r / 2): the fraction of positions still masked at progress r (MaskGIT eq. 3, sec. 3.3)."""
    if isinstance(r, torch.Tensor):
        return torch.cos(r * math.pi / 2)
    return math.cos(r * math.pi / 2)


def masked_count_after(step: int, steps: int, length, schedule=cosine_schedule):
    """How many positions remain masked after pass ``step`` of ``steps`` (0 after the last).

    ``length`` is an int, or a (B,) tensor of per-row lengths (text), giving a (B,) tensor."""
    if isinstance(length, torch.Tensor):
        return torch.floor(schedule(step / steps) * length + 1e-9).long() if step < steps else torch.zeros_like(length)
    return int(math.floor(schedule(step / steps) * length + 1e-9)) if step < steps else 0


class MaskPredict(Strategy):
    name = "mask-predict"
    lecture_part = "iterative"
    causal = False
    options = TOKEN_OPTIONS + (
        Option("noise", 0.0, "Gumbel noise scale on confidences, annealed to 0 (MaskGIT's choice temperature)"),
        Option("revise", False, "decided units may be re-masked too (Mask-Predict) instead of kept (MaskGIT)",
               switch=True),
    )
    defaults = {"guidance": 1.5, "noise": 4.5}

    def __init__(self, units, schedule=cosine_schedule):
        super().__init__(units)
        self.schedule = schedule

    def steps_for(self, requested):
        return 8 if requested is None else requested

    def backbone_options(self):
        return {} if self.units.variable_length else patch_options(self.units)

    def parts(self, cfg):
        """Variable-length rows predict their length first (CMLM), so they add a length head."""
        return length_head(cfg, self.units) if self.units.variable_length else {}

    def loss(self, model, units, cond):
        """Cross-entropy on the positions masked at a random gamma(r) (MaskGIT sec. 3.2, eq. 1); text adds the
        length's (CMLM)."""
        batch, length = units.shape
        r = torch.rand(batch, device=units.device)
        if self.units.variable_length:  # text: mask within each row's own length
            lengths = self.units.lengths(units)
            n_masked = torch.ceil(self.schedule(r) * lengths).clamp(min=1)
            inside = torch.arange(length, device=units.device)[None] < lengths[:, None]
            rank = torch.rand(batch, length, device=units.device).masked_fill(~inside, 2.0).argsort(1).argsort(1)
            masked = (rank < n_masked[:, None]) & inside
        else:
            n_masked = torch.ceil(self.schedule(r) * length).clamp(1, length)
            rank = torch.rand(batch, length, device=units.device).argsort(1).argsort(1)
            masked = rank < n_masked[:, None]
        logits = model(units.masked_fill(masked, model.mask_id), cond)[:, model.cond_slots:]
        loss = F.cross_entropy(logits[masked], units[masked])
        return loss + length_loss(model, cond, lengths) if self.units.variable_length else loss

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None):
        opts = options or self.sampling_defaults()
        steps = self.steps_for(steps)
        batch, length = cond.shape[0], model.cfg.seq_len
        if self.units.variable_length:  # text: the length first (one more evaluation), then K passes inside it
            lengths = sample_lengths(model, cond, generator)
            units = length_canvas(model, self.units, lengths)
        else:
            lengths = torch.full((batch,), length, device=cond.device)
            units = torch.full((batch, length), model.mask_id, dtype=torch.long, device=cond.device)
        inside = torch.arange(length, device=cond.device)[None] < lengths[:, None]
        confidence = torch.full((batch, length), float("-inf"), device=cond.device)
        for t in range(1, steps + 1):
            masked = units == model.mask_id
            logits = guided_logits(model, units, cond, opts.guidance)[:, model.cond_slots:]
            if self.units.variable_length:  # inside its drawn length a row holds text tokens only
                logits = content_only(logits, self.units)
            drawn, logp = sample_units(logits, opts, generator)
            units = torch.where(masked, drawn, units)
            confidence = torch.where(masked, logp, confidence)
            score = confidence + opts.noise * (1 - t / steps) * gumbel_noise(logp.shape, generator, logp.device)
            n_next = masked_count_after(t, steps, lengths, self.schedule)
            if not opts.revise:  # MaskGIT: decided tokens stay; only this pass's new ones compete
                n_next = torch.minimum(n_next, (masked.sum(1) - 1).clamp(min=0))
                score = score.masked_fill(~masked, float("inf"))
            # (revise: Mask-Predict, any token inside the length, old or new, may be re-masked and re-predicted)
            score = score.masked_fill(~inside, float("inf"))
            remask = score.argsort(1).argsort(1) < n_next[:, None]  # the n_next lowest scores of each row
            units = units.masked_fill(remask, model.mask_id)
            if on_version is not None:
                on_version(t, units.clone())
        return Generation(units=units, nfe=steps + int(self.units.variable_length))
