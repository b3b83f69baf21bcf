"""What every audio dataset shares: reading a file with soundfile, and fitting a clip to the unit space.

A clip is mixed to mono, resampled to ``sample_rate`` (polyphase filtering, ``scipy.signal.resample_poly``), scaled
so its peak is 0.95 (recordings differ in level; the strategies should learn the words, not the microphone gain),
then cut or padded with silence at the end to ``seconds``. Its units are 8-bit mu-law samples (``units/audio.py``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from math import gcd

import numpy as np
import torch

from genstrat.data.dataset import ImageData
from genstrat.data.options import DataOption
from genstrat.errors import GenstratError
from genstrat.units.audio import MuLawUnits

DEFAULT_RATE, DEFAULT_SECONDS, PEAK = 8000, 1.0, 0.95


@dataclass
class AudioData(ImageData):
    """Clips as rows of mu-law units plus class labels; ``*_units`` are (N, T) uint8."""


SAMPLE_RATE = DataOption("sample_rate", int, f"resample clips to this rate (default {DEFAULT_RATE} Hz)", low=1000,
                         high=48000)
SECONDS = DataOption("seconds", float, f"cut or pad clips to this length (default {DEFAULT_SECONDS} s)", low=0.05,
                     high=10)


def audio_options(sample_rate: int | None, seconds: float | None) -> tuple[int, int]:
    """(sample rate, samples per clip) from the user's options, checked."""
    rate = SAMPLE_RATE.check(sample_rate or DEFAULT_RATE)
    length = SECONDS.check(seconds or DEFAULT_SECONDS)
    return rate, int(round(rate * length))


def read_audio(payload: bytes | str, what: str) -> tuple[np.ndarray, int]:
    """(samples (T,) float mono, sample rate) of a WAV / FLAC / OGG file or its bytes; one clear line if unreadable."""
    import soundfile

    try:
        wave, rate = soundfile.read(io.BytesIO(payload) if isinstance(payload, bytes) else payload, dtype="float32",
                                    always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, OSError) as e:
        raise GenstratError(f"cannot read audio {what} ({str(e).splitlines()[0][:100]}); is it a WAV, FLAC or OGG "
                            f"file?") from None
    if not 1000 <= rate <= 384000:  # a corrupt header's rate would make resampling enormous
        raise GenstratError(f"audio {what} says its sample rate is {rate} Hz (expected 1,000 to 384,000); the file "
                            f"is corrupt or not a recording")
    if wave.shape[0] == 0:  # else it would become a clip of pure silence labelled with its class
        raise GenstratError(f"audio {what} holds no samples (0 frames); remove it or record it again")
    if not np.isfinite(wave).all():
        raise GenstratError(f"audio {what} holds samples that are not finite numbers (NaN or infinity); the file is "
                            f"corrupt: remove it or export it again")
    return wave.mean(axis=1), int(rate)


def fit_clip(wave: np.ndarray, rate: int, sample_rate: int, samples: int) -> np.ndarray:
    """Resample to ``sample_rate``, peak-normalise, cut or pad at the end to ``samples``."""
    if rate != sample_rate:
        from scipy.signal import resample_poly

        common = gcd(rate, sample_rate)
        wave = resample_poly(wave, sample_rate // common, rate // common).astype(np.float32)
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    if peak > 0:
        wave = wave * (PEAK / peak)
    out = np.zeros(samples, dtype=np.float32)
    out[: min(samples, wave.size)] = wave[:samples]
    return out


def clips_to_data(name: str, clips: list[np.ndarray], labels: list[int], test: list[bool], class_names: list[str],
                  sample_rate: int, samples: int, spec: dict) -> AudioData:
    units = MuLawUnits(sample_rate=sample_rate, samples=samples)
    waves = torch.from_numpy(np.stack(clips))
    encoded = units.encode(waves).to(torch.uint8)
    labels_t, test_t = torch.tensor(labels, dtype=torch.long), torch.tensor(test, dtype=torch.bool)
    if not test_t.any() or test_t.all():
        raise GenstratError(f"{name}: the split left no {'test' if not test_t.any() else 'training'} clips")
    return AudioData(name=name, units=units, class_names=class_names, train_units=encoded[~test_t],
                     train_labels=labels_t[~test_t], test_units=encoded[test_t], test_labels=labels_t[test_t],
                     spec={**spec, "sample_rate": sample_rate, "seconds": samples / sample_rate})
