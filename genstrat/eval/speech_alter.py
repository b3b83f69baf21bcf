"""Alterations that keep a spoken word a listener can name: what the audio judge trains on beside clean clips.

A judge trained only on clean, peak-normalised recordings with exact digital silence read a -40 dB white noise floor
(STOI 0.98 against the clean clip) as another digit half the time, and a 2 kHz low-pass (STOI 0.92) likewise
(``docs/results/audio-judge-robustness-clean-judge.json``). Every generated clip carries some such trace of the
generator (a codec's hiss, a band it never learned), so a judge that confuses them with the word scores the trace,
not the word. The usual fix in speech recognition is data augmentation with noise and channel effects (Ko et al.
2015, speed and channel perturbation; Park et al. 2019, SpecAugment's masking is the spectral relative). Here each
clip independently gets:

- a gain uniform in [GAIN_DB, 0] dB (the judge's log-mel is relative to each clip's peak, so this only moves the
  clip against the noise floor and the mu-law quantisation);
- with probability BAND_P a low-pass at a cutoff uniform in [LOWPASS_HZ, Nyquist], and with probability BAND_P a
  high-pass at a cutoff uniform in [0, HIGHPASS_HZ] (a telephone-like channel keeps digits intelligible);
- a white noise floor at a level uniform in NOISE_DB dB below full scale.
"""

from __future__ import annotations

import torch

GAIN_DB = -24.0
BAND_P = 0.5
LOWPASS_HZ, HIGHPASS_HZ = 1500.0, 300.0
NOISE_DB = (-75.0, -30.0)


def uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def word_preserving(waves: torch.Tensor, sample_rate: int, generator: torch.Generator) -> torch.Tensor:
    """(N, T) waves in [-1, 1] -> the same clips, each altered at random as the module says, in [-1, 1]."""
    n, length = waves.shape
    gain = 10 ** (uniform(n, GAIN_DB, 0.0, generator) / 20)
    out = waves.float() * gain[:, None]
    freqs = torch.fft.rfftfreq(length, 1 / sample_rate)
    nyquist = sample_rate / 2
    low_cut = torch.where(torch.rand(n, generator=generator) < BAND_P, uniform(n, LOWPASS_HZ, nyquist, generator),
                          torch.full((n,), nyquist))
    high_cut = torch.where(torch.rand(n, generator=generator) < BAND_P, uniform(n, 0.0, HIGHPASS_HZ, generator),
                           torch.zeros(n))
    keep = (freqs[None] <= low_cut[:, None]) & (freqs[None] >= high_cut[:, None])
    out = torch.fft.irfft(torch.fft.rfft(out, dim=1) * keep, n=length, dim=1)
    noise_level = 10 ** (uniform(n, *NOISE_DB, generator) / 20)
    out = out + torch.randn(out.shape, generator=generator) * noise_level[:, None]
    return out.clamp(-1, 1)
