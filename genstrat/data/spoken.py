"""`spoken` (embedded): the ten digits spoken by a real text-to-speech engine, eSpeak NG.

The PyPI package ``espeakng-loader`` ships libespeak-ng and its voice data; this module drives the library through
ctypes (``espeak_Initialize`` in synchronous mode, a synthesis callback that collects 16-bit samples at 22,050 Hz,
``espeak_SetVoiceByName``, ``espeak_SetParameter`` for speed and pitch, ``espeak_Synth``). Every digit word is said
by 2 base voices x 10 voice variants x 3 speeds x 3 pitches (1,800 clips), rendered once and kept in the cache
(``$GENSTRAT_CACHE/spoken``). The variants ``+f4`` and ``+m6`` of both base voices are held out: the test split is
voices the models never heard. Clips are fitted like every audio dataset (``data/audio_clips.py``).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
from pathlib import Path

import numpy as np

from genstrat.cache import cache_root
from genstrat.data.audio_clips import SAMPLE_RATE, SECONDS, audio_options, clips_to_data, fit_clip
from genstrat.data.options import reads
from genstrat.errors import GenstratError

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
BASES = ["en-us", "en"]
VARIANTS = ["", "+m1", "+m3", "+m6", "+m7", "+f1", "+f3", "+f4", "+croak", "+klatt"]
HELD_OUT = {"+f4", "+m6"}
SPEEDS = [130, 165, 200]   # words per minute
PITCHES = [35, 50, 70]     # 0-100
SYNCHRONOUS, RATE, PITCH, POS_CHARACTER = 2, 1, 3, 1  # espeak_AUDIO_OUTPUT, espeak_PARAMETER, espeak_POSITION_TYPE


def voices() -> list[str]:
    return [base + variant for base in BASES for variant in VARIANTS]


class Speaker:
    """eSpeak NG through ctypes: ``say(word, voice, speed, pitch)`` -> (samples int16, 22,050 Hz)."""

    def __init__(self):
        try:
            import espeakng_loader
        except ImportError:
            raise GenstratError("the spoken digits need the package espeakng-loader (pip install espeakng-loader)") \
                from None
        self.lib = ctypes.cdll.LoadLibrary(espeakng_loader.get_library_path())
        self.rate = self.lib.espeak_Initialize(SYNCHRONOUS, 0, str(Path(espeakng_loader.get_data_path()).parent)
                                               .encode(), 0)
        if self.rate <= 0:
            raise GenstratError("eSpeak NG did not start (espeak_Initialize failed); reinstall espeakng-loader")
        self.chunks: list[np.ndarray] = []
        callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
        self.callback = callback_type(self.collect)  # kept alive as long as the library may call it
        self.lib.espeak_SetSynthCallback(self.callback)

    def collect(self, wav, count, events) -> int:
        if count > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    def say(self, word: str, voice: str, speed: int, pitch: int) -> np.ndarray:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise GenstratError(f"eSpeak NG has no voice '{voice}'")
        self.lib.espeak_SetParameter(RATE, speed, 0)
        self.lib.espeak_SetParameter(PITCH, pitch, 0)
        self.chunks.clear()
        text = word.encode() + b"\0"
        self.lib.espeak_Synth(text, len(text), 0, POS_CHARACTER, 0, 0, None, None)
        self.lib.espeak_Synchronize()
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, dtype=np.int16)


def render(rate: int, samples: int) -> tuple[list[np.ndarray], list[int], list[bool]]:
    speaker = Speaker()
    clips, labels, test = [], [], []
    for voice in voices():
        for label, word in enumerate(WORDS):
            for speed in SPEEDS:
                for pitch in PITCHES:
                    wave = speaker.say(word, voice, speed, pitch).astype(np.float32) / 32768
                    clips.append(fit_clip(wave, speaker.rate, rate, samples))
                    labels.append(label)
                    test.append(voice[voice.find("+"):] in HELD_OUT if "+" in voice else False)
    return clips, labels, test


@reads(SAMPLE_RATE, SECONDS)
def load(sample_rate: int | None = None, seconds: float | None = None):
    rate, samples = audio_options(sample_rate, seconds)
    key = {"voices": voices(), "speeds": SPEEDS, "pitches": PITCHES, "rate": rate, "samples": samples}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_root() / "spoken" / f"{digest}.npz"
    if path.is_file():
        try:
            kept = np.load(path, allow_pickle=False)
            clips, labels, test = list(kept["clips"]), kept["labels"].tolist(), kept["test"].tolist()
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)
            return load(sample_rate, seconds)
    else:
        clips, labels, test = render(rate, samples)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part.npz")
        np.savez_compressed(partial, clips=np.stack(clips), labels=np.array(labels), test=np.array(test))
        partial.replace(path)
    return clips_to_data("spoken", clips, labels, test, WORDS, rate, samples, spec={"name": "spoken"})
