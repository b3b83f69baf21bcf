"""The trunk's small input and output adapters: patch embeddings, FSQ code coordinates, the condition embedding, and
GPT-2's initialisation. Each is a function of the tables the trunk owns, so a part a strategy adds (the posterior of
``latent``) reuses them instead of repeating them."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from genstrat.nn.config import BackboneConfig
from genstrat.units.patches import to_slots


def fsq_coordinates(levels) -> torch.Tensor:
    """(prod(levels), len(levels)): code index i -> its FSQ level on every channel, scaled to [-1, 1]. The index is
    the mixed-radix number of the levels, first channel least significant (FSQ's ``codes_to_indices``)."""
    index = torch.arange(math.prod(levels))
    digits, base = [], 1
    for n in levels:
        digits.append((index // base) % n / (n - 1) * 2 - 1)
        base *= n
    return torch.stack(digits, dim=1)


def slot_embedding(table: nn.Embedding, tokens: torch.Tensor, cfg: BackboneConfig) -> torch.Tensor:
    """(B, L) unit tokens -> (B, slots, d_model). Without patches, one embedding per unit. With patches, the sum of
    one embedding per unit taken from the table of its place in the patch: a linear map of the patch's one-hot
    units, as DiT's patch embedding is a linear map of its pixels (Peebles & Xie 2023 sec. 3.1)."""
    if cfg.slot_units == 1:
        return table(tokens)
    if tokens.shape[1] != cfg.seq_len:
        raise ValueError(f"a patched backbone reads all {cfg.seq_len} units at once, got {tokens.shape[1]}")
    place = torch.arange(cfg.slot_units, device=tokens.device) * (cfg.vocab_size + 1)
    return table(to_slots(tokens, cfg.layout, cfg.patch) + place).sum(2)


def embed_condition(cond: torch.Tensor, cond_emb: nn.Embedding, tok_emb: nn.Embedding | None,
                    cfg: BackboneConfig) -> torch.Tensor:
    """(B,) labels or (B, C) context tokens -> (B, cond_slots, d_model), without positions: a label's row of
    ``cond_emb``, or a constant slot (the null label's row) followed by the context tokens' rows of ``tok_emb``."""
    if not cfg.context_len:
        return cond_emb(cond)[:, None]
    if cond.dim() != 2 or cond.shape[1] != cfg.context_len:
        raise ValueError(f"expected a context of shape (B, {cfg.context_len}), got {tuple(cond.shape)}")
    start = cond_emb(torch.full_like(cond[:, 0], cfg.num_classes))[:, None]
    return torch.cat([start, tok_emb(cond)], dim=1)


def init_weights(module: nn.Module) -> None:
    """GPT-2's initialisation: linear and embedding weights N(0, 0.02), biases zero."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)
