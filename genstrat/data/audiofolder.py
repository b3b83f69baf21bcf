"""`audiofolder:PATH`: the user's recordings, one sub-folder per class (WAV, FLAC or OGG: what soundfile reads).

Any sample rate, mono or stereo: each file is mixed to mono, resampled to ``--sample-rate`` (default 8000), peak
normalised and cut or padded to ``--seconds`` (default 1.0; ``data/audio_clips.py``). A seeded 20% of each class is
held out as the test split.
"""

from __future__ import annotations

from pathlib import Path

import torch

from genstrat.data.audio_clips import SAMPLE_RATE, SECONDS, audio_options, clips_to_data, fit_clip, read_audio
from genstrat.data.options import reads
from genstrat.errors import GenstratError

SUFFIXES = {".wav", ".flac", ".ogg"}
TEST_FRACTION = 0.2


@reads(SAMPLE_RATE, SECONDS)
def load(path: str, sample_rate: int | None = None, seconds: float | None = None):
    root = Path(path)
    if not root.is_dir():
        raise GenstratError(f"audio folder {root} does not exist; give a folder with one sub-folder per class")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    if len(classes) < 2:
        raise GenstratError(f"audio folder {root} needs at least two class sub-folders, found {len(classes)}")
    rate, samples = audio_options(sample_rate, seconds)
    clips, labels, test = [], [], []
    generator = torch.Generator().manual_seed(0)
    for label, name in enumerate(classes):
        files = sorted(f for f in (root / name).iterdir() if f.suffix.lower() in SUFFIXES)
        if len(files) < 2:
            raise GenstratError(f"class folder {root / name} needs at least two audio files (WAV, FLAC, OGG)")
        held_out = set(torch.randperm(len(files), generator=generator)[:max(1, round(TEST_FRACTION * len(files)))]
                       .tolist())
        for i, file in enumerate(files):
            wave, file_rate = read_audio(str(file), str(file))
            clips.append(fit_clip(wave, file_rate, rate, samples))
            labels.append(label)
            test.append(i in held_out)
    return clips_to_data(f"audiofolder:{root.name}", clips, labels, test, classes, rate, samples,
                         spec={"name": f"audiofolder:{root}"})
