"""A learned audio codec: a clip becomes a short row of codes (one per STFT frame), and back.

Stage one of two-stage audio (the lecture's "codec language model": VALL-E over EnCodec, SoundStorm, MAGNeT). Like
the image auto-encoder (``nn/autoencoder.py``) it exposes ``to_codes`` / ``from_codes`` / ``loss`` and a ``cfg`` with
``grid``, ``quantizer``, ``codebook_size`` and ``fsq_levels``, so the two-stage pipeline does not know which it holds.

- **Encoder**: the clip's log-magnitude STFT (n_fft 256, hop 64: 125 frames a second at 8 kHz) through a 1-D
  convolutional stack over frames (ConvNeXt blocks, Liu et al. 2022: depthwise 7-tap conv, LayerNorm, 4x pointwise
  MLP, residual), to ``code_channels`` values per frame.
- **Quantiser**: FSQ (Mentzer et al. 2024, eq. 1-3) through ``vector-quantize-pytorch``, ``codebooks`` codes per
  frame, each out of prod(levels) (8 x 5 x 5 x 5 = 1,000) over its own len(levels) channels (grouped FSQ: FSQ's
  ``num_codebooks``; two codebooks carry 20 bits a frame over 8 channels where one carries 10 over 4), after a
  parameter-free BatchNorm that spreads its input over the levels (as the image auto-encoder); or a continuous latent
  bounded by tanh and noised in training (for latent diffusion). A frame's codes are neighbours in the code row
  (frame-major), as a continuous latent's channels are.
- **Decoder**: the mirror stack, ending in a linear map to each frame's log-magnitude m and phase p; the frame's
  spectrum is exp(m) (cos p + i sin p) and the waveform is its inverse STFT (``torch.istft``). This is the Vocos
  decoder (Siuzdak 2023, eq. 1-2): it predicts Fourier coefficients, not samples, so no upsampling stack has to learn
  to draw waveforms. Measured before this code: a time-domain transposed-convolution decoder was unintelligible
  (STOI 0.03) where this kind of decoder reached STOI 0.82 at the same 4 CPU minutes.
- **Loss**: L1 on the waveform plus the multi-resolution STFT loss (spectral convergence + log-magnitude L1 at three
  resolutions; Yamamoto et al. 2020, Parallel WaveGAN eq. 4-7) from the maintained ``auraloss`` package.
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
class CodecConfig:
    samples: int                   # clip length T in samples
    sample_rate: int
    n_fft: int = 256               # STFT size; n_fft // 2 + 1 frequency bins per frame
    hop: int = 64                  # samples per code frame: T // hop + 1 frames
    quantizer: str = "fsq"         # "fsq" (discrete codes) or "continuous" (latent diffusion)
    fsq_levels: list[int] = field(default_factory=lambda: [8, 5, 5, 5])
    codebooks: int = 1             # fsq: codes per frame, each over its own len(fsq_levels) channels
    latent_channels: int = 4       # continuous: values per frame
    hidden: int = 128              # channels of the convolutional stacks
    blocks: int = 4                # ConvNeXt blocks in the encoder and in the decoder
    latent_noise: float = 0.1      # continuous: std of the training-time noise on the latent
    lr: float = 1e-3               # the codec's learning rate (its own: 2e-3 suits the image auto-encoder)
    type: str = "codec"

    def __post_init__(self):
        if self.quantizer not in QUANTIZERS:
            raise GenstratError(f"unknown quantizer '{self.quantizer}'; choose one of: {', '.join(QUANTIZERS)}")
        if self.hop < 1 or self.n_fft < self.hop or self.samples < self.n_fft:
            raise GenstratError(f"codec needs hop <= n_fft <= clip length, got hop {self.hop}, n_fft {self.n_fft}, "
                                f"{self.samples} samples")
        if self.quantizer == "fsq" and (not self.fsq_levels or min(self.fsq_levels) < 2
                                        or math.prod(self.fsq_levels) > 4096):
            raise GenstratError(f"FSQ levels {self.fsq_levels} must each be >= 2 with a product of at most 4,096 codes")
        if self.codebooks < 1:
            raise GenstratError(f"a codec needs at least one codebook a frame, got {self.codebooks}")

    @property
    def frames(self) -> int:
        return self.samples // self.hop + 1  # torch.stft with center=True

    @property
    def grid(self) -> tuple[int, int]:
        """Codes as a one-row grid: (1, frames)."""
        return 1, self.frames

    @property
    def latent_sides(self) -> tuple[int]:
        """The latent's one side: its frames in time (what a multi-scale quantizer splits into scales)."""
        return (self.frames,)

    @property
    def data_shape(self) -> tuple[int]:
        return (self.samples,)

    @property
    def code_channels(self) -> int:
        return len(self.fsq_levels) * self.codebooks if self.quantizer == "fsq" else self.latent_channels

    @property
    def codebook_size(self) -> int:
        return math.prod(self.fsq_levels) if self.quantizer == "fsq" else 0

    def describe(self) -> str:
        per_frame = f", {self.codebooks} codes each" if self.quantizer == "fsq" and self.codebooks > 1 else ""
        return f"{self.frames} frames ({self.sample_rate / self.hop:g} a second{per_frame})"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CodecConfig":
        return cls(**d)


class ConvNeXtBlock(nn.Module):
    """x + W2 GELU(W1 LN(depthwise conv7(x))) over (N, C, frames) (Liu et al. 2022, as Vocos uses it)."""

    def __init__(self, width: int):
        super().__init__()
        self.depthwise = nn.Conv1d(width, width, 7, padding=3, groups=width)
        self.norm = nn.LayerNorm(width)
        self.up, self.down = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

    def forward(self, x):
        h = self.norm(self.depthwise(x).transpose(1, 2))
        return x + self.down(F.gelu(self.up(h))).transpose(1, 2)


def conv_stack(inputs: int, width: int, outputs: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(inputs, width, 7, padding=3), *[ConvNeXtBlock(width) for _ in range(blocks)],
                         nn.Conv1d(width, outputs, 1))


class Codec(nn.Module):
    def __init__(self, cfg: CodecConfig):
        super().__init__()
        self.cfg = cfg
        bins, d = cfg.n_fft // 2 + 1, cfg.code_channels
        self.encoder = conv_stack(bins, cfg.hidden, d, cfg.blocks)
        self.normalize = nn.BatchNorm1d(d, affine=False)  # spreads the quantiser's input over its levels
        self.decoder = conv_stack(d, cfg.hidden, 2 * bins, cfg.blocks)
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        if cfg.quantizer == "fsq":
            from vector_quantize_pytorch import FSQ
            self.fsq = FSQ(levels=list(cfg.fsq_levels), num_codebooks=cfg.codebooks, channel_first=True)
        self._stft_loss = None

    def null_condition(self, cond: torch.Tensor) -> torch.Tensor:  # the training loop asks; a codec ignores labels
        return cond

    def spectrum(self, waves: torch.Tensor) -> torch.Tensor:
        return torch.stft(waves.float(), self.cfg.n_fft, self.cfg.hop, window=self.window, return_complex=True)

    def latent(self, waves: torch.Tensor, with_indices: bool = False):
        """(N, T) waves in [-1, 1] -> quantised (fsq) or bounded (continuous) latent (N, d, frames) (and, for fsq
        with ``with_indices``, each frame's codes (N, frames) or, with several codebooks, (N, frames, codebooks))."""
        features = torch.log(self.spectrum(waves).abs() + 1e-5)
        z = self.normalize(self.encoder(features))
        if self.cfg.quantizer == "fsq":
            z, indices = self.fsq(z)
            return (z, indices) if with_indices else z
        z = torch.tanh(z)
        if self.training and self.cfg.latent_noise > 0:
            z = z + self.cfg.latent_noise * torch.randn_like(z)
        return z

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent (N, d, frames) -> waves (N, T): exp(m) (cos p + i sin p), then the inverse STFT (Vocos eq. 1-2)."""
        log_magnitude, phase = self.decoder(z).float().chunk(2, dim=1)
        magnitude = torch.exp(log_magnitude.clamp(max=6.0))  # exp(6) ~ 400: above any bin of a clip in [-1, 1]
        spectrum = torch.polar(magnitude, phase)
        return torch.istft(spectrum, self.cfg.n_fft, self.cfg.hop, window=self.window, length=self.cfg.samples)

    def loss(self, waves: torch.Tensor) -> torch.Tensor:
        """L1 on the waveform + multi-resolution STFT loss (Yamamoto et al. 2020, eq. 4-7; ``auraloss``)."""
        if self._stft_loss is None:
            import auraloss
            sizes = [self.cfg.n_fft // 2, self.cfg.n_fft, self.cfg.n_fft * 2]
            self._stft_loss = auraloss.freq.MultiResolutionSTFTLoss(
                fft_sizes=sizes, hop_sizes=[s // 4 for s in sizes], win_lengths=sizes)
        rebuilt = self.decode(self.latent(waves))
        return F.l1_loss(rebuilt, waves) + self._stft_loss(rebuilt[:, None], waves.float()[:, None])

    @torch.no_grad()
    def to_codes(self, waves: torch.Tensor) -> torch.Tensor:
        """Waves (N, T) -> code units (N, frames * k), frame-major (as the image auto-encoder's channels-innermost
        order): fsq a frame's ``codebooks`` codes; continuous each of the d values at 256 levels."""
        if self.cfg.quantizer == "fsq":
            return self.latent(waves, with_indices=True)[1].long().reshape(waves.shape[0], -1)
        z = self.latent(waves)
        return ((z.clamp(-1, 1) + 1) / 2 * 255).round().long().transpose(1, 2).reshape(waves.shape[0], -1)

    @torch.no_grad()
    def from_codes(self, units: torch.Tensor) -> torch.Tensor:
        """Code units (N, L) -> waves (N, T). Ids outside the code range (MASK in an intermediate version) decode as
        the latent's centre."""
        n, frames, units = units.shape[0], self.cfg.frames, units.long()
        if self.cfg.quantizer == "fsq":
            k = self.cfg.codebooks
            valid = (units >= 0) & (units < self.cfg.codebook_size)
            indices = torch.where(valid, units, 0).reshape(n, frames, k) if k > 1 else torch.where(valid, units, 0)
            z = self.fsq.indices_to_codes(indices).float()  # (N, d, frames), codebook-major channels
            valid = valid.reshape(n, frames, k).transpose(1, 2).repeat_interleave(len(self.cfg.fsq_levels), dim=1)
            z = torch.where(valid, z, torch.zeros_like(z))
        else:
            valid = (units >= 0) & (units <= 255)
            z = torch.where(valid, units.float() / 255 * 2 - 1, torch.zeros_like(units, dtype=torch.float))
            z = z.reshape(n, frames, -1).transpose(1, 2)
        return self.decode(z.contiguous()).clamp(-1, 1)
