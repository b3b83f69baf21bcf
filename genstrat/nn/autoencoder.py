"""A convolutional auto-encoder that compresses an image into a small grid of codes.

The first stage of two-stage generation (the lecture's second fix): an encoder maps a
(C, H, W) image to an (h, w) grid, h = H / factor, w = W / factor, and a decoder maps the grid
back. Two kinds of grid:

- ``quantizer="fsq"``: finite scalar quantisation (Mentzer et al. 2024, "Finite Scalar
  Quantization: VQ-VAE Made Simple", eq. 1-3), via the maintained ``vector-quantize-pytorch``
  library. Each position's d = len(levels) channels are bounded and rounded to ``levels[i]``
  values; the d-tuple is one code out of prod(levels) (8 x 5 x 5 x 5 = 1,000 by default, the
  paper's recommendation for a ~2^10 codebook). Straight-through gradients; no codebook to
  collapse, so no dead-code handling is needed, but the quantiser's input must be spread over
  the levels: a parameter-free BatchNorm normalises it (a throw-away spike here collapsed to
  one code without it).
- ``quantizer="continuous"``: the channels are bounded by tanh to (-1, 1) and, during
  training, perturbed by Gaussian noise of std ``latent_noise`` (a fixed-variance VAE
  posterior, so that the decoder tolerates the small errors a latent diffusion model makes;
  Rombach et al. 2022 regularise their latent with a small KL term for the same reason).
  Four channels by default, as Stable Diffusion's auto-encoders have (Rombach et al. 2022,
  tab. 8): on MNIST's 7 x 7 grid, 3 training minutes gave reconstructions of judge Fréchet 3.7
  with 4 channels (the real-vs-real reference is 3.7) against 6.3 with 2, and the same latent
  diffusion prior budget went from 10.35 to 9.50 at DPM-Solver++ 8 steps at the same guidance
  1.2, and to 6.66 at the guidance 1 these latents prefer (docs/history.md).

Encoder: 3x3 conv, then ``log2(factor)`` stride-2 4x4 convs, a residual block, a 1x1 conv to
the latent channels. Decoder: the mirror with transposed convs. The decoder outputs logits
of a Bernoulli per pixel (Kingma & Welling 2014 use the same decoder on MNIST); the training
loss is binary cross-entropy against pixel values in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from genstrat.errors import GenstratError

QUANTIZERS = ("fsq", "continuous")


@dataclass
class AutoencoderConfig:
    channels: int                  # image channels C
    height: int                    # image height H
    width: int                     # image width W
    factor: int = 4                # downsampling per side: the code grid is (H / factor, W / factor)
    quantizer: str = "fsq"         # "fsq" (discrete codes) or "continuous" (latent diffusion)
    fsq_levels: list[int] = field(default_factory=lambda: [8, 5, 5, 5])  # fsq: levels per channel
    latent_channels: int = 4       # continuous: channels per code position
    hidden: int = 64               # convolution width
    latent_noise: float = 0.1      # continuous: std of the training-time noise on the latent

    def __post_init__(self):
        if self.quantizer not in QUANTIZERS:
            raise GenstratError(f"unknown quantizer '{self.quantizer}'; choose one of: {', '.join(QUANTIZERS)}")
        if self.factor < 1 or self.factor & (self.factor - 1):
            raise GenstratError(f"--factor must be a power of 2 (1, 2, 4, ...), got {self.factor}")
        if self.height % self.factor or self.width % self.factor:
            raise GenstratError(f"images of {self.height}x{self.width} do not divide by --factor {self.factor}; "
                                f"pick a factor that divides both sides")
        if self.quantizer == "fsq" and (not self.fsq_levels or min(self.fsq_levels) < 2
                                        or math.prod(self.fsq_levels) > 1024):
            raise GenstratError(f"FSQ levels {self.fsq_levels} must each be >= 2 with a product of at most 1,024 codes")

    @property
    def grid(self) -> tuple[int, int]:
        return self.height // self.factor, self.width // self.factor

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.channels, self.height, self.width

    @property
    def latent_sides(self) -> tuple[int, int]:
        """The latent's spatial sides (h, w): what a multi-scale quantizer (``multiscale.py``) splits into scales."""
        return self.grid

    def describe(self) -> str:
        return f"{self.grid[0]}x{self.grid[1]} grid"

    @property
    def code_channels(self) -> int:
        return len(self.fsq_levels) if self.quantizer == "fsq" else self.latent_channels

    @property
    def codebook_size(self) -> int:
        """Discrete codes per position (fsq), or 0 for continuous latents."""
        return math.prod(self.fsq_levels) if self.quantizer == "fsq" else 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "AutoencoderConfig":
        return cls(**d)


def default_factor(height: int, width: int) -> int:
    """4 for MNIST-sized images (28x28 -> 7x7 codes), 2 for small ones (8x8 digits -> 4x4)."""
    return 4 if min(height, width) >= 16 and height % 4 == 0 and width % 4 == 0 else 2


class ResidualBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.GroupNorm(8, width), nn.SiLU(), nn.Conv2d(width, width, 3, padding=1),
                                  nn.GroupNorm(8, width), nn.SiLU(), nn.Conv2d(width, width, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


class Autoencoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        self.cfg = cfg
        h, downs, d = cfg.hidden, int(math.log2(cfg.factor)), cfg.code_channels
        encoder = [nn.Conv2d(cfg.channels, h, 3, padding=1), nn.SiLU()]
        for _ in range(downs):
            encoder += [nn.Conv2d(h, h, 4, stride=2, padding=1), nn.SiLU()]
        self.encoder = nn.Sequential(*encoder, ResidualBlock(h), nn.Conv2d(h, d, 1))
        self.normalize = nn.BatchNorm2d(d, affine=False)  # spreads the quantiser's input over its levels
        decoder = [nn.Conv2d(d, h, 3, padding=1), ResidualBlock(h)]
        for _ in range(downs):
            decoder += [nn.SiLU(), nn.ConvTranspose2d(h, h, 4, stride=2, padding=1)]
        self.decoder = nn.Sequential(*decoder, nn.SiLU(), nn.Conv2d(h, cfg.channels, 3, padding=1))
        if cfg.quantizer == "fsq":
            from vector_quantize_pytorch import FSQ
            self.fsq = FSQ(levels=list(cfg.fsq_levels), channel_first=True)

    # the training loop asks every model for its null condition; an auto-encoder ignores labels
    def null_condition(self, cond: torch.Tensor) -> torch.Tensor:
        return cond

    def latent(self, images: torch.Tensor, with_indices: bool = False):
        """(N, C, H, W) in [0, 1] -> the quantised (fsq) or bounded (continuous) latent (N, d, h, w)
        (and, for fsq with ``with_indices``, the code index of every position (N, h, w))."""
        z = self.normalize(self.encoder(images * 2 - 1))
        if self.cfg.quantizer == "fsq":
            z, indices = self.fsq(z)
            return (z, indices) if with_indices else z
        z = torch.tanh(z)
        if self.training and self.cfg.latent_noise > 0:
            z = z + self.cfg.latent_noise * torch.randn_like(z)
        return z

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent (N, d, h, w) -> images (N, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.decoder(z))

    def loss(self, images: torch.Tensor) -> torch.Tensor:
        """Reconstruction loss: Bernoulli negative log-likelihood per pixel (binary cross-entropy)."""
        return F.binary_cross_entropy_with_logits(self.decoder(self.latent(images)), images)

    @torch.no_grad()
    def to_codes(self, images: torch.Tensor) -> torch.Tensor:
        """Images -> code units (N, h * w * k) long, raster order with channels innermost (as pixels):
        fsq: one code index per position (k = 1); continuous: each channel at 256 levels (k = d)."""
        if self.cfg.quantizer == "fsq":
            return self.latent(images, with_indices=True)[1].long().reshape(images.shape[0], -1)
        z = self.latent(images)
        return ((z.clamp(-1, 1) + 1) / 2 * 255).round().long().permute(0, 2, 3, 1).reshape(images.shape[0], -1)

    @torch.no_grad()
    def from_codes(self, units: torch.Tensor) -> torch.Tensor:
        """Code units (N, L) -> images (N, C, H, W) in [0, 1]. Ids outside the code range (a MASK in an
        intermediate version) decode as the latent's centre, so a half-made grid can be drawn."""
        (h, w), n = self.cfg.grid, units.shape[0]
        units = units.long()
        if self.cfg.quantizer == "fsq":
            valid = ((units >= 0) & (units < self.cfg.codebook_size)).reshape(n, 1, h, w)
            z = self.fsq.indices_to_codes(torch.where(valid.reshape(n, h, w), units.reshape(n, h, w), 0)).float()
            z = torch.where(valid, z, torch.zeros_like(z))  # (N, d, h, w)
        else:
            valid = (units >= 0) & (units <= 255)
            z = torch.where(valid, units.float() / 255 * 2 - 1, torch.zeros_like(units, dtype=torch.float))
            z = z.reshape(n, h, w, -1).permute(0, 3, 1, 2)
        return self.decode(z.contiguous())
