"""`next-scale`: predict a whole scale of codes in one pass, given the coarser ones (VAR, Tian et al. 2024).

The prior of ``two-stage:next-scale``, over a multi-scale stage one (``nn/multiscale.py``: token maps r_1 .. r_K of
growing size, one code table). It models

    p(r_1, ..., r_K | c) = prod_k p(r_k | r_1, ..., r_{k-1}, c)          (VAR eq. 6)

and draws every position of r_k at once: K passes where raster-order AR over the same grid makes one pass per code
(on MNIST's 7 x 7 grid with maps of 2 x 2 and 4 x 4, the 4 x 4 and the finest grid each in two checkerboard halves:
5 passes instead of 49).
It is the lecture's coarse-to-fine ("small to large" versions) and AR over versions in one model, in the compressed
space.

- **Inputs** (VAR's ``idxBl_to_var_input``, teacher forcing from the quantizer's own inputs): a slot of scale k reads
  the accumulated f_hat of scales < k, area-averaged to scale k's shape (``MultiScale.next_scale_inputs``), through a
  linear map (with the checkerboard: the 3 x 3 neighbourhood of f_hat around it, and a map drawn in two halves adds
  its first half's codes to f_hat before the second reads it, so the second half sees the codes drawn beside it;
  ``MultiScale.enter``), plus a learned embedding of its map; the backbone adds its learned per-slot
  position (so each slot knows its scale and its place in it). Scale 1's slot reads zeros: the condition, in the
  slot before it (VAR's start token is the class embedding), starts the pyramid.
- **Attention** is block-causal (VAR sec. 3.2): a slot sees its own scale and every coarser one, the condition slot
  the first scale. Training is one pass over all scales with that mask and cross-entropy on every code.
- **Sampling** keeps a KV cache across scales: pass k feeds only scale k's slots, which see the cached coarser ones
  and each other (the backbone is bidirectional, so "cached + new" is exactly the block-causal mask).
- **Guidance** is classifier-free (Ho & Salimans 2022, eq. 6) ramped with the scale (``guidance_ramp``). VAR
  (``models/var.py``: t = cfg * k / (K - 1)) leaves the coarsest map unguided, w_k = 1 + (w - 1) k / (K - 1)
  (``var``): its first map is one code. Here the first map is 2 x 2 and carries the digit's shape, and drawn from the
  conditional model alone it lowered agreement (0.893 where the 1 x 1 start read 0.930, docs/benchmarks.md), so by
  default every map is guided, w_k = 1 + (w - 1) (k + 1) / K (``every``); ``flat`` is w at every map.

NFE = K. Every version is the pyramid so far, decoded (finer scales absent add nothing to f_hat). The finest maps
hold the stage one's own codes (``nn/multiscale.py``, "The finest map"): the last passes turn the coarse pyramid into
the exact codes the decoder reads, by default in two checkerboard halves (``finest="checkerboard"``).

**Sampling defaults**, chosen by ``genstrat tune`` on a validation reference (n = 1,000, two seeds a setting, the
lowest mean validation Fréchet) of MNIST checkpoints at the default scales (2, 4, 7): the ramp ``every`` at w = 1.5
(docs/results/next-scale-mnist-guidance-ramp-tune.json, the third bench's checkpoint: 11.9, agreement 0.914; ``var``
at w = 1.75: 12.3 and 0.908, at 2: 12.0 and 0.925; ``flat`` at 1.5: 15.1; the spread between two seeds of one
setting is about 1.5, so the first four are a tie on Fréchet) and the finest maps at temperature 0.3
(``finest_temperature``; 0.15: 12.5, 0.5: 12.2, next-scale-mnist-four-pass-tune-finest-temperature.json), the coarser
maps at ``temperature`` 1 (0.8: 20.7, 1.15: 17.5 on the 5-pass checkpoint before, next-scale-mnist-coarse-temperature-
tune.json). On the 5-pass schedule (1, 2, 4, 7) a finest temperature of 0.3 read 13.4 where VAR's plain sampling
(temperature 1 everywhere) read 19.4 (next-scale-mnist-tune.json): the coarse maps keep their diversity, the finest
ones take the likeliest detail given them.

Tried on MNIST and not kept (docs/benchmarks.md, "Three more tries at the one-pass draws"): a random latent vector
per object for the maps drawn in one pass (a posterior over the coarse maps; it collapsed, and with free bits the
trunk did not read it), and every map weighted alike in the loss (the same validation Fréchet as VAR's uniform
weight per code).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from genstrat.errors import GenstratError
from genstrat.nn.placement import place
from genstrat.strategies.base import TOKEN_OPTIONS, Generation, Option, SamplingOptions, Strategy
from genstrat.strategies.sampling import combine_guidance, sample_units

FINEST_TEMPERATURE = Option("finest_temperature", 1.0, "softmax temperature of the finest scale's pass alone "
                                                       "(0 = its most likely codes); the coarser scales read "
                                                       "--temperature")


GUIDANCE_RAMP = Option("guidance_ramp", "var",
                       "how guidance grows over the maps: var (w_k = 1 + (w - 1) k / (K - 1), the first map unguided, "
                       "as VAR samples), every (1 + (w - 1) (k + 1) / K, every map guided) or flat (w at every map)",
                       str, ("var", "every", "flat"))


def ramped_guidance(w: float, k: int, maps: int, ramp: str) -> float:
    """Map k's (0-based, of ``maps``) guidance scale under ``ramp``; each reaches w at the finest map (``var`` leaves
    a lone map unguided, as VAR's t = cfg * k / (K - 1) would)."""
    if ramp == "flat":
        return w
    if ramp == "every":
        return 1.0 + (w - 1.0) * (k + 1) / maps
    return 1.0 + (w - 1.0) * k / max(maps - 1, 1)


class ScaleInput(nn.Module):
    """A slot's input from the coarser scales: W f + e_scale (VAR's ``word_embed`` and ``lvl_embed``)."""

    def __init__(self, code_channels: int, scales: int, d_model: int):
        super().__init__()
        self.features = nn.Linear(code_channels, d_model)
        self.scale = nn.Embedding(scales, d_model)
        nn.init.normal_(self.scale.weight, std=0.02)

    def forward(self, features: torch.Tensor, scale_ids: torch.Tensor) -> torch.Tensor:
        """(B, T, d_code) features and (T,) scale ids -> (B, T, d_model)."""
        return self.features(features) + self.scale(scale_ids)[None]


class NextScale(Strategy):
    name = "next-scale"
    lecture_part = "iterative"
    modalities = ("image", "audio")
    causal = False
    stage_one = "multiscale"
    standalone = False
    options = (*TOKEN_OPTIONS, FINEST_TEMPERATURE, GUIDANCE_RAMP)
    defaults = {"guidance": 1.5, "finest_temperature": 0.3, "guidance_ramp": "every"}
    earlier_defaults = {"guidance_ramp": "var"}  # checkpoints saved before the option sample as VAR ramps

    def __init__(self, units):
        super().__init__(units)
        quantizer = getattr(units, "autoencoder", None)
        if quantizer is None or getattr(quantizer.cfg, "quantizer", None) != "multiscale":
            raise GenstratError("next-scale predicts the scales of a multi-scale stage one; run it as "
                                "two-stage:next-scale")
        self.quantizer = quantizer
        self.lengths = list(quantizer.cfg.lengths)
        self.offsets = [sum(self.lengths[:k]) for k in range(len(self.lengths) + 1)]
        self.slot_scale = torch.cat([torch.full((n,), k) for k, n in enumerate(self.lengths)])  # (L,)
        with_condition = torch.cat([torch.tensor([0]), self.slot_scale])  # the condition slot is scale 1's
        self.block_mask = with_condition[None, :] <= with_condition[:, None]  # (S, S): True = may attend

    def parts(self, cfg):
        return {"scale_in": ScaleInput(self.quantizer.cfg.input_channels, len(self.lengths), cfg.d_model)}

    def steps_for(self, requested):
        return len(self.lengths)

    def slot_inputs(self, model, codes: torch.Tensor, scale: int | None = None) -> torch.Tensor:
        """Every slot's input up to scale ``scale`` (all by default), or only scale ``scale``'s when it is given."""
        upto = len(self.lengths) if scale is None else scale + 1
        place(self.quantizer, codes.device)
        with torch.no_grad():
            features = self.quantizer.next_scale_inputs(codes, upto)
        ids = self.slot_scale[: self.offsets[upto]].to(codes.device)
        if scale is not None:
            features, ids = features[:, self.offsets[scale]:], ids[self.offsets[scale]:]
        return model.scale_in(features, ids)

    def loss(self, model, units, cond):
        units = units.long()
        blank = torch.full_like(units, model.mask_id)
        logits = model(blank, cond, attn_mask=self.block_mask.to(units.device),
                       slot_inputs=self.slot_inputs(model, units))[:, model.cond_slots:]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), units.reshape(-1))

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None):
        opts = options or self.sampling_defaults()
        batch, scales, guided = cond.shape[0], len(self.lengths), opts.guidance != 1.0
        rows_cond = torch.cat([cond, model.null_condition(cond)]) if guided else cond
        cache = model.new_cache(rows_cond.shape[0])
        codes = torch.empty(batch, 0, dtype=torch.long, device=cond.device)
        place(self.quantizer, cond.device)
        below = self.quantizer.empty(batch, cond.device)  # the coarser scales so far, as the quantizer sums them
        for k in range(scales):
            blank = torch.full((batch, self.lengths[k]), model.mask_id, dtype=torch.long, device=cond.device)
            below, read = self.quantizer.enter(k, codes, below)
            ids = self.slot_scale[self.offsets[k]:self.offsets[k + 1]].to(cond.device)
            inputs = model.scale_in(self.quantizer.scale_input(read, k), ids)
            if guided:
                blank, inputs = torch.cat([blank, blank]), torch.cat([inputs, inputs])
            out = model(blank, rows_cond, cache, slot_inputs=inputs)
            out = out[:, model.cond_slots:] if k == 0 else out
            if guided:  # eq. 6 with a ramp (VAR's: the coarsest scale unguided, its conditional rows), the finest at w
                w = ramped_guidance(opts.guidance, k, scales, opts.guidance_ramp)
                out = combine_guidance(out, w) if w != 1.0 else out.chunk(2)[0]
            finest = self.quantizer.map_scale[k] >= self.quantizer.residual_scales and \
                opts.finest_temperature != opts.temperature
            drawn, _ = sample_units(out, SamplingOptions(opts, temperature=opts.finest_temperature) if finest else opts,
                                    generator)
            codes = torch.cat([codes, drawn], 1)
            if on_version is not None:
                pending = self.offsets[-1] - codes.shape[1]
                on_version(k + 1, F.pad(codes, (0, pending), value=model.mask_id))
        return Generation(units=codes, nfe=scales)
