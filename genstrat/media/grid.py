"""Save a stack of images as one PNG grid (PIL, nearest-neighbour upscaled so 8x8 digits are visible)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


def grid_array(images: torch.Tensor, columns: int, pad: int = 1) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> (rows*(H+pad), columns*(W+pad), C) uint8, filled row by row."""
    n, c, h, w = images.shape
    rows = (n + columns - 1) // columns
    canvas = np.ones((rows * (h + pad) + pad, columns * (w + pad) + pad, c), dtype=np.float32) * 0.5
    for i, image in enumerate(images.clamp(0, 1).numpy()):
        r, col = divmod(i, columns)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        canvas[y : y + h, x : x + w] = image.transpose(1, 2, 0)
    return (canvas * 255).round().astype(np.uint8)


def to_pil(array: np.ndarray, min_side: int = 256) -> Image.Image:
    image = Image.fromarray(array[..., 0] if array.shape[2] == 1 else array)
    scale = max(1, min_side // max(1, min(array.shape[:2])))
    return image.resize((array.shape[1] * scale, array.shape[0] * scale), Image.NEAREST)


def save_grid(images: torch.Tensor, path: Path, columns: int = 10) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_pil(grid_array(images, columns)).save(path)
    return path
