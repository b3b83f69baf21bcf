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
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genstrat.strategies.base import Generation, SamplingOptions, Strategy
from genstrat.strategies.sampling import guided_logits, gumbel_noise, sample_units


def cosine_schedule(r: torch.Tensor | float) -> torch.Tensor | float:
    """gamma(r) = cos(pi r / 2): the fraction of positions still masked at progress r."""
    if isinstance(r, torch.Tensor):
        return torch.cos(r * math.pi / 2)
    return math.cos(r * math.pi / 2)


def masked_count_after(step: int, steps: int, length: int, schedule=cosine_schedule) -> int:
    """How many positions remain masked after pass ``step`` of ``steps`` (0 after the last)."""
    return int(math.floor(schedule(step / steps) * length + 1e-9)) if step < steps else 0


class MaskPredict(Strategy):
    name = "mask-predict"
    causal = False
    default_options = SamplingOptions(temperature=1.0, guidance=1.5, noise=4.5)

    def __init__(self, schedule=cosine_schedule):
        self.schedule = schedule

    def steps_for(self, seq_len, requested):
        return 8 if requested is None else requested

    def loss(self, model, units, cond):
        batch, length = units.shape
        r = torch.rand(batch, device=units.device)
        n_masked = torch.ceil(self.schedule(r) * length).clamp(1, length)
        rank = torch.rand(batch, length, device=units.device).argsort(1).argsort(1)
        masked = rank < n_masked[:, None]
        logits = model(units.masked_fill(masked, model.mask_id), cond)[:, 1:]
        return F.cross_entropy(logits[masked], units[masked])

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None):
        opts = options or self.default_options
        steps = self.steps_for(model.cfg.seq_len, steps)
        batch, length = cond.shape[0], model.cfg.seq_len
        units = torch.full((batch, length), model.mask_id, dtype=torch.long, device=cond.device)
        confidence = torch.full((batch, length), float("-inf"), device=cond.device)
        for t in range(1, steps + 1):
            masked = units == model.mask_id
            logits = guided_logits(model, units, cond, opts.guidance)[:, 1:]
            drawn, logp = sample_units(logits, opts, generator)
            units = torch.where(masked, drawn, units)
            confidence = torch.where(masked, logp, confidence)
            score = confidence + opts.noise * (1 - t / steps) * gumbel_noise(logp.shape, generator, logp.device)
            n_still = int(masked[0].sum())
            if opts.revise:  # Mask-Predict: any token, old or new, may be re-masked and re-predicted
                n_next = masked_count_after(t, steps, length, self.schedule)
            else:  # MaskGIT: decided tokens stay; only this pass's new ones compete
                n_next = min(masked_count_after(t, steps, length, self.schedule), max(n_still - 1, 0))
                score = score.masked_fill(~masked, float("inf"))
            if n_next > 0:
                lowest = score.topk(n_next, dim=1, largest=False).indices
                units = units.scatter(1, lowest, model.mask_id)
            if on_version is not None:
                on_version(t, units.clone())
        return Generation(units=units, nfe=steps)
