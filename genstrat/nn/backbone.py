"""The one Transformer every strategy shares (nanoGPT's shape, with a condition slot).

Input: a condition and ``T`` unit tokens (values ``0..vocab_size-1`` or
``mask_id = vocab_size``). The condition is a class label ``c`` (B,) (or ``num_classes``, the
null label used for classifier-free guidance, Ho & Salimans 2022) in slot 0, or, with
``context_len`` = C > 0, a window of C preceding text tokens (B, C) in slots 1..C after a
constant slot 0 (an all-MASK window is its null condition). The units follow in the next
T slots; ``cond_slots`` = 1 + C counts the condition's slots. Learned position embeddings;
pre-LayerNorm blocks. Output: logits over the ``vocab_size`` unit values for every slot.

- causal attention (``causal=True``): slot ``i`` predicts token ``i``, i.e. the condition
  slot predicts unit 0 and token ``i-1`` predicts unit ``i`` (AR).
- bidirectional attention: slots 1..L predict the units at their own positions (NAR).
- an explicit ``attn_mask`` (True = may attend) overrides both, e.g. coarse-to-fine's
  block-causal mask where every slot sees its own scale and every coarser one.
- with ``latent_dim > 0`` a vector is projected and added to every slot: a random z, so
  all positions "imagine the same thing" (the lecture's first fix; VAE decoders), or
  diffusion's noise-level features.
- ``return_features=True`` returns the final hidden states (B, S, d_model) instead of the head's
  output, for the small parts a strategy adds to the trunk (``Strategy.parts``: the length head of
  the strategies that predict a length, the posterior of ``latent``).
- with ``continuous=True`` the slots hold real values (a noisy image) and the head returns
  real values per slot: ``slot_values`` of them, 1 by default, more when a slot holds a
  patch of pixels (DiT's patch tokens, Peebles & Xie 2023 sec. 3.1; U-ViT, Bao et al. 2023)
  or every channel of a latent position; ``prediction`` records what they mean to the strategy
  (diffusion: the noise ``epsilon`` or the velocity ``v_prediction``), so a checkpoint is
  always sampled with the target it was trained on.
- with ``adaln=True`` (continuous, label condition, ``latent_dim`` > 0: diffusion) the vector
  is not added to the slots but, through a small MLP and summed with the label's embedding,
  sets every block's LayerNorm shift and scale and a gate on its residual branches, all
  zero at initialisation so every block starts as the identity: DiT's adaLN-Zero (Peebles &
  Xie 2023, sec. 3.2), their best way to feed the noise level and the class, which
  conditions each layer instead of only the input.
- with ``code_levels`` (discrete units that are finite-scalar-quantised codes, Mentzer et al.
  2024) a code is not only a row of the embedding table: its FSQ coordinates (one value per
  channel, ``fsq_coordinates``) pass through a linear map that is added to its input
  embedding, and the head adds a matching low-rank term to its logit (h . P c_v, the output
  side of the same map, as MaskGIT ties its input and output embeddings), so codes that
  decode alike start out alike in and out instead of as 1,000 unrelated symbols.
- with ``patch`` = p > 1 (discrete, bidirectional, over a patchable layout) a slot holds a p x p
  block of an image's units or a run of p units of a row (``units/patches.py``): the strategy still
  passes (B, L) units and gets (B, S, V) logits for every unit at its own position.

A :class:`KVCache` makes AR decoding touch one new slot per step; cached decoding gives the
same logits as recomputing the whole prefix (tested).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from genstrat.nn.adapters import embed_condition, fsq_coordinates, init_weights, slot_embedding
from genstrat.nn.attention import KVCache, SelfAttention
from genstrat.nn.block import Block, modulate
from genstrat.nn.config import BackboneConfig
from genstrat.units.patches import from_slots

__all__ = ["Backbone", "BackboneConfig", "KVCache", "SelfAttention", "Block", "modulate", "embed_condition",
           "fsq_coordinates", "init_weights", "slot_embedding"]


class Backbone(nn.Module):
    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        if cfg.d_model % cfg.n_heads:
            raise ValueError(f"d_model {cfg.d_model} is not divisible by n_heads {cfg.n_heads}")
        self.cfg = cfg
        if cfg.continuous:
            self.value_in = nn.Linear(cfg.slot_values, cfg.d_model)
        else:  # + MASK; with patches one table per place in the patch (see slot_embedding)
            self.tok_emb = nn.Embedding(cfg.slot_units * (cfg.vocab_size + 1), cfg.d_model)
        self.cond_emb = nn.Embedding(cfg.num_classes + 1, cfg.d_model)    # + null label
        self.pos_emb = nn.Parameter(torch.zeros(cfg.slots + cfg.cond_slots, cfg.d_model))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.slot_values if cfg.continuous else cfg.slot_units * cfg.vocab_size)
        if cfg.code_levels:  # + a zero row for MASK
            self.register_buffer("code_coords", F.pad(fsq_coordinates(cfg.code_levels), (0, 0, 0, 1)), persistent=False)
            self.coords_in = nn.Linear(len(cfg.code_levels), cfg.d_model, bias=False)
            self.coords_out = nn.Linear(cfg.d_model, len(cfg.code_levels), bias=False)
        if cfg.adaln:  # DiT's timestep embedder (Linear, SiLU, Linear) and the final layer's shift and scale
            self.latent_in = nn.Sequential(nn.Linear(cfg.latent_dim, cfg.d_model), nn.SiLU(),
                                           nn.Linear(cfg.d_model, cfg.d_model))
            self.final_modulation = nn.Sequential(nn.SiLU(), nn.Linear(cfg.d_model, 2 * cfg.d_model))
        elif cfg.latent_dim:
            self.latent_in = nn.Linear(cfg.latent_dim, cfg.d_model)
        self.apply(self._init)
        nn.init.normal_(self.pos_emb, std=0.02)
        for block in self.blocks:  # GPT-2's scaled init of residual projections
            for proj in (block.attn.proj, block.mlp[2]):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * cfg.n_layers))
        if cfg.adaln:  # adaLN-Zero: every block starts as the identity, and the output at zero
            for layer in [block.modulation[1] for block in self.blocks] + [self.final_modulation[1], self.head]:
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    @staticmethod
    def _init(module):
        init_weights(module)

    @property
    def mask_id(self) -> int:
        return self.cfg.vocab_size

    @property
    def null_label(self) -> int:
        return self.cfg.num_classes

    @property
    def cond_slots(self) -> int:
        return self.cfg.cond_slots

    def null_condition(self, cond: torch.Tensor) -> torch.Tensor:
        """The unconditional input for classifier-free guidance: the null label, or an all-MASK context."""
        return torch.full_like(cond, self.mask_id if self.cfg.context_len else self.null_label)

    def embed_condition(self, cond: torch.Tensor) -> torch.Tensor:
        """(B,) labels or (B, C) context tokens -> (B, cond_slots, d_model), without positions."""
        return embed_condition(cond, self.cond_emb, None if self.cfg.continuous else self.tok_emb, self.cfg)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def new_cache(self, batch: int) -> KVCache:
        return KVCache(self.cfg, batch, device=self.pos_emb.device, dtype=self.pos_emb.dtype)

    def decode_state(self, cache: KVCache) -> list[torch.Tensor]:
        """A prefilled cache as the fixed-shape state of ``decode_step`` (``nn/decode.py``): the next position as a
        1-element tensor, then each layer's keys and each layer's values (rows, heads, max_len, head_dim), one
        tensor each, so a compiled step writes them in place."""
        position = torch.tensor([cache.length], device=cache.k.device)
        return [position, *(k.clone() for k in cache.k.unbind(0)), *(v.clone() for v in cache.v.unbind(0))]

    def decode_step(self, guided: bool, draw):
        """One AR step at a fixed shape: ``step(value (B,), u (B, 1), position, *keys, *values) -> next value (B,)``.

        The same arithmetic as ``forward`` with a ``KVCache`` (embedding and position, every block, the head), then the
        sampler's ``draw(logits, u)`` with the given uniforms (``guided``: the rows run twice, conditional then
        unconditional, and the draw combines them, as ``sampling.guided_logits`` does). The new key and value are
        written at ``position`` and attention reads the whole buffer with slots after it masked out, so every step has
        the same shapes; ``position`` moves on by one."""
        if self.cfg.continuous or self.cfg.adaln or self.cfg.latent_dim or self.cfg.slot_units != 1:
            raise ValueError("a static decode step needs discrete units, one per slot, and no latent input")
        layers, heads, d = self.cfg.n_layers, self.cfg.n_heads, self.cfg.d_model

        def step(value, u, position, *cache):
            keys, values = cache[:layers], cache[layers:]
            tokens = torch.cat([value, value]) if guided else value
            rows = tokens.shape[0]
            if self.cfg.code_levels:  # e_v = E_v + P_in c_v (``code_tables``)
                table = self.tok_emb.weight + self.code_coords @ self.coords_in.weight.T
            else:
                table = self.tok_emb.weight
            x = F.embedding(tokens, table) + self.pos_emb.index_select(0, position)
            visible = (torch.arange(keys[0].shape[2], device=x.device) <= position)[None]
            for block, k, v in zip(self.blocks, keys, values):
                q, k_new, v_new = block.attn.qkv(block.ln1(x)).view(rows, 3, heads, d // heads).unbind(1)
                k.index_copy_(2, position, k_new[:, :, None])
                v.index_copy_(2, position, v_new[:, :, None])
                scores = (q[:, :, None] @ k.transpose(-1, -2)) * (d // heads) ** -0.5
                attended = scores.masked_fill(~visible, float("-inf")).softmax(-1) @ v
                x = x + block.attn.proj(attended.reshape(rows, d))
                x = x + block.mlp(block.ln2(x))
            x = self.ln_f(x)
            if self.cfg.code_levels:
                logits = F.linear(x, self.head.weight + self.code_coords[:-1] @ self.coords_out.weight, self.head.bias)
            else:
                logits = self.head(x)
            position.add_(1)
            return draw(logits, u)

        return step

    def embed_values(self, values: torch.Tensor) -> torch.Tensor:
        """Continuous slots: (B, T, slot_values) reals, or (B, T) when a slot holds one value -> (B, T, d_model)."""
        values = values.float()
        if values.dim() == 2 and self.cfg.slot_values == 1:
            values = values[..., None]
        if values.dim() != 3 or values.shape[-1] != self.cfg.slot_values:
            raise ValueError(f"expected continuous slots of shape (B, T, {self.cfg.slot_values}), "
                             f"got {tuple(values.shape)}")
        return self.value_in(values)

    def embed(self, tokens: torch.Tensor, cond: torch.Tensor, start: int = 0,
              slot_inputs: torch.Tensor | None = None) -> torch.Tensor:
        """Condition slots (only when ``start`` is 0) + token embeddings (+ ``slot_inputs``) + position embeddings."""
        parts = []
        if start == 0:
            parts.append(self.embed_condition(cond))
        if tokens.shape[1]:
            if self.cfg.code_levels:  # e_v = E_v + P_in c_v, as one table
                embedded = F.embedding(tokens, self.code_tables()[0])
            else:
                embedded = (self.embed_values(tokens) if self.cfg.continuous
                            else slot_embedding(self.tok_emb, tokens, self.cfg))
            parts.append(embedded if slot_inputs is None else embedded + slot_inputs)
        x = torch.cat(parts, dim=1)
        if start + x.shape[1] > self.cfg.seq_len + self.cond_slots:
            raise ValueError(f"sequence of {start + x.shape[1]} slots exceeds the backbone's "
                             f"{self.cfg.seq_len + self.cond_slots}")
        return x + self.pos_emb[start:start + x.shape[1]]

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor, cache: KVCache | None = None,
                latent: torch.Tensor | None = None, attn_mask: torch.Tensor | None = None,
                return_features: bool = False, slot_inputs: torch.Tensor | None = None):
        """tokens (B, T) long (continuous: (B, T, slot_values) reals), cond (B,) or (B, C) long -> logits
        (B, S, vocab_size) (continuous: (B, S, slot_values)).

        Without a cache (or with an empty one) the condition slots are prepended, so S = T + cond_slots.
        With a cache that already holds the prefix, only the T new slots are computed: S = T.
        ``latent`` (B, latent_dim) is added to every slot; ``slot_inputs`` (B, T, d_model) to each unit slot's own
        embedding (next-scale's coarser-scale features); ``attn_mask`` (S, S) bool replaces
        the causal / bidirectional pattern. ``return_features=True`` returns the final hidden states (B, S, d_model)
        for a part the strategy added (a length head).
        """
        start = 0 if cache is None else cache.length
        x = self.embed(tokens, cond, start, slot_inputs)
        conditioning = None
        if self.cfg.adaln:
            if latent is None:
                raise ValueError("an adaln backbone needs its latent vector (diffusion's noise-level features)")
            conditioning = self.latent_in(latent) + self.cond_emb(cond)
        elif latent is not None:
            x = x + self.latent_in(latent)[:, None]
        for i, block in enumerate(self.blocks):
            x = block(x, i, cache, attn_mask, conditioning)
        if cache is not None:
            cache.length += x.shape[1]
        x = self.ln_f(x)
        if conditioning is not None:
            x = modulate(x, *self.final_modulation(conditioning).chunk(2, dim=1))
        if return_features:
            return x
        if self.cfg.code_levels:  # logit_v = (w_v + P_out^T c_v) . h + b_v, as one matrix
            return F.linear(x, self.code_tables()[1], self.head.bias)
        return self.head(x) if self.cfg.slot_units == 1 else self.unpatch_logits(self.head(x))

    def code_tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``code_levels``: the input table (V + 1, d) and head matrix (V, d) with the coordinate maps folded in.
        Sampling (no grad) reuses them until a weight changes: an AR step would otherwise rebuild both."""
        weights = (self.tok_emb.weight, self.coords_in.weight, self.head.weight, self.coords_out.weight)
        key = tuple((w.data_ptr(), w._version) for w in weights)
        if torch.is_grad_enabled() or getattr(self, "_code_tables_key", None) != key:
            tables = (self.tok_emb.weight + self.code_coords @ self.coords_in.weight.T,
                      self.head.weight + self.code_coords[:-1] @ self.coords_out.weight)
            if torch.is_grad_enabled():
                return tables
            self._code_tables, self._code_tables_key = tables, key
        return self._code_tables

    def unpatch_logits(self, out: torch.Tensor) -> torch.Tensor:
        """(B, cond_slots + slots, slot_units * V) -> (B, cond_slots + L, V): each unit's logits at its own raster
        position. The condition slots predict no unit in a bidirectional model; they keep their first V outputs."""
        cond, units = out[:, :self.cond_slots], out[:, self.cond_slots:]
        units = units.reshape(*units.shape[:2], self.cfg.slot_units, self.cfg.vocab_size)
        return torch.cat([cond[..., :self.cfg.vocab_size], from_slots(units, self.cfg.layout, self.cfg.patch)], dim=1)
