"""Audio as units: waveform samples, mu-law companded to 8 bits (WaveNet, van den Oord et al. 2016, sec. 2.2).

A clip of ``samples`` values in [-1, 1] becomes ``samples`` integer units in 0 .. 255:

    f(x) = sign(x) ln(1 + mu |x|) / ln(1 + mu),  mu = 255      (WaveNet eq. 2; ITU-T G.711)

quantised uniformly on [-1, 1], so quiet samples get finer steps than loud ones, as hearing does. ``decode`` inverts
the companding, x = sign(y) ((1 + mu)^|y| - 1) / mu, and shows undecided units (MASK, in intermediate versions) as
silence. Shape (T,): one row of samples, patchable into runs of neighbouring samples (``units/patches.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MuLawUnits:
    """Clips of ``samples`` samples at ``sample_rate`` Hz, each sample one of ``levels`` mu-law levels."""

    sample_rate: int
    samples: int
    levels: int = 256

    modality = "audio"
    variable_length = False  # every clip has all its samples (padded with silence); no END, no PAD
    patchable = True
    pad_id = None
    end_id = None
    # `ar` over samples runs a WaveNet (nn/wavenet.py): O(1) work per layer per sample where the Transformer attends
    # over up to 8,000 positions. Measured at equal minutes on FSDD (docs/experiments/sample_ar_network.py, 3 min at
    # batch 16, docs/results/sample-ar-network.json): WaveNet 16 updates, 5.72 bits a sample on held-out clips, 23x
    # real time at batch 1; the Transformer with a KV cache 3 updates, 7.09 bits, 47x real time
    sequential_network = "wavenet"

    def __post_init__(self):
        if self.levels < 2 or self.samples < 1 or self.sample_rate < 1:
            raise ValueError(f"mu-law units need levels >= 2, samples >= 1 and a sample rate, got {self}")

    @property
    def seq_len(self) -> int:
        return self.samples

    @property
    def vocab_size(self) -> int:
        return self.levels

    @property
    def shape(self) -> tuple[int]:
        return (self.samples,)

    @property
    def seconds(self) -> float:
        return self.samples / self.sample_rate

    @property
    def mu(self) -> float:
        return float(self.levels - 1)

    def encode(self, waves: torch.Tensor) -> torch.Tensor:
        """(N, T) floats in [-1, 1] -> (N, T) long units: companded, then the nearest of ``levels`` levels."""
        if waves.dim() != 2 or waves.shape[1] != self.samples:
            raise ValueError(f"expected waves of shape (N, {self.samples}), got {tuple(waves.shape)}")
        x = waves.float().clamp(-1, 1)
        y = torch.sign(x) * torch.log1p(self.mu * x.abs()) / math.log1p(self.mu)
        return ((y + 1) / 2 * self.mu).round().long().clamp(0, self.levels - 1)

    def decode(self, units: torch.Tensor) -> torch.Tensor:
        """(N, T) units -> (N, T) floats in [-1, 1]; units outside 0 .. levels - 1 (MASK) are silence."""
        units = units.long()
        valid = (units >= 0) & (units < self.levels)
        y = units.clamp(0, self.levels - 1).float() / self.mu * 2 - 1
        x = torch.sign(y) * ((1 + self.mu) ** y.abs() - 1) / self.mu
        return torch.where(valid, x, torch.zeros_like(x))

    def to_dict(self) -> dict:
        return {"type": "mulaw", "sample_rate": self.sample_rate, "samples": self.samples, "levels": self.levels}

    @classmethod
    def from_dict(cls, d: dict) -> "MuLawUnits":
        return cls(sample_rate=int(d["sample_rate"]), samples=int(d["samples"]), levels=int(d.get("levels", 256)))
