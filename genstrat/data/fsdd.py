"""`fsdd`: the Free Spoken Digit Dataset v1.0.10, real speech (Jackson et al.; licence CC BY-SA 4.0).

3,000 recordings of the digits 0-9 by 6 speakers, 50 of each digit per speaker, 8 kHz mono 16-bit WAV, named
``{digit}_{speaker}_{index}.wav``. The condition is the digit; the dataset's own split holds recordings 0-4 of each
digit and speaker out as the test set (300), 5-49 are the training set (2,700).

Read from ``--data-dir`` (or ``$GENSTRAT_DATA/fsdd``, or the cache ``~/.cache/genstrat/fsdd``): the archive the
dataset's repository serves for tag v1.0.10 (``free-spoken-digit-dataset-1.0.10.tar.gz``) or its extracted
``recordings/`` folder. When neither is there it downloads the tag archive into the cache; offline, a clear error.
"""

from __future__ import annotations

import os
import re
import tarfile
import urllib.request
from pathlib import Path

from genstrat.cache import cache_root
from genstrat.data.audio_clips import SAMPLE_RATE, SECONDS, audio_options, clips_to_data, fit_clip, read_audio
from genstrat.data.options import DATA_DIR, reads
from genstrat.errors import GenstratError

ARCHIVE = "free-spoken-digit-dataset-1.0.10.tar.gz"
URL = "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.tar.gz"
NAME = re.compile(r"(\d)_([a-z]+)_(\d+)\.wav$")
TEST_INDICES = range(5)  # recordings 0-4 of each digit and speaker: the dataset's own test set


def candidates(data_dir: str | None) -> list[Path]:
    folders = [Path(data_dir)] if data_dir else []
    if os.environ.get("GENSTRAT_DATA"):
        folders.append(Path(os.environ["GENSTRAT_DATA"]) / "fsdd")
    return folders + [cache_root() / "fsdd"]


def recordings(data_dir: str | None) -> list[tuple[str, bytes]]:
    """(file name, WAV bytes) of every recording, from the first folder holding the archive or ``recordings/``."""
    for folder in candidates(data_dir):
        for wavs in (folder / "recordings", folder):
            files = sorted(wavs.glob("*.wav")) if wavs.is_dir() else []
            if files:
                return [(f.name, f.read_bytes()) for f in files]
        if (folder / ARCHIVE).is_file():
            return read_archive(folder / ARCHIVE)
    if data_dir:
        raise GenstratError(f"FSDD not found in {data_dir}: expected {ARCHIVE} or a recordings/ folder of WAVs "
                            f"(e.g. --data-dir ../shared/data/fsdd)")
    return read_archive(download(cache_root() / "fsdd" / ARCHIVE))


def read_archive(path: Path) -> list[tuple[str, bytes]]:
    try:
        with tarfile.open(path, "r:gz") as archive:
            return [(Path(m.name).name, archive.extractfile(m).read()) for m in archive.getmembers()
                    if m.isfile() and NAME.search(m.name)]
    except (tarfile.TarError, OSError, EOFError) as e:
        raise GenstratError(f"{path} is not a readable FSDD archive ({e.__class__.__name__}); delete it and try "
                            f"again") from None


def download(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    try:
        with urllib.request.urlopen(URL, timeout=30) as response, open(partial, "wb") as f:
            f.write(response.read())
    except OSError as e:
        raise GenstratError(f"FSDD is not on this machine and could not be downloaded ({e.__class__.__name__}); "
                            f"give --data-dir with {ARCHIVE} (e.g. ../shared/data/fsdd)") from None
    partial.replace(target)
    return target


@reads(DATA_DIR, SAMPLE_RATE, SECONDS)
def load(data_dir: str | None = None, sample_rate: int | None = None, seconds: float | None = None):
    rate, samples = audio_options(sample_rate, seconds)
    clips, labels, test = [], [], []
    for name, payload in recordings(data_dir):
        match = NAME.search(name)
        if not match:
            continue
        wave, file_rate = read_audio(payload, name)
        clips.append(fit_clip(wave, file_rate, rate, samples))
        labels.append(int(match.group(1)))
        test.append(int(match.group(3)) in TEST_INDICES)
    if not clips:
        raise GenstratError("FSDD: no recordings named {digit}_{speaker}_{index}.wav were found")
    return clips_to_data("fsdd", clips, labels, test, [str(d) for d in range(10)], rate, samples,
                         spec={"name": "fsdd", **({"data_dir": data_dir} if data_dir else {})})
