"""Versions made visible: every intermediate version of one sample, as a strip and a GIF."""

from __future__ import annotations

from pathlib import Path

import torch

from genstrat.media.grid import grid_array, to_pil


def save_versions(versions: list[torch.Tensor], out: Path, max_frames: int = 16) -> tuple[Path, Path]:
    """versions: list of (1, C, H, W) images, first to final. Writes OUT-versions.png and .gif.

    Long chains (AR's L steps) are thinned to ``max_frames`` evenly spaced versions, always
    keeping the first and the final one.
    """
    if len(versions) > max_frames:
        picks = torch.linspace(0, len(versions) - 1, max_frames).round().long().tolist()
        versions = [versions[i] for i in picks]
    stack = torch.cat(versions)
    stem = out.with_suffix("")
    strip = stem.parent / f"{stem.name}-versions.png"
    gif = stem.parent / f"{stem.name}-versions.gif"
    strip.parent.mkdir(parents=True, exist_ok=True)
    to_pil(grid_array(stack, columns=len(versions)), min_side=128).save(strip)
    frames = [to_pil(grid_array(v, columns=1), min_side=128) for v in versions]
    frames[0].save(gif, save_all=True, append_images=frames[1:] + [frames[-1]] * 3, duration=250, loop=0)
    return strip, gif
