"""Trained models shipped in the package: stage ones, usable by name wherever a trained stage-one folder is accepted,
and the demo's trained benches (``demo-*``), usable by name wherever a trained bench folder is (``bench --trained``).

Users of codec language models start from a trained codec (EnCodec, Défossez et al. 2022; DAC, Kumar et al. 2023)
and train only their priors. genstrat ships its own, trained by its own command: each folder here holds what
``genstrat train-autoencoder --out`` writes for inference (``config.json``, ``model.safetensors``) and a
``provenance.json``: the command and machine that made it, its training steps and seconds, the SHA-256 of each file,
and its reconstructions as measured on speech it was not trained on. ``stage_one_folder(name)`` checks every hash
before the folder is used, so a damaged or altered file is refused in one line instead of loading. A shipped bench
(``"kind": "bench"`` in its provenance) is a slim copy of a bench folder: each checkpoint's ``config.json`` and
``model.safetensors`` (matrices stored in bf16 to halve the package), its auto-encoders, and the same provenance;
``bench_folder(name)`` checks its hashes the same way.

    genstrat bench --data spoken --strategies two-stage:mask-predict --autoencoder speech-codec-8k ...
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from genstrat.training.checkpoint import read_json
from genstrat.errors import GenstratError

HERE = Path(__file__).parent
PROVENANCE = "provenance.json"
SHIPPED_FILES = ("config.json", "model.safetensors")


STAGE_ONE, BENCH = "stage-one", "bench"  # the kinds of shipped folder


def shipped(kind: str = STAGE_ONE) -> dict[str, Path]:
    """Every folder of ``kind`` shipped in the package: name -> its folder."""
    return {p.name: p for p in sorted(HERE.iterdir())
            if (p / PROVENANCE).is_file() and read_json(p / PROVENANCE, "provenance").get("kind", STAGE_ONE) == kind}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(folder: Path) -> None:
    """Each shipped file is present and has the SHA-256 its provenance records (else one line: reinstall)."""
    saved = read_json(folder / PROVENANCE, "shipped model's provenance")
    hashes = saved.get("sha256", {})
    needed = SHIPPED_FILES if saved.get("kind", STAGE_ONE) == STAGE_ONE else ()
    for name in sorted(set(needed) | set(hashes)):
        path = folder / name
        if not path.is_file() or name not in hashes or file_sha256(path) != hashes[name]:
            raise GenstratError(f"the shipped '{folder.name}' is damaged ({name} is missing or its SHA-256 "
                                f"differs from {PROVENANCE}); reinstall genstrat")


def stage_one_folder(name_or_folder: str | Path | None) -> Path | None:
    """A stage one given by the user: a shipped name (checked against its hashes) or a folder, as given. A name that
    is neither a folder nor shipped is refused in one line that lists the shipped names."""
    if name_or_folder is None:
        return None
    path = Path(name_or_folder)
    if path.exists():
        return path
    known = shipped()
    if str(name_or_folder) in known:
        verify(known[str(name_or_folder)])
        return known[str(name_or_folder)]
    if len(path.parts) == 1:  # a bare word: meant as a name
        raise GenstratError(f"no stage one named '{name_or_folder}' is shipped (shipped: {', '.join(known) or 'none'})"
                            f" and no such folder exists; give a `genstrat train-autoencoder` folder or a shipped name")
    return path  # a path that does not exist: the loader says so in its own words


def bench_folder(name_or_folder: str | Path) -> Path:
    """A trained bench given by the user: a folder holding ``checkpoints/``, or a shipped bench's name (its hashes
    checked). Anything else is refused in one line that lists the shipped names."""
    path = Path(name_or_folder)
    known = shipped(BENCH)
    if path.is_dir() and (path / "checkpoints").is_dir():
        return path
    if str(name_or_folder) in known:
        verify(known[str(name_or_folder)])
        return known[str(name_or_folder)]
    raise GenstratError(f"--trained {name_or_folder}: neither a bench folder with trained checkpoints/ nor a shipped "
                        f"bench (shipped: {', '.join(known) or 'none'}); give a `genstrat bench --out` folder")


def provenance(name: str) -> dict:
    """A shipped stage one's provenance (command, machine, steps, hashes, measured reconstructions)."""
    known = {**shipped(), **shipped(BENCH)}
    if name not in known:
        raise GenstratError(f"nothing named '{name}' is shipped (shipped: {', '.join(known) or 'none'})")
    return read_json(known[name] / PROVENANCE, "shipped stage one's provenance")


__all__ = ["shipped", "stage_one_folder", "bench_folder", "provenance", "verify", "STAGE_ONE", "BENCH"]
