"""An auto-encoder's codes as a unit space: what a two-stage prior generates.

To a strategy, a grid of codes looks like a small image: ``seq_len`` positions in raster
order, each one of ``vocab_size`` values. FSQ codes are one unit per position (1,000 values by
default; 7 x 7 = 49 units for MNIST instead of 784 pixels). Continuous latents are one unit per
position and channel, each channel at 256 levels of (-1, 1), so a diffusion prior reads them as
it reads grey levels (``levels`` = 256) and turns them back into real values; the rounding
error (< 0.004) is far below the noise the auto-encoder is trained to tolerate. A multi-scale
stage one's codes are every scale's map in one row (1 + 4 + 9 + 25 + 49 = 88 over MNIST's 7 x 7).

``decode`` runs the auto-encoder's decoder: units -> images, so the judge, the grids and the
version strips all see pixels (every intermediate version through the decoder).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from genstrat.units.pixels import PixelUnits


@dataclass(frozen=True)
class CodeUnits(PixelUnits):
    """A grid of codes: PixelUnits' shape and counting (seq_len, vocab_size), the auto-encoder's encode / decode."""

    autoencoder: object = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, autoencoder) -> "CodeUnits":
        cfg = autoencoder.cfg
        height, width = cfg.grid
        if cfg.quantizer == "multiscale":  # every scale's map in a row, coarsest first (``nn/multiscale.py``)
            return cls(levels=cfg.codebook_size, channels=1, height=1, width=cfg.tokens, autoencoder=autoencoder)
        if cfg.quantizer == "fsq":  # a codec may write several codes a frame; the image auto-encoder one a position
            return cls(levels=cfg.codebook_size, channels=getattr(cfg, "codebooks", 1), height=height, width=width,
                       autoencoder=autoencoder)
        return cls(levels=256, channels=cfg.code_channels, height=height, width=width, autoencoder=autoencoder)

    def encode(self, images: torch.Tensor, batch: int = 1000) -> torch.Tensor:
        """(N, C, H, W) images in [0, 1] -> (N, seq_len) codes, in batches (the whole training set fits)."""
        self.autoencoder.eval()
        return torch.cat([self.autoencoder.to_codes(chunk) for chunk in images.split(batch)])

    def decode(self, units: torch.Tensor) -> torch.Tensor:
        """(N, seq_len) codes -> (N, C, H, W) images in [0, 1] through the decoder."""
        self.autoencoder.eval()
        return self.autoencoder.from_codes(units)
