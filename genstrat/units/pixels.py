"""Image pixels quantised to a few grey (or colour-channel) levels.

An image of shape (C, H, W) with values in [0, 1] becomes a sequence of
``C * H * W`` integer units in raster order (row by row, channels innermost), each in
``0 .. levels-1``. This is the unit space of pixel AR models such as PixelCNN and
Image GPT (Chen et al. 2020, which also quantised colours to a small palette).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class PixelUnits:
    """Images of shape (C, H, W) as C * H * W units of ``levels`` values, raster order, channels innermost."""

    levels: int
    channels: int
    height: int
    width: int

    modality = "image"
    variable_length = False  # every image has all its units; no END, no PAD
    patchable = True
    pad_id = None
    end_id = None

    def __post_init__(self):
        if self.levels < 2:
            raise ValueError(f"pixel levels must be at least 2, got {self.levels}")

    @property
    def seq_len(self) -> int:
        return self.channels * self.height * self.width

    @property
    def vocab_size(self) -> int:
        return self.levels

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height, self.width)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) floats in [0, 1] -> (N, L) long units: level = floor(x * levels)."""
        if images.dim() != 4 or tuple(images.shape[1:]) != self.shape:
            raise ValueError(f"expected images of shape (N, {self.channels}, {self.height}, {self.width}), "
                             f"got {tuple(images.shape)}")
        levels = torch.clamp(torch.floor(images.float() * self.levels), 0, self.levels - 1).long()
        return levels.permute(0, 2, 3, 1).reshape(images.shape[0], self.seq_len)

    def decode(self, units: torch.Tensor) -> torch.Tensor:
        """(N, L) units -> (N, C, H, W) floats in [0, 1]: x = level / (levels - 1).

        Units outside ``0 .. levels-1`` (e.g. a MASK id in an intermediate version) are shown
        as mid-grey, so a partly generated canvas can be drawn.
        """
        units = units.long()
        valid = (units >= 0) & (units < self.levels)
        values = torch.where(valid, units.float() / (self.levels - 1),
                             torch.full_like(units, 0, dtype=torch.float) + 0.5)
        return values.reshape(units.shape[0], self.height, self.width, self.channels).permute(0, 3, 1, 2).contiguous()

    def to_dict(self) -> dict:
        return {"type": "pixels", **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "PixelUnits":
        return cls(levels=int(d["levels"]), channels=int(d["channels"]), height=int(d["height"]), width=int(d["width"]))
