"""`mnist`: 28x28 handwritten digits from the four standard gzipped IDX files.

Looked for, in order, in ``--data-dir`` (or ``$GENSTRAT_DATA``), in that folder's
``mnist/`` sub-folder, and in the cache ``~/.cache/genstrat/mnist``; when absent they are
downloaded into the cache if the network is reachable. Offline and absent is a clear error.
The official split is used: 60,000 train, 10,000 test. Default: 8 grey levels.
"""

from __future__ import annotations

import gzip
import os
import struct
import urllib.request
from pathlib import Path

import numpy as np
import torch

from genstrat.data.dataset import ImageData
from genstrat.data.options import DATA_DIR, LEVELS, reads
from genstrat.errors import GenstratError
from genstrat.units import PixelUnits

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
MIRRORS = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"]
CACHE = Path(os.environ.get("GENSTRAT_CACHE", Path.home() / ".cache" / "genstrat")) / "mnist"


def read_idx(path: Path) -> np.ndarray:
    """Parse a gzipped IDX file (LeCun's format: magic 0x00 0x00 0x08 ndim, big-endian dims, uint8 data)."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise GenstratError(f"{path} is not a readable gzip file ({e}); delete it and fetch it again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise GenstratError(f"{path} is not an IDX file of unsigned bytes (bad magic number); "
                            f"replace it with the original MNIST file")
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise GenstratError(f"{path} is truncated: header says {dims}, found {data.size} values; "
                            f"replace it with the original MNIST file")
    return data.reshape(dims)


def find_folder(data_dir: str | None) -> Path:
    candidates = []
    root = data_dir or os.environ.get("GENSTRAT_DATA")
    if root:
        candidates += [Path(root), Path(root) / "mnist"]
    candidates.append(CACHE)
    for folder in candidates:
        if all((folder / name).is_file() for name in FILES.values()):
            return folder
    if root and not Path(root).exists():
        raise GenstratError(f"data folder {root} does not exist; pass --data-dir pointing at the four MNIST IDX "
                            f".gz files (e.g. ../shared/data/mnist)")
    return download(CACHE, searched=candidates)


def download(folder: Path, searched: list[Path]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES.values():
        target = folder / name
        if target.is_file():
            continue
        last_error = None
        for mirror in MIRRORS:
            try:
                with urllib.request.urlopen(mirror + name, timeout=20) as response:
                    payload = response.read()
                tmp = target.with_suffix(".part")
                tmp.write_bytes(payload)
                os.replace(tmp, target)
                break
            except OSError as e:
                last_error = e
        else:
            where = ", ".join(str(p) for p in searched)
            raise GenstratError(f"MNIST files not found (looked in {where}) and the download failed ({last_error}); "
                                f"pass --data-dir pointing at the four IDX .gz files, "
                                f"e.g. --data-dir ../shared/data/mnist")
    return folder


@reads(DATA_DIR, LEVELS)
def load(data_dir: str | None = None, levels: int | None = None) -> ImageData:
    folder = find_folder(data_dir)
    arrays = {key: read_idx(folder / name) for key, name in FILES.items()}
    for split in ("train", "test"):
        if arrays[f"{split}_images"].shape[0] != arrays[f"{split}_labels"].shape[0]:
            raise GenstratError(f"MNIST {split} images and labels in {folder} have different counts; replace the files")
    units = PixelUnits(levels=levels or 8, channels=1, height=28, width=28)

    def encode(images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(images.astype(np.float32) / 255.0)[:, None]
        return units.encode(x).to(torch.uint8)

    return ImageData(
        name="mnist", units=units, class_names=[str(d) for d in range(10)],
        train_units=encode(arrays["train_images"]),
        train_labels=torch.from_numpy(arrays["train_labels"].astype(np.int64)),
        test_units=encode(arrays["test_images"]),
        test_labels=torch.from_numpy(arrays["test_labels"].astype(np.int64)),
        spec={"name": "mnist", "levels": units.levels, "data_dir": str(folder.resolve())},
    )
