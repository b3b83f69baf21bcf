"""The encoder q(z | x, c) of a conditional VAE (Kingma & Welling 2014; Sohn et al. 2015).

A small bidirectional Transformer (the backbone's blocks, ``max(1, n_layers // 2)`` of
them) reads the condition and the real units and returns the mean and log-variance of a
diagonal Gaussian over z from its condition slot. Used only in training; sampling draws z
from the prior N(0, I).
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn as nn

from genstrat.nn.backbone import Block, slot_embedding


class PosteriorEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        bidirectional = replace(cfg, causal=False)
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.slot_units * (cfg.vocab_size + 1), cfg.d_model)  # patches as in the backbone
        self.cond_emb = nn.Embedding(cfg.num_classes + 1, cfg.d_model)
        self.pos_emb = nn.Parameter(torch.randn(cfg.slots + cfg.cond_slots, cfg.d_model) * 0.02)
        self.blocks = nn.ModuleList(Block(bidirectional) for _ in range(max(1, cfg.n_layers // 2)))
        self.ln = nn.LayerNorm(cfg.d_model)
        self.out = nn.Linear(cfg.d_model, 2 * cfg.latent_dim)

    def forward(self, units: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L) units, (B,) labels or (B, C) context -> (mean, log-variance), each (B, latent_dim)."""
        if self.cfg.context_len:  # slot 0 constant, then the context tokens, as in the backbone
            start = self.cond_emb(torch.full_like(cond[:, 0], self.cfg.num_classes))[:, None]
            condition = torch.cat([start, self.tok_emb(cond)], dim=1)
        else:
            condition = self.cond_emb(cond)[:, None]
        x = torch.cat([condition, slot_embedding(self.tok_emb, units, self.cfg)], dim=1)
        x = x + self.pos_emb[: x.shape[1]]
        for i, block in enumerate(self.blocks):
            x = block(x, i, None)
        mean, log_var = self.out(self.ln(x[:, 0])).chunk(2, dim=-1)
        return mean, log_var.clamp(-10, 10)
