"""Every reader a user's file reaches, attacked with generated input: random bytes and mutations (bit flips,
truncations, insertions, spliced chunks) of a valid file of its kind. Each input must end in one of two ways: read,
or a one-line ``GenstratError`` that names the file; never a traceback, never a hang (each input runs under a
10-second alarm).

The suite runs a short seeded subset (``GENSTRAT_FUZZ_EXAMPLES``, default 30 per reader, derandomised); ``make fuzz``
runs 10,000 generated inputs per reader and writes the counts to ``docs/results/fuzz-readers.json`` (quoted in
docs/reliability.md).
"""

from __future__ import annotations

import io
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genstrat.errors import GenstratError

EXAMPLES = int(os.environ.get("GENSTRAT_FUZZ_EXAMPLES", "30"))
COUNTS_FILE = os.environ.get("GENSTRAT_FUZZ_COUNTS")  # make fuzz: where the per-reader counts go
SECONDS_PER_INPUT = 10
COUNTS: dict[str, dict[str, int]] = {}


# ---------------------------------------------------------------- valid files of each kind, the mutations' seeds
def png_bytes(mode="L") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((np.arange(64).reshape(8, 8) * 4).astype(np.uint8)).convert(mode).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((np.arange(64).reshape(8, 8) * 4).astype(np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


def audio_bytes(kind: str) -> bytes:
    import soundfile

    buffer = io.BytesIO()
    wave = 0.5 * np.sin(np.arange(800) / 8.0).astype(np.float32)
    soundfile.write(buffer, wave, 8000, format=kind, subtype={"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS"}[kind])
    return buffer.getvalue()


def text_bytes() -> bytes:
    return "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(30)).encode()


@st.composite
def hostile(draw, seed: bytes):
    """Random bytes, or the valid ``seed`` mutated a few times."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=2048))
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "splice", "zero"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "splice" and data:
            end = draw(st.integers(at, len(data)))
            data[at:end] = draw(st.binary(max_size=32))
        elif op == "zero":
            data[at:at + draw(st.integers(1, 64))] = bytes(min(64, len(data) - at))
    return bytes(data)


class Hang(Exception):
    pass


def attack(reader: str, call, file: Path) -> None:
    """Run ``call()``: it reads, or fails with one line naming ``file``; anything else fails the test."""
    def alarm(signum, frame):
        raise Hang(f"{reader}: no answer within {SECONDS_PER_INPUT} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(SECONDS_PER_INPUT)
    try:
        call()
        outcome = "read"
    except GenstratError as e:
        message = str(e)
        assert "\n" not in message, f"{reader}: a multi-line error: {message!r}"
        assert file.name in message or str(file.parent) in message, f"{reader}: the error names no file: {message}"
        outcome = "refused"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    counts = COUNTS.setdefault(reader, {"inputs": 0, "read": 0, "refused": 0})
    counts["inputs"] += 1
    counts[outcome] += 1


def fuzz(**kw):
    return settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 100, database=None,
                    suppress_health_check=list(HealthCheck), **kw)


@pytest.fixture(scope="module", autouse=True)
def write_counts():
    yield
    if COUNTS_FILE:
        path = Path(COUNTS_FILE)
        kept = json.loads(path.read_text()) if path.is_file() else {}
        path.write_text(json.dumps({**kept, **COUNTS}, indent=2) + "\n")


# ---------------------------------------------------------------- folders of files: images and audio
def class_folder(root: Path, hostile_name: str, payload: bytes, good_name: str, good: bytes) -> Path:
    """Two classes of two files each, one of them the hostile one."""
    for label in ("a", "b"):
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"ok1{Path(good_name).suffix}").write_bytes(good)
        (root / label / f"ok2{Path(good_name).suffix}").write_bytes(good)
    (root / "a" / hostile_name).write_bytes(payload)
    return root / "a" / hostile_name


@pytest.mark.parametrize("kind", ["png", "jpeg"])
def test_imagefolder_reads_or_refuses_each_hostile_image(kind, tmp_path_factory):
    from genstrat.data import imagefolder

    good = png_bytes() if kind == "png" else jpeg_bytes()
    root = tmp_path_factory.mktemp("images")

    @fuzz()
    @given(payload=hostile(good))
    def run(payload):
        file = class_folder(root, f"x.{kind}", payload, f"g.{kind}", good)
        attack(f"imagefolder ({kind.upper()})", lambda: imagefolder.load(str(root), image_size=8), file)

    run()


@pytest.mark.parametrize("kind", ["WAV", "FLAC", "OGG"])
def test_audiofolder_reads_or_refuses_each_hostile_recording(kind, tmp_path_factory):
    from genstrat.data import audiofolder

    good = audio_bytes(kind)
    root = tmp_path_factory.mktemp("audio")

    @fuzz()
    @given(payload=hostile(good))
    def run(payload):
        file = class_folder(root, f"x.{kind.lower()}", payload, f"g.{kind.lower()}", good)

        def read():
            data = audiofolder.load(str(root), seconds=0.1)
            assert data.train_units.shape[1] == 800

        attack(f"audiofolder ({kind})", read, file)

    run()


def test_empty_recordings_are_refused_not_taken_for_silence(tmp_path):
    """A recording with no frames would become a clip of pure silence labelled with its class: refused, naming it."""
    import soundfile

    from genstrat.data import audiofolder

    empty = io.BytesIO()
    soundfile.write(empty, np.zeros(0, dtype=np.float32), 8000, format="WAV")
    file = class_folder(tmp_path, "empty.wav", empty.getvalue(), "g.wav", audio_bytes("WAV"))
    with pytest.raises(GenstratError, match="empty.wav.*no samples"):
        audiofolder.load(str(tmp_path))
    assert file.is_file()


# ---------------------------------------------------------------- text
def test_textfile_reads_or_refuses_each_hostile_file(tmp_path_factory):
    from genstrat.data import textfile

    file = tmp_path_factory.mktemp("text") / "x.txt"

    @fuzz()
    @given(payload=hostile(text_bytes()))
    def run(payload):
        file.write_bytes(payload)
        attack("textfile", lambda: textfile.load(str(file)), file)

    run()


# ---------------------------------------------------------------- checkpoints and bench folders
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from genstrat import api

    folder = tmp_path_factory.mktemp("ckpt")
    api.train("digits", "ar", folder, steps=1, size="tiny", batch_size=8, progress=False, precision="fp32")
    return folder


@pytest.mark.parametrize("name", ["config.json", "model.safetensors"])
def test_checkpoint_loads_or_refuses_each_hostile_file(name, checkpoint, tmp_path_factory):
    from genstrat.training.model_io import load_model

    good = (checkpoint / name).read_bytes()
    others = {f.name: f.read_bytes() for f in checkpoint.iterdir() if f.is_file()}

    folder = tmp_path_factory.mktemp("ckpt-copy")

    @fuzz()
    @given(payload=hostile(good))
    def run(payload):
        for other, data in others.items():
            (folder / other).write_bytes(data)
        (folder / name).write_bytes(payload)
        attack(f"checkpoint {name}", lambda: load_model(folder), folder / name)

    run()


@pytest.fixture(scope="module")
def bench_folder(tmp_path_factory):
    from genstrat import api

    out = tmp_path_factory.mktemp("bench")
    api.bench("digits", ["ar"], out, train_steps=2, steps=(1,), n=20, size="tiny", batch_size=8, judge_steps=20,
              progress=False, precision="fp32")
    return out


@pytest.mark.parametrize("name", ["bench.json", "rows/ar.json", "rows/ar/ar-64.json"])
def test_bench_resume_reads_or_refuses_each_hostile_file(name, bench_folder, tmp_path_factory):
    """What ``bench --resume`` reads before it measures: the settings, a finished strategy's rows, one kept row."""
    import shutil

    from genstrat.benchmark.store import RowStore

    settings_saved = json.loads((bench_folder / "bench.json").read_text())["settings"]
    good = (bench_folder / name).read_bytes()

    out = tmp_path_factory.mktemp("bench-copy") / "b"

    @fuzz()
    @given(payload=hostile(good))
    def run(payload):
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(bench_folder / "rows", out / "rows")
        shutil.copy(bench_folder / "bench.json", out / "bench.json")
        (out / name).write_bytes(payload)

        def resume():
            store = RowStore(out, settings_saved, resume=True)
            store.finished("ar")
            store.kept_row("ar", "ar-64")

        attack(f"bench {name}", resume, out / name)

    run()


def test_what_the_fuzzer_found_stays_refused(checkpoint, tmp_path):
    """The inputs that once ended in tracebacks: a PNG with a broken chunk (PIL's SyntaxError), a checkpoint config
    naming an unknown strategy (refused without naming the file) and one with ``n_heads: 0`` (ZeroDivisionError)."""
    from genstrat.data import imagefolder
    from genstrat.training.model_io import load_model

    broken = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x08\x00\x00\x00\x08\x08\x00\x00\x00\x00\xe1d\xe1W"
              b"\x00\x00\x00\x17IDATx\x9ccd`\x81\x00F\x05(\x83\x85\x00\x00\x01\x01\x01\x01\x01\x00\x14\x06\xe3"
              b"\x03(\x03\x00GX\x02\x98\x9b%\x88\x92\x00\x00\x00\x00IEND\xaeB`\x82")  # the case hypothesis found
    file = class_folder(tmp_path / "images", "x.png", broken, "g.png", png_bytes())
    with pytest.raises(GenstratError, match="x.png"):
        imagefolder.load(str(tmp_path / "images"), image_size=8)
    assert file.is_file()
    config = json.loads((checkpoint / "config.json").read_text())
    for change in ({"strategy": "`r"}, {"backbone": {**config["backbone"], "n_heads": 0}}):
        folder = tmp_path / f"ckpt-{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        (folder / "model.safetensors").write_bytes((checkpoint / "model.safetensors").read_bytes())
        (folder / "config.json").write_text(json.dumps({**config, **change}))
        with pytest.raises(GenstratError, match=str(folder)):
            load_model(folder)
