"""`names`: 1990 US Census name lists, as the PyPI package ``names`` (0.3.0) ships them.

The condition is the list: ``male`` first names (1,219), ``female`` first names (4,275) and
``surname`` (the 5,000 most frequent of 88,799, so the three conditions are of comparable
size; a choice written here because the issue leaves it open). Names are title-cased
("James"); units are characters; 10% of each list is held out with a fixed seed. Names are
drawn uniformly, not by census frequency.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from genstrat.data.dataset import TextData, split_fixed
from genstrat.data.options import reads
from genstrat.errors import GenstratError
from genstrat.units.text import char_units

LISTS = {"male": "dist.male.first", "female": "dist.female.first", "surname": "dist.all.last"}
MAX_SURNAMES = 5000


def read_list(path: Path, limit: int | None) -> list[str]:
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise GenstratError(f"cannot read the census list {path} ({e.__class__.__name__}); "
                            f"reinstall it: pip install names==0.3.0") from None
    names = [line.split()[0].title() for line in lines if line.strip()]
    return names[:limit] if limit else names


def package_folder() -> Path:
    spec = importlib.util.find_spec("names")
    if spec is None or spec.origin is None:
        raise GenstratError("the names dataset needs the PyPI package 'names' (its census lists): "
                            "pip install names==0.3.0")
    return Path(spec.origin).parent


@reads()
def load() -> TextData:
    folder = package_folder()
    texts, labels = [], []
    for label, (condition, filename) in enumerate(LISTS.items()):
        found = read_list(folder / filename, MAX_SURNAMES if condition == "surname" else None)
        texts += found
        labels += [label] * len(found)
    units = char_units(texts, seq_len=max(map(len, texts)) + 1)
    rows = units.encode(texts).to(torch.uint8)
    labels = torch.tensor(labels)
    train_idx, test_idx = split_fixed(len(texts), test_fraction=0.1)
    return TextData(name="names", units=units, class_names=list(LISTS), train_units=rows[train_idx],
                    train_labels=labels[train_idx], test_units=rows[test_idx], test_labels=labels[test_idx],
                    spec={"name": "names"})
