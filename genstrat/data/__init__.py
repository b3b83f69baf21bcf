"""Datasets: each yields (units, condition) with a fixed train / test split.

Images: ``digits`` (embedded), ``mnist``, ``imagefolder:PATH``; text: ``probe``, ``names`` (embedded),
``shakespeare``, ``textfile:PATH``; audio: ``spoken`` (embedded), ``fsdd``, ``audiofolder:PATH``. A new dataset is
one file here plus one line: ``register_dataset(name, loader)``.
"""

from __future__ import annotations

from genstrat.data import audiofolder, digits, fsdd, imagefolder, mnist, names, probe, shakespeare, spoken, textfile
from genstrat.data.dataset import ImageData, TextData
from genstrat.errors import GenstratError

DATASETS = {"digits": digits.load, "mnist": mnist.load, "probe": probe.load, "names": names.load,
            "shakespeare": shakespeare.load, "spoken": spoken.load, "fsdd": fsdd.load}
PREFIXED = {"imagefolder": imagefolder.load, "textfile": textfile.load, "audiofolder": audiofolder.load}


def register_dataset(name: str, loader, prefixed: bool = False) -> None:
    """Make a dataset known to every command: ``loader(**options)`` (or ``loader(path, **options)`` for a prefixed
    name such as ``imagefolder:PATH``) returns an :class:`ImageData` or :class:`TextData`."""
    (PREFIXED if prefixed else DATASETS)[name] = loader


def dataset_names() -> list[str]:
    return sorted(DATASETS) + [f"{p}:PATH" for p in PREFIXED]


def load_dataset(name: str, data_dir: str | None = None, image_size: int | None = None,
                 channels: int | None = None, levels: int | None = None, sample_rate: int | None = None,
                 seconds: float | None = None) -> ImageData:
    if levels is not None and not 2 <= levels <= 256:
        raise GenstratError(f"--levels must be between 2 and 256, got {levels}")
    if image_size is not None and not 2 <= image_size <= 256:
        raise GenstratError(f"--image-size must be between 2 and 256, got {image_size}")
    options = dict(data_dir=data_dir, image_size=image_size, channels=channels, levels=levels,
                   sample_rate=sample_rate, seconds=seconds)
    prefix, sep, rest = name.partition(":")
    if sep and prefix in PREFIXED:
        if not rest:
            raise GenstratError(f"dataset '{name}' needs a path after the colon, e.g. {prefix}:./my_images")
        return PREFIXED[prefix](rest, **options)
    if name in DATASETS:
        return DATASETS[name](**options)
    raise GenstratError(f"unknown dataset '{name}'; choose one of: {', '.join(dataset_names())}")


def load_from_spec(spec: dict) -> ImageData:
    """Reload the dataset a checkpoint or results file was made with."""
    return load_dataset(spec["name"], data_dir=spec.get("data_dir"), image_size=spec.get("image_size"),
                        channels=spec.get("channels"), levels=spec.get("levels"), sample_rate=spec.get("sample_rate"),
                        seconds=spec.get("seconds"))


__all__ = ["ImageData", "TextData", "load_dataset", "load_from_spec", "dataset_names", "register_dataset"]
