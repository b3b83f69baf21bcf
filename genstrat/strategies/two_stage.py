"""`two-stage:<prior>`: compress with a learned auto-encoder, generate the codes, decode.

The lecture's second fix, and the shape of VQ-VAE / VQGAN + transformer (van den Oord et al.
2017; Esser et al. 2021) with ``ar`` as the prior, MaskGIT (Chang et al. 2022) with
``mask-predict``, and latent diffusion (Rombach et al. 2022) with ``diffusion`` over continuous
latents. The auto-encoder (``nn/autoencoder.py``) is trained first and frozen; the prior is any
strategy, unchanged, built over the codes' unit space (``units/codes.py``) instead of pixels: on
MNIST, 7 x 7 = 49 codes instead of 784 pixels, so pixel AR's 784 sequential steps become 49.

From the outside a two-stage strategy generates pixels like any other: ``generate`` runs the
prior, decodes its codes (one decoder pass, not counted as a sequential network evaluation of
the prior, but inside every timing) and quantises the images to the data's levels. Every
intermediate version of the prior goes through the decoder before the callback sees it (the
Midjourney view). Training sees the codes of every training image, computed once
(``training_data``).

FSQ codes are not arbitrary symbols: code i is a point on the quantiser's grid (its level on
each channel; Mentzer et al. 2024), and neighbouring points decode to similar patches. The
pipeline tells the prior's backbone so (``code_levels``, ``nn/backbone.py``): each code's input
embedding and output logit get a learned linear function of its coordinates on top of its own
row, the prior's strategy file unchanged.

Sampling defaults over codes (``CODE_DEFAULTS``) differ from pixels' for three priors: a guidance
sweep over codes found the pixel defaults too strong there (the figures are in
docs/history.md, "guidance over codes" and the latent-diffusion sections). Over audio codes
mask-predict also samples at temperature 0.9 (``MODALITY_CODE_DEFAULTS``), chosen by
``genstrat tune`` on a validation reference, not on the bench's test split.
"""

from __future__ import annotations

import dataclasses

import torch

from genstrat.errors import GenstratError
from genstrat.nn.placement import place
from genstrat.strategies.base import Generation, Strategy, SweepPoint
from genstrat.units.codes import CodeUnits

from genstrat.strategies.spec import TWO_STAGE as PREFIX  # the one spelling of the prefix (spec.py)
CODE_DEFAULTS = {"ar": {"guidance": 1.2}, "mask-predict": {"guidance": 1.2, "noise": 8.0},
                 "diffusion": {"guidance": 1.0}}  # see the module docstring
# and, per modality, over CODE_DEFAULTS: the temperature `genstrat tune` chose for mask-predict over the fsdd codec's
# codes on a validation reference (docs/benchmarks.md, "Sampling settings of two-stage mask-predict over audio codes")
MODALITY_CODE_DEFAULTS = {"audio": {"mask-predict": {"temperature": 0.9}}}


def quantizer_for(prior: type[Strategy]) -> str:
    """The stage-one kind a prior needs: the one it names (``next-scale``: multi-scale codes), else continuous
    latents for a strategy over real values and discrete codes otherwise."""
    return prior.stage_one or ("continuous" if prior.continuous else "fsq")


def encode_data(data, autoencoder):
    """``data`` with every object replaced by its codes under ``autoencoder`` (int16: up to 65,536 codes)."""
    codes = CodeUnits.of(autoencoder.to("cpu"))

    def encode(units: torch.Tensor) -> torch.Tensor:
        return codes.encode(data.units.decode(units.long())).to(torch.int16 if codes.vocab_size <= 32768 else
                                                                torch.int32)

    return dataclasses.replace(data, units=codes, train_units=encode(data.train_units),
                               test_units=encode(data.test_units))


class TwoStage(Strategy):
    """A prior strategy over an auto-encoder's codes; built from the prior's class, the data's units and the
    trained auto-encoder (``encoded``: its codes of the training data, when already computed)."""

    modalities = ("image", "audio")
    lecture_part = "two-stage"

    def __init__(self, prior: type[Strategy], units, autoencoder, encoded=None):
        super().__init__(units)
        self.name = PREFIX + prior.name
        if autoencoder is None:
            raise GenstratError(f"{self.name} needs an auto-encoder: pass --autoencoder DIR "
                                f"(made by genstrat train-autoencoder)")
        self.quantizer = quantizer_for(prior)
        if autoencoder.cfg.quantizer != self.quantizer:
            how = " --base DIR (an fsq one)" if self.quantizer == "multiscale" else ""
            raise GenstratError(f"{self.name} needs a '{self.quantizer}' auto-encoder, got a "
                                f"'{autoencoder.cfg.quantizer}' one; train one with genstrat train-autoencoder "
                                f"--quantizer {self.quantizer}{how}")
        trained_on = tuple(autoencoder.cfg.data_shape)
        if trained_on != tuple(units.shape):
            raise GenstratError(f"the auto-encoder was trained on objects of shape {'x'.join(map(str, trained_on))} "
                                f"but the data has {'x'.join(map(str, units.shape))}; train one on this data")
        self.autoencoder, self.encoded = autoencoder.eval(), encoded
        self.codes = CodeUnits.of(self.autoencoder)
        self.prior = prior(self.codes)
        self.causal = prior.causal
        self.through_ddp, self.count_steps = prior.through_ddp, prior.count_steps
        self.options, self.sweep_keys, self.earlier_defaults = prior.options, prior.sweep_keys, prior.earlier_defaults
        self.defaults = {**prior.defaults, **CODE_DEFAULTS.get(prior.name, {}),
                         **MODALITY_CODE_DEFAULTS.get(units.modality, {}).get(prior.name, {})}

    @property
    def model_units(self):
        return self.codes

    def backbone_options(self):
        """The prior's options, plus its codes' FSQ levels when each slot holds one code (the backbone's
        ``code_levels``: a code's embedding and logit also see its coordinates; over a multi-scale stage one whose
        finest map is the base's codes, those codes' levels: the coarser maps' ids share the table and learn to
        ignore the term)."""
        options = dict(self.prior.backbone_options())
        ae = self.autoencoder.cfg
        if ae.quantizer == "fsq" and options.get("patch", 1) == 1:
            options["code_levels"] = list(ae.fsq_levels)
        elif ae.quantizer == "multiscale" and ae.finest == "codes":  # the finest map's ids are the base's FSQ codes
            options["code_levels"] = list(ae.base_config.fsq_levels)
        return options

    def parts(self, cfg):
        return self.prior.parts(cfg)

    def steps_for(self, requested):
        return self.prior.steps_for(requested)

    def sweep(self, steps):
        """The prior's sweep, its series renamed after this strategy."""
        cut = len(self.prior.name)
        return [SweepPoint(p.steps, p.overrides, self.name + p.series[cut:]) for p in self.prior.sweep(steps)]

    def training_data(self, data):
        """The dataset with every image replaced by its codes (computed once per auto-encoder)."""
        if self.encoded is None:
            self.encoded = encode_data(data, self.autoencoder)
        return self.encoded

    def loss(self, model, units, cond):
        """``units`` are codes here: the training loop draws its batches from ``training_data``."""
        return self.prior.loss(model, units, cond)

    def optimizers(self, model, lr, fused=False):
        """The prior's own optimizers (a GAN's two)."""
        return self.prior.optimizers(model, lr, fused)

    def train_step(self, model, optimizers, units, cond, ctx):
        """The prior's own training step over codes (a GAN's alternating updates)."""
        return self.prior.train_step(model, optimizers, units, cond, ctx)

    def to_pixels(self, codes: torch.Tensor) -> torch.Tensor:
        place(self.autoencoder, codes.device)
        return self.units.encode(self.codes.decode(codes))

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None):
        relay = None if on_version is None else (lambda i, codes: on_version(i, self.to_pixels(codes)))
        out = self.prior.generate(model, cond, steps, generator, on_version=relay,
                                  options=options or self.sampling_defaults())
        return Generation(units=self.to_pixels(out.units), nfe=out.nfe)
