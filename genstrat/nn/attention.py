"""Multi-head self-attention with a pre-allocated KV cache (nanoGPT's ``CausalSelfAttention``, plus the cache that
makes AR decoding touch one new slot per step; Vaswani et al. 2017 sec. 3.2)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from genstrat.nn.config import BackboneConfig


class KVCache:
    """Pre-allocated keys and values for every layer: (layers, batch, heads, max_len, head_dim)."""

    def __init__(self, cfg: BackboneConfig, batch: int, device, dtype=torch.float32):
        head_dim = cfg.d_model // cfg.n_heads
        shape = (cfg.n_layers, batch, cfg.n_heads, cfg.seq_len + cfg.cond_slots, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0


class SelfAttention(nn.Module):
    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.dropout = cfg.dropout
        self.causal = cfg.causal

    def forward(self, x: torch.Tensor, layer: int, cache: KVCache | None,
                attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_heads, D // self.n_heads).permute(2, 0, 3, 1, 4)
        mask, is_causal = attn_mask, self.causal and attn_mask is None
        if cache is not None:
            start = cache.length
            cache.k[layer, :, :, start:start + T] = k
            cache.v[layer, :, :, start:start + T] = v
            k, v = cache.k[layer, :, :, :start + T], cache.v[layer, :, :, :start + T]
            if self.causal and start > 0:
                is_causal = False
                if T > 1:  # new slot i sees every cached slot and new slots up to itself
                    mask = torch.ones(T, start + T, dtype=torch.bool, device=x.device).tril(diagonal=start)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(B, T, D))
