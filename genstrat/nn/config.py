"""The trunk's settings: one dataclass, saved in every checkpoint's ``config.json`` (``nn/backbone.py`` explains
each feature)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from genstrat.units.patches import units_per_slot

NETWORKS = ("transformer", "wavenet")


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
    network: str = "transformer"  # causal, discrete: "wavenet" runs a dilated convolution stack instead (nn/wavenet.py)

    def __post_init__(self):
        self.layout = tuple(self.layout)  # JSON gives a list
        if self.network not in NETWORKS:
            raise ValueError(f"unknown network '{self.network}'; choose one of: {', '.join(NETWORKS)}")
        if self.network == "wavenet" and (not self.causal or self.continuous or self.context_len or self.latent_dim):
            raise ValueError("a wavenet is a causal network over discrete units with a class label")
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
