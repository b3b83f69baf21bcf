"""`gan`: a class-conditional GAN whose generator is the shared trunk: a random vector in, an image out, one pass.

The lecture's one-pass member of the random-vector family (Goodfellow et al. 2014): the generator G(z, c) is trained
only through a discriminator D(x, c) that learns to tell its images from real ones, so nothing asks each position to
be the average of the answers (the multi-modality problem of one-shot NAR): G is judged on whole images.

Generator: the trunk, bidirectional over real-valued patch slots (diffusion's layout, ``dequantization.py``). The
random vector enters twice, as StyleGAN does (Karras et al. 2019, sec. 2): one vector z ~ N(0, I) of ``Z_DIM``
through an adapter, the trunk's adaLN-Zero (DiT sec. 3.2: with the label's embedding it sets every block's
LayerNorm shift, scale and gate, StyleGAN's "style"), so the whole image shares one imagined digit; and per-slot
Gaussian noise as the slots' input values (StyleGAN's noise inputs), for local variety. tanh bounds the output to
[-1, 1], which is then quantised to the data's levels. NFE = 1.

Discriminator (this strategy's own part, ``model.discriminator``): a small convolutional network (a Transformer
discriminator is reported unstable even with penalties, ViTGAN, Lee et al. 2022), global sum pooling, and the
projection of the label (Miyato & Koyama 2018, eq. 3: D(x, y) = psi(phi(x)) + embed(y) . phi(x)). Real images are
uniformly dequantized (Theis et al. 2016) so D cannot tell them from G's real values by their exact levels alone.

Loss: R3GAN's (Huang et al. 2024), the relativistic pairing loss with f = softplus(-t), and
zero-centred gradient penalties on real (R1) and generated (R2) images:
    L_D = E[f(D(x, c) - D(G(z, c), c))] + gamma/2 E|grad_x D(x, c)|^2 + gamma/2 E|grad_x D(G(z, c), c)|^2
    L_G = E[f(D(G(z, c), c) - D(x, c))]
with R1 alone R3GAN's StackedMNIST runs diverged; the penalties are applied every ``PENALTY_EVERY``-th update with
their weight times that interval (lazy regularisation, StyleGAN2, Karras et al. 2020, sec. 3.1). A first version
with the hinge loss and spectral normalisation (Miyato et al. 2018) had D win outright within 1,000 MNIST updates
and G collapse to one dotted pattern; with the penalties D stays in reach. One D update then one G update per batch
(``train_step``), each network with its own Adam (beta1 = 0, as in SNGAN, BigGAN and R3GAN) at equal learning rates
(R3GAN's choice; the trunk at twice D's collapsed in a short try). Labels dropped by the training loop are the null
label for both networks. The training loop's weight average (``--ema``, which the MNIST bench uses) is the model that
samples: an EMA of G (Karras et al. 2018; Yazici et al. 2019). ``truncation`` scales the random vectors (BigGAN's
truncation trick as a temperature, Brock et al. 2019).

Over a continuous stage one's latents (``two-stage:gan``), as latent diffusion runs over them, the same model
generates the 7 x 7 x 4 latent grid; text has no real values to generate and is refused in one line.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from genstrat.strategies.base import Generation, Option, Strategy
from genstrat.strategies.dequantization import dequantize, quantize, slot_options
from genstrat.strategies.diffusion import MAX_SLOTS, from_slots, layout_of
from genstrat.strategies.training_step import CLIP_NORM, make_optimizer
from genstrat.units import patches

Z_DIM = 64
D_WIDTH = 32  # the discriminator's first layer's channels, doubled at each downsampling
G_LR_SCALE, D_LR_SCALE = 0.25, 0.25  # of --lr (2e-3 by default): 5e-4 for both, equal as in R3GAN
GAMMA = 0.05  # weight of the R1 and R2 penalties, gamma / 2 each (R3GAN's CIFAR-10 setting)
PENALTY_EVERY = 4  # lazy regularisation interval (StyleGAN2, Karras et al. 2020, sec. 3.1)
BETAS = (0.0, 0.99)


class Discriminator(nn.Module):
    """D(x, y): convolutions over the (C, *sides) layout (2-D images and latent grids, 1-D
    sequences), halving the sides while they are at least 8 (28 -> 14 -> 7), global sum pooling, a linear score plus
    the projection of the label's embedding (Miyato & Koyama 2018)."""

    def __init__(self, layout: tuple[int, ...], num_classes: int, width: int = D_WIDTH):
        super().__init__()
        channels, *sides = layout
        conv = nn.Conv2d if len(sides) == 2 else nn.Conv1d
        layers, c, side = [conv(channels, width, 3, padding=1), nn.LeakyReLU(0.2)], width, min(sides)
        while side >= 8:
            layers += [conv(c, 2 * c, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c, side = 2 * c, side // 2
        wide = max(c, 4 * width)
        layers += [conv(c, wide, 3, padding=1), nn.LeakyReLU(0.2)]
        self.layout = tuple(layout)
        self.features = nn.Sequential(*layers)
        self.score = nn.Linear(wide, 1)
        self.embed = nn.Embedding(num_classes + 1, wide)  # + the null label

    def forward(self, values: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(B, L) values in raster order (channels innermost), (B,) labels -> (B,) scores."""
        channels, *sides = self.layout
        x = values.view(values.shape[0], *sides, channels).movedim(-1, 1)  # (B, C, *sides)
        h = self.features(x).flatten(2).sum(-1)  # (B, wide): global sum pooling
        return self.score(h)[:, 0] + (self.embed(labels) * h).sum(-1)


def updates_made(optimizer: torch.optim.Optimizer) -> int:
    """How many updates an Adam optimizer has made (its first parameter's ``step``; 0 before the first): a count
    that travels in the training state, so a resumed run applies the lazy penalty on the same updates."""
    state = optimizer.state.get(optimizer.param_groups[0]["params"][0], {})
    return int(state["step"]) if "step" in state else 0


def generator_parameters(model) -> list[nn.Parameter]:
    return [p for name, p in model.named_parameters() if not name.startswith("discriminator.")]


class GAN(Strategy):
    name = "gan"
    lecture_part = "latent"
    modalities = ("image",)
    causal = False
    continuous = True  # real values: over codes it needs a continuous stage one (two-stage:gan)
    count_steps = PENALTY_EVERY  # its counted FLOPs: the mean over one cycle of the lazy penalty
    through_ddp = False  # two networks, two updates: ``train_step`` averages gradients itself under torchrun
    options = (Option("truncation", 1.0, "scale of the generator's random vectors (BigGAN's truncation trick as a "
                                         "temperature, Brock et al. 2019); 1 = the training prior"),)
    defaults: dict = {}
    modality_defaults: dict = {}

    def backbone_options(self):
        return {**slot_options(self.units, MAX_SLOTS), "latent_dim": Z_DIM, "adaln": True, "prediction": "sample"}

    def parts(self, cfg):
        return {"discriminator": Discriminator(patches.layout_of(self.units), cfg.num_classes)}

    def steps_for(self, requested):
        return 1

    def optimizers(self, model, lr, fused=False):
        """Adam for each network (beta1 = 0, no weight decay), G at G_LR_SCALE and D at D_LR_SCALE of the schedule."""
        optimizers = {"generator": make_optimizer(generator_parameters(model), lr, fused, betas=BETAS, weight_decay=0),
                      "discriminator": make_optimizer(model.discriminator.parameters(), lr, fused, betas=BETAS,
                                                      weight_decay=0)}
        for name, scale in (("generator", G_LR_SCALE), ("discriminator", D_LR_SCALE)):
            for group in optimizers[name].param_groups:
                group["lr_scale"] = scale
        return optimizers

    def generated(self, model, cond: torch.Tensor, generator: torch.Generator | None = None,
                  truncation: float = 1.0) -> torch.Tensor:
        """G(z, c): (B,) labels -> (B, L) values in [-1, 1] in the units' raster order; one trunk pass."""
        cfg, batch = model.cfg, cond.shape[0]
        z = torch.randn(batch, Z_DIM, generator=generator, device=cond.device) * truncation
        noise = torch.randn(batch, cfg.seq_len, cfg.slot_values, generator=generator, device=cond.device) * truncation
        slots = torch.tanh(model(noise, cond, latent=z)[:, model.cond_slots:].float())
        return from_slots(slots, self.units, layout_of(cfg, self.units))

    def loss(self, model, units, cond):
        """The generator's relativistic loss E[f(D(G(z, c), c) - D(x, c))] on this batch (what a one-loss caller can
        read; training uses ``train_step``)."""
        real = dequantize(units, self.units.vocab_size)
        scores = model.discriminator(torch.cat([real, self.generated(model, cond)]), torch.cat([cond, cond]))
        real_score, fake_score = scores.float().chunk(2)
        return F.softplus(-(fake_score - real_score)).mean()

    def train_step(self, model, optimizers, units, cond, ctx):
        """One D update (relativistic pairing loss + R1 and R2), then one G update (relativistic pairing loss)."""
        discriminator, levels = model.discriminator, self.units.vocab_size
        g_params, d_params = generator_parameters(model), list(discriminator.parameters())
        real = dequantize(units, levels)
        # 1. the discriminator: L_D = E[f(-(D(x) - D(G(z))))] + gamma/2 (E|grad_x D(x)|^2 + E|grad_x D(G(z))|^2),
        # the penalties lazily: every PENALTY_EVERY-th update, weighted by the interval (StyleGAN2 sec. 3.1)
        with torch.no_grad(), ctx.autocast():
            fake = self.generated(model, cond).float()
        lazy = updates_made(optimizers["discriminator"]) % PENALTY_EVERY == 0
        # a non-leaf input: the FLOP counter's module hooks cannot follow autograd.grad to a leaf
        both = torch.cat([real.requires_grad_(lazy), fake.requires_grad_(lazy)])
        with ctx.autocast():
            scores = discriminator(both, torch.cat([cond, cond])).float()
        real_score, fake_score = scores.chunk(2)
        d_loss = F.softplus(-(real_score - fake_score)).mean()
        penalty = torch.zeros(())
        if lazy:
            (grad,) = torch.autograd.grad(scores.sum(), both, create_graph=True)
            penalty = grad.float().pow(2).sum(1).mean()  # (R1 + R2) / 2: the mean over real and generated rows
        total = d_loss + GAMMA * PENALTY_EVERY * penalty if lazy else d_loss
        optimizers["discriminator"].zero_grad(set_to_none=True)
        total.backward()
        ctx.average_gradients(d_params)
        optimizers["discriminator"].step()
        # 2. the generator: L_G = E[f(-(D(G(z)) - D(x)))], through a frozen D
        for p in d_params:
            p.requires_grad_(False)
        try:
            with ctx.autocast():
                scores = discriminator(torch.cat([real.detach(), self.generated(model, cond)]),
                                       torch.cat([cond, cond]))
            real_score_g, fake_score_g = scores.float().chunk(2)
            g_loss = F.softplus(-(fake_score_g - real_score_g)).mean()
            optimizers["generator"].zero_grad(set_to_none=True)
            g_loss.backward()
        finally:
            for p in d_params:
                p.requires_grad_(True)
        ctx.average_gradients(g_params)
        torch.nn.utils.clip_grad_norm_(g_params, CLIP_NORM)
        optimizers["generator"].step()
        return {"loss": d_loss.detach(), "g_loss": g_loss.detach(), "r1r2": penalty.detach(),
                "d_gap": (real_score - fake_score).detach().mean()}

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None):
        opts = options or self.sampling_defaults()
        units = quantize(self.generated(model, cond, generator, opts.truncation), self.units.vocab_size)
        if on_version is not None:
            on_version(1, units.clone())
        return Generation(units=units, nfe=1)
