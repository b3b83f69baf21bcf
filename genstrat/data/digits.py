"""`digits`: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 17 grey levels).

The embedded default: it ships inside scikit-learn, so it needs no network. Pixel values
are the integers 0..16, which are exactly the 17 units. Fixed split: 20% held out.
"""

from __future__ import annotations

import torch

from genstrat.data.dataset import ImageData, split_fixed
from genstrat.data.options import LEVELS, reads
from genstrat.units import PixelUnits


@reads(LEVELS)
def load(levels: int | None = None) -> ImageData:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32)[:, None] / 16.0  # (N,1,8,8) in [0,1]
    labels = torch.tensor(bunch.target, dtype=torch.long)
    units = PixelUnits(levels=levels or 17, channels=1, height=8, width=8)
    encoded = units.encode(images).to(torch.uint8)
    train_idx, test_idx = split_fixed(len(labels), test_fraction=0.2)
    return ImageData(
        name="digits", units=units, class_names=[str(d) for d in range(10)],
        train_units=encoded[train_idx], train_labels=labels[train_idx],
        test_units=encoded[test_idx], test_labels=labels[test_idx],
        spec={"name": "digits", "levels": units.levels},
    )
