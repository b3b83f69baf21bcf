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
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from genstrat.units.patches import from_slots, to_slots, units_per_slot


@dataclass
class BackboneConfig:
    vocab_size: int          # number of unit values; the MASK token id is vocab_size
    seq_len: int             # number of unit positions L
    num_classes: int         # condition labels; label num_classes is the null label
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    dropout: float = 0.0
    causal: bool = True
    latent_dim: int = 0      # > 0: every slot also receives a vector (a random z, or diffusion's time features)
    continuous: bool = False  # inputs are real values (B, T, slot_values), output as many per slot (diffusion)
    prediction: str = "epsilon"  # continuous head: what it predicts (diffusion: "epsilon" or "v_prediction")
    slot_values: int = 1     # continuous: real values in and out per slot (a p x p x C patch)
    context_len: int = 0     # > 0: the condition is this many preceding text tokens, not a class label
    patch: int = 1           # discrete, bidirectional: a slot holds a block of patch units per side
    layout: tuple = ()       # with patch > 1: the (channels, *sides) the seq_len units tile (units/patches.py)
    adaln: bool = False      # continuous: the latent vector and the label modulate every block (DiT's adaLN-Zero)
    code_levels: tuple = ()  # discrete FSQ codes: levels per channel; codes also embed (and score) their coordinates

    def __post_init__(self):
        self.layout = tuple(self.layout)  # JSON gives a list
        self.code_levels = tuple(self.code_levels)
        if self.code_levels and (self.continuous or self.patch > 1 or math.prod(self.code_levels) != self.vocab_size):
            raise ValueError(f"code_levels {list(self.code_levels)} need one discrete FSQ code per slot and "
                             f"{math.prod(self.code_levels)} unit values (the backbone has {self.vocab_size})")
        if self.patch > 1:
            if self.continuous or self.causal or self.context_len:
                raise ValueError("patches of discrete units need a bidirectional backbone over an image")
            sides = self.layout[1:]
            if not sides or math.prod(self.layout) != self.seq_len or any(s % self.patch for s in sides):
                raise ValueError(f"patches of side {self.patch} do not tile the layout {self.layout} "
                                 f"of {self.seq_len} units")
        if self.adaln and (not self.continuous or not self.latent_dim or self.context_len):
            raise ValueError("adaln needs a continuous backbone with a latent vector and a label condition")

    @property
    def cond_slots(self) -> int:
        return 1 + self.context_len

    @property
    def slot_units(self) -> int:
        """Units per slot: p ** dims * channels with patches, else 1 (continuous slots hold ``slot_values`` reals)."""
        return units_per_slot(self.layout, self.patch) if self.patch > 1 else 1

    @property
    def slots(self) -> int:
        """Slots after the condition: one per unit, or one per patch."""
        return self.seq_len // self.slot_units

    def to_dict(self) -> dict:
        return asdict(self)


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

    def embed_values(self, values: torch.Tensor) -> torch.Tensor:
        """Continuous slots: (B, T, slot_values) reals, or (B, T) when a slot holds one value -> (B, T, d_model)."""
        values = values.float()
        if values.dim() == 2 and self.cfg.slot_values == 1:
            values = values[..., None]
        if values.dim() != 3 or values.shape[-1] != self.cfg.slot_values:
            raise ValueError(f"expected continuous slots of shape (B, T, {self.cfg.slot_values}), "
                             f"got {tuple(values.shape)}")
        return self.value_in(values)

    def embed(self, tokens: torch.Tensor, cond: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Condition slots (only when ``start`` is 0) + token embeddings + position embeddings."""
        parts = []
        if start == 0:
            parts.append(self.embed_condition(cond))
        if tokens.shape[1]:
            if self.cfg.code_levels:  # e_v = E_v + P_in c_v, as one table
                parts.append(F.embedding(tokens, self.code_tables()[0]))
            else:
                parts.append(self.embed_values(tokens) if self.cfg.continuous
                             else slot_embedding(self.tok_emb, tokens, self.cfg))
        x = torch.cat(parts, dim=1)
        if start + x.shape[1] > self.cfg.seq_len + self.cond_slots:
            raise ValueError(f"sequence of {start + x.shape[1]} slots exceeds the backbone's "
                             f"{self.cfg.seq_len + self.cond_slots}")
        return x + self.pos_emb[start:start + x.shape[1]]

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor, cache: KVCache | None = None,
                latent: torch.Tensor | None = None, attn_mask: torch.Tensor | None = None,
                return_features: bool = False):
        """tokens (B, T) long (continuous: (B, T, slot_values) reals), cond (B,) or (B, C) long -> logits
        (B, S, vocab_size) (continuous: (B, S, slot_values)).

        Without a cache (or with an empty one) the condition slots are prepended, so S = T + cond_slots.
        With a cache that already holds the prefix, only the T new slots are computed: S = T.
        ``latent`` (B, latent_dim) is added to every slot; ``attn_mask`` (S, S) bool replaces
        the causal / bidirectional pattern. ``return_features=True`` returns the final hidden states (B, S, d_model)
        for a part the strategy added (a length head).
        """
        start = 0 if cache is None else cache.length
        x = self.embed(tokens, cond, start)
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
