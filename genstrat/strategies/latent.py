"""`latent`: one-shot NAR with a random vector z that every position sees (a conditional VAE).

The lecture's first fix for the multi-modality problem: decide what to imagine *before*
generating, then let every position generate that same thing. Model (Kingma & Welling
2014, eq. 10; conditional form, Sohn et al. 2015):

    p(x | c) = E_{z ~ N(0, I)} prod_i p(x_i | z, c)     decoder: the shared backbone, one pass
    q(z | x, c) = N(mu, diag(sigma^2))                   encoder: ``PosteriorEncoder`` below

trained on the negative ELBO, sum_i -log p(x_i | z, c) + KL(q(z | x, c) || N(0, I)), with
z = mu + sigma * eps (the reparameterisation trick) and the KL in closed form
(Kingma & Welling, appendix B). Both terms are divided by L so the loss reads per unit, like
the other strategies'. Sampling draws z from the prior and makes one pass: NFE = 1.
Given z, positions are still drawn independently; what z buys is that they all draw from
the same imagined digit. On text the default reads the decoder's mode given z instead of
sampling it (``modality_defaults``; Bowman et al. 2016 sec. 4, Shu et al. 2020): z carries the
choice of answer, and independent draws per position would only add letter noise
(docs/benchmarks.md, "Text: the multi-modality probe"). On digits the same reading collapses
variety (z carries little there), so images keep temperature 1 as the default, and the bench
measures both readings on images (``OneShot.sweep``): on MNIST the mode given z is a coherent
digit per z and scores far better than the drawn reading, while ``nar``'s mode collapses to one
image per label (docs/benchmarks.md, the all-strategy MNIST section).
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn as nn
import torch.nn.functional as F

from genstrat.nn.adapters import embed_condition, init_weights, slot_embedding
from genstrat.nn.block import Block
from genstrat.strategies.base import Generation
from genstrat.strategies.nar import OneShot
from genstrat.strategies.sampling import guided_logits, sample_units
from genstrat.units.patches import patch_options


class PosteriorEncoder(nn.Module):
    """q(z | x, c) of a conditional VAE (Sohn et al. 2015): a small bidirectional Transformer (the trunk's blocks,
    ``max(1, n_layers // 2)`` of them) reads the condition and the real units and returns the mean and log-variance
    of a diagonal Gaussian over z from its condition slot. Used only in training; sampling draws z from the prior
    N(0, I)."""

    def __init__(self, cfg):
        super().__init__()
        bidirectional = replace(cfg, causal=False)
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.slot_units * (cfg.vocab_size + 1), cfg.d_model)  # patches as in the trunk
        self.cond_emb = nn.Embedding(cfg.num_classes + 1, cfg.d_model)
        self.pos_emb = nn.Parameter(torch.randn(cfg.slots + cfg.cond_slots, cfg.d_model) * 0.02)
        self.blocks = nn.ModuleList(Block(bidirectional) for _ in range(max(1, cfg.n_layers // 2)))
        self.ln = nn.LayerNorm(cfg.d_model)
        self.out = nn.Linear(cfg.d_model, 2 * cfg.latent_dim)

    def forward(self, units: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L) units, (B,) labels or (B, C) context -> (mean, log-variance), each (B, latent_dim)."""
        condition = embed_condition(cond, self.cond_emb, self.tok_emb, self.cfg)
        x = torch.cat([condition, slot_embedding(self.tok_emb, units, self.cfg)], dim=1)
        x = x + self.pos_emb[: x.shape[1]]
        for i, block in enumerate(self.blocks):
            x = block(x, i, None)
        mean, log_var = self.out(self.ln(x[:, 0])).chunk(2, dim=-1)
        return mean, log_var.clamp(-10, 10)


class LatentNAR(OneShot):
    """One-shot NAR (``nar``'s all-MASK canvas) plus z: the fixed member of the one-pass family."""

    name = "latent"
    lecture_part = "latent"
    causal = False
    latent_dim = 32
    # text: read the decoder at its mode given z (Bowman et al. 2016 sec. 4; Shu et al. 2020's
    # deterministic inference for latent-variable NAT): z decides the answer, the argmax spells it
    modality_defaults = {"text": {"guidance": 1.0, "temperature": 0.0}}

    def backbone_options(self):
        return {"latent_dim": self.latent_dim, **patch_options(self.units)}

    def parts(self, cfg):
        posterior = PosteriorEncoder(cfg)
        posterior.apply(init_weights)
        return {"posterior": posterior}

    def loss(self, model, units, cond):
        """Negative ELBO per unit (Kingma & Welling 2014, eq. 10; the Gaussian KL in closed form, appendix B)."""
        batch, length = units.shape
        mean, log_var = model.posterior(units, cond)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        logits = model(self.blank(model, batch, units.device), cond, latent=z)[:, model.cond_slots:]
        reconstruction = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), units.reshape(-1),
                                         reduction="sum") / batch
        kl = -0.5 * (1 + log_var - mean.pow(2) - log_var.exp()).sum(-1).mean()
        return (reconstruction + kl) / length

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None):
        opts = options or self.sampling_defaults()
        z = torch.randn(cond.shape[0], model.cfg.latent_dim, generator=generator, device=cond.device)
        logits = guided_logits(model, self.blank(model, cond.shape[0], cond.device), cond, opts.guidance,
                               latent=z)[:, model.cond_slots:]
        units, _ = sample_units(logits, opts, generator)
        if on_version is not None:
            on_version(1, units.clone())
        return Generation(units=units, nfe=1)
