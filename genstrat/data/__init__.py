"""Datasets: each yields (units, condition) with a fixed train / test split.

Images: ``digits`` (embedded), ``mnist``, ``imagefolder:PATH``; text: ``probe``, ``names`` (embedded),
``shakespeare``, ``textfile:PATH``; audio: ``spoken`` (embedded), ``fsdd``, ``audiofolder:PATH``. A new dataset is
one file here plus one line: ``register_dataset(name, loader)``.
"""

from __future__ import annotations

from genstrat.data import audiofolder, digits, fsdd, imagefolder, mnist, names, probe, shakespeare, spoken, textfile
from genstrat.data.dataset import ImageData, TextData
from genstrat.data.options import DataOption, checked, options_of
from genstrat.errors import GenstratError

DATASETS = {"digits": digits.load, "mnist": mnist.load, "probe": probe.load, "names": names.load,
            "shakespeare": shakespeare.load, "spoken": spoken.load, "fsdd": fsdd.load}
PREFIXED = {"imagefolder": imagefolder.load, "textfile": textfile.load, "audiofolder": audiofolder.load}


def register_dataset(name: str, loader, prefixed: bool = False) -> None:
    """Make a dataset known to every command: ``loader(**options)`` (or ``loader(path, **options)`` for a prefixed
    name such as ``imagefolder:PATH``) returns an :class:`ImageData` or :class:`TextData`. The options it reads are
    declared on it with ``@reads(...)`` (``data/options.py``); the command line's flags come from them."""
    (PREFIXED if prefixed else DATASETS)[name] = loader


def dataset_names() -> list[str]:
    return sorted(DATASETS) + [f"{p}:PATH" for p in PREFIXED]


def data_options() -> dict[str, tuple[DataOption, list[str]]]:
    """Every option a registered loader reads: name -> (its declaration, the datasets that read it). One name is one
    declaration: two loaders that read an option share its object."""
    found: dict[str, tuple[DataOption, list[str]]] = {}
    loaders = [(n, fn) for n, fn in sorted(DATASETS.items())] + [(f"{n}:PATH", fn) for n, fn in PREFIXED.items()]
    for dataset, loader in loaders:
        for option in options_of(loader):
            declared, readers = found.setdefault(option.name, (option, []))
            if declared != option:
                raise GenstratError(f"data option '{option.name}' is declared twice, differently ({dataset}); "
                                    f"declare it once and share it")
            readers.append(dataset)
    return found


def load_dataset(name: str, **options) -> ImageData:
    """Load a dataset by name with its options (``data_dir``, ``levels``, ...: those its loader declares; None means
    the loader's default). An option the dataset does not read, or a value out of range, is refused in one line."""
    prefix, sep, rest = name.partition(":")
    if sep and prefix in PREFIXED:
        if not rest:
            raise GenstratError(f"dataset '{name}' needs a path after the colon, e.g. {prefix}:./my_images")
        return PREFIXED[prefix](rest, **checked(name, PREFIXED[prefix], options))
    if name in DATASETS:
        return DATASETS[name](**checked(name, DATASETS[name], options))
    raise GenstratError(f"unknown dataset '{name}'; choose one of: {', '.join(dataset_names())}")


def load_from_spec(spec: dict) -> ImageData:
    """Reload the dataset a checkpoint or results file was made with (its spec: name and the options it read)."""
    return load_dataset(spec["name"], **{k: v for k, v in spec.items() if k in data_options()})


__all__ = ["ImageData", "TextData", "DataOption", "load_dataset", "load_from_spec", "dataset_names",
           "register_dataset", "data_options"]
