"""One pre-LayerNorm Transformer block, optionally modulated by a conditioning vector (DiT's adaLN-Zero, Peebles &
Xie 2023 sec. 3.2)."""

from __future__ import annotations

import torch
import torch.nn as nn

from genstrat.nn.attention import SelfAttention
from genstrat.nn.config import BackboneConfig


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: a normalised (B, T, D) input shifted and scaled per sample by (B, D) vectors (DiT sec. 3.2)."""
    return x * (1 + scale[:, None]) + shift[:, None]


class Block(nn.Module):
    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, 4 * cfg.d_model), nn.GELU(),
                                 nn.Linear(4 * cfg.d_model, cfg.d_model))
        self.drop = nn.Dropout(cfg.dropout)
        if cfg.adaln:  # shift, scale and gate for the attention and the MLP branch, from the conditioning vector
            self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(cfg.d_model, 6 * cfg.d_model))

    def forward(self, x, layer, cache, attn_mask=None, conditioning=None):
        if conditioning is None:
            x = x + self.drop(self.attn(self.ln1(x), layer, cache, attn_mask))
            return x + self.drop(self.mlp(self.ln2(x)))
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(conditioning).chunk(6, dim=1)
        x = x + gate1[:, None] * self.drop(self.attn(modulate(self.ln1(x), shift1, scale1), layer, cache, attn_mask))
        return x + gate2[:, None] * self.drop(self.mlp(modulate(self.ln2(x), shift2, scale2)))
