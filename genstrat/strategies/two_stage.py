"""`two-stage:<prior>`: compress with a learned auto-encoder, generate the codes, decode.

The lecture's second fix, and the shape of VQ-VAE / VQGAN + transformer (van den Oord et al.
2017; Esser et al. 2021) with ``ar`` as the prior, MaskGIT (Chang et al. 2022) with
``mask-predict``, and latent diffusion (Rombach et al. 2022) with ``diffusion`` over continuous
latents. The auto-encoder (``nn/autoencoder.py``) is trained first and frozen; the prior is any
image strategy, unchanged, bound to the codes' unit space (``units/codes.py``) instead of
pixels: on MNIST, 7 x 7 = 49 codes instead of 784 pixels, so pixel AR's 784 sequential steps
become 49.

From the outside a two-stage strategy generates pixels like any other: ``generate`` runs the
prior, decodes its codes (one decoder pass, not counted as a sequential network evaluation of
the prior, but inside every timing) and quantises the images to the data's levels. Every
intermediate version of the prior goes through the decoder before the callback sees it (the
Midjourney view). Training sees the codes of every training image, computed once
(``training_data``).

FSQ codes are not arbitrary symbols: code i is a point on the quantiser's grid (its level on
each of 4 channels), and neighbouring points decode to similar patches. The pipeline tells
the prior's backbone so (``code_levels``, ``nn/backbone.py``): each code's input embedding
and output logit get a learned linear function of its coordinates on top of its own row,
the prior's strategy file unchanged. On MNIST (one bench run each, n = 1,000) this took
two-stage AR from Fréchet 7.52 to 5.87 and two-stage mask-predict at 8 passes from 15.6 to
14.5 (docs/benchmarks.md).

Sampling defaults over codes (``CODE_DEFAULTS``) differ from pixels' for two priors. A sweep
on MNIST's codes (one trained checkpoint each, n = 1,000, two sampling seeds; docs/benchmarks.md,
"guidance over codes") found classifier-free guidance 1.5 far too strong there: the AR
prior's Fréchet went 16.6-21.2 at w = 1.5, 7.1-7.7 at 1.2, 5.1-5.5 at 1.0 (agreement 0.975,
0.94, 0.88), and mask-predict's at 8 passes 25.5 (w 1.5, noise 4.5) -> 14.0-16.6 (w 1.2,
noise 8). Latent diffusion was best at w = 1.5 to 3 while its time features only entered the
input; with adaLN-Zero it follows the label far more closely and w = 1.5 over-sharpened it too:
DPM-Solver++ 20 scored 17.9 / 14.7 at w = 1.5, 9.6 / 8.0 at 1.2, 15.2 / 14.0 at 1.0 (sampling
seeds 1 / 2; docs/benchmarks.md), and the same held over pixels, so diffusion's own default
is w = 1.2. Over the 4-channel latents that replaced the 2-channel ones the best value moved
again, to w = 1 (the plain conditional model, one network batch per step instead of two):
DPM-Solver++ 8 steps scored 7.9 / 6.0 at w = 1.0, 9.8 / 6.8 at 1.1, 13.1 / 9.2 at 1.2 and
17.3 / 12.9 at 1.3 (sampling seeds 2 / 3, not the bench's seed 1; docs/benchmarks.md), while
pixels keep 1.2 (their DPM-Solver++ 20 scored 15.2 / 16.2 at w = 1.0 against 8.9 / 10.9 at 1.2).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from genstrat.errors import GenstratError
from genstrat.strategies.base import Generation, Strategy
from genstrat.units.codes import CodeUnits

PREFIX = "two-stage:"
CODE_DEFAULTS = {"ar": {"guidance": 1.2}, "mask-predict": {"guidance": 1.2, "noise": 8.0}, "diffusion": {"guidance": 1.0}}  # see the module docstring


class TwoStage(Strategy):
    modalities = ("image",)

    def __init__(self, prior: Strategy):
        if isinstance(prior, TwoStage) or "image" not in prior.modalities or prior.name == "coarse-to-fine":
            raise GenstratError(f"'{prior.name}' cannot be a two-stage prior (coarse-to-fine shrinks pixels, not codes); "
                                f"use {PREFIX}ar, {PREFIX}mask-predict, {PREFIX}nar, {PREFIX}latent or {PREFIX}diffusion")
        self.prior = prior
        self.name = PREFIX + prior.name
        self.causal = prior.causal
        self.default_options = prior.default_options.merged(**CODE_DEFAULTS.get(prior.name, {}))
        self.autoencoder, self.encoded = None, None

    @property
    def quantizer(self) -> str:
        """The auto-encoder kind this prior needs: continuous latents for diffusion, discrete codes otherwise."""
        return "continuous" if self.prior.backbone_options().get("continuous") else "fsq"

    def attach(self, autoencoder, encoded=None) -> "TwoStage":
        """Use this (trained) auto-encoder; ``encoded`` = its codes of the training data, when already computed."""
        if autoencoder.cfg.quantizer != self.quantizer:
            raise GenstratError(f"{self.name} needs a '{self.quantizer}' auto-encoder, got a '{autoencoder.cfg.quantizer}' one; "
                                f"train one with genstrat train-autoencoder --quantizer {self.quantizer}")
        self.autoencoder, self.encoded = autoencoder.eval(), encoded
        return self

    def bind(self, units) -> "TwoStage":
        if self.autoencoder is None:
            raise GenstratError(f"{self.name} needs an auto-encoder: pass --autoencoder DIR (made by genstrat train-autoencoder)")
        ae = self.autoencoder.cfg
        if (ae.channels, ae.height, ae.width) != tuple(units.shape):
            raise GenstratError(f"the auto-encoder was trained on {ae.channels}x{ae.height}x{ae.width} images but the data has "
                                f"{'x'.join(map(str, units.shape))}; train one on this data")
        self.units = units
        self.codes = CodeUnits.of(self.autoencoder)
        self.prior.bind(self.codes)
        return self

    @property
    def model_units(self):
        return self.codes

    def backbone_options(self):
        """The prior's options, plus its codes' FSQ levels when each slot holds one code (the backbone's
        ``code_levels``: a code's embedding and logit also see its coordinates)."""
        options = dict(self.prior.backbone_options())
        ae = self.autoencoder.cfg if self.autoencoder is not None else None
        if ae is not None and ae.quantizer == "fsq" and options.get("patch", 1) == 1:
            options["code_levels"] = list(ae.fsq_levels)
        return options

    def steps_for(self, seq_len, requested):
        return self.prior.steps_for(self.codes.seq_len, requested)

    def sweep(self, seq_len, steps):
        return self.prior.sweep(self.codes.seq_len, steps)

    def encode(self, units: torch.Tensor) -> torch.Tensor:
        """Pixel units -> code units (int16: up to 1,024 codes or 256 levels)."""
        self.autoencoder.to("cpu")
        return self.codes.encode(self.units.decode(units.long())).to(torch.int16)

    def training_data(self, data):
        """The dataset with every image replaced by its codes (computed once per auto-encoder)."""
        if self.encoded is None:
            self.encoded = replace(data, units=self.codes, train_units=self.encode(data.train_units),
                                   test_units=self.encode(data.test_units))
        return self.encoded

    def loss(self, model, units, cond):
        """``units`` are codes here: the training loop draws its batches from ``training_data``."""
        return self.prior.loss(model, units, cond)

    def to_pixels(self, codes: torch.Tensor) -> torch.Tensor:
        self.autoencoder.to(codes.device)
        return self.units.encode(self.codes.decode(codes))

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None):
        relay = None if on_version is None else (lambda i, codes: on_version(i, self.to_pixels(codes)))
        out = self.prior.generate(model, cond, steps, generator, on_version=relay, options=options or self.sampling_defaults())
        return Generation(units=self.to_pixels(out.units), nfe=out.nfe)
