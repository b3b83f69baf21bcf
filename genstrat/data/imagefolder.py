"""`imagefolder:PATH`: a user's own images, one sub-folder per class.

PNG or JPEG files, grey or colour, are resized to ``--image-size`` (square, default 28)
and converted to 1 channel (``--channels 1``, default) or RGB (``--channels 3``).
Fixed split: a seeded 20% of each class is held out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genstrat.data.dataset import ImageData, split_fixed
from genstrat.data.options import LEVELS, DataOption, reads
from genstrat.errors import GenstratError
from genstrat.units import PixelUnits

EXTENSIONS = {".png", ".jpg", ".jpeg"}


IMAGE_SIZE = DataOption("image_size", int, "resize images to this square size", low=2, high=256)
CHANNELS = DataOption("channels", int, "1 = grey, 3 = colour", choices=(1, 3))


@reads(IMAGE_SIZE, CHANNELS, LEVELS)
def load(path: str, image_size: int | None = None, channels: int | None = None, levels: int | None = None
         ) -> ImageData:
    from PIL import Image, UnidentifiedImageError

    root = Path(path)
    size = image_size or 28
    channels = channels or 1
    if channels not in (1, 3):
        raise GenstratError(f"--channels must be 1 (grey) or 3 (colour), got {channels}")
    if not root.is_dir():
        raise GenstratError(f"image folder {root} does not exist or is not a folder; "
                            f"give imagefolder:PATH with one sub-folder per class")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    if not class_dirs:
        raise GenstratError(f"image folder {root} has no class sub-folders; "
                            f"put each class's images in its own sub-folder")
    mode = "L" if channels == 1 else "RGB"
    images, labels, train_idx, test_idx = [], [], [], []
    for label, folder in enumerate(class_dirs):
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in EXTENSIONS)
        if not files:
            raise GenstratError(f"class folder {folder} holds no PNG or JPEG images")
        start = len(images)
        for file in files:
            try:
                with Image.open(file) as im:
                    im = im.convert(mode).resize((size, size), Image.BILINEAR)
                    array = np.asarray(im, dtype=np.float32) / 255.0
            # PIL reports a broken chunk as SyntaxError and a huge header as DecompressionBombError (found by
            # tests/test_fuzz_readers.py)
            except (UnidentifiedImageError, OSError, ValueError, SyntaxError, MemoryError,
                    Image.DecompressionBombError) as e:
                raise GenstratError(f"cannot read image {file} ({e.__class__.__name__}); "
                                    f"remove or replace it") from None
            images.append(array.reshape(size, size, channels).transpose(2, 0, 1))
            labels.append(label)
        if len(files) >= 2:
            tr, te = split_fixed(len(files), test_fraction=0.2, seed=label)
        else:
            tr, te = torch.tensor([0]), torch.tensor([0])  # a single image serves both splits
        train_idx += (tr + start).tolist()
        test_idx += (te + start).tolist()
    units = PixelUnits(levels=levels or 8, channels=channels, height=size, width=size)
    encoded = units.encode(torch.from_numpy(np.stack(images))).to(torch.uint8)
    labels_t = torch.tensor(labels, dtype=torch.long)
    train_idx, test_idx = torch.tensor(train_idx), torch.tensor(test_idx)
    return ImageData(
        name=f"imagefolder:{root}", units=units, class_names=[p.name for p in class_dirs],
        train_units=encoded[train_idx], train_labels=labels_t[train_idx],
        test_units=encoded[test_idx], test_labels=labels_t[test_idx],
        spec={"name": f"imagefolder:{root.resolve()}", "levels": units.levels, "image_size": size,
              "channels": channels},
    )
