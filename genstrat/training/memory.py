"""Will a training step fit in this machine's memory? Asked before training starts.

A network whose activations grow with the batch faster than a user expects says how many bytes one training step
holds (``activation_bytes(batch)``; the WaveNet of sample-level audio does: 128 one-second clips through 20 layers
were killed by the kernel on a 24 GB machine an hour into a demo). ``check_fits`` turns "the kernel killed it later"
into a one-line error now, with the largest batch that fits.
"""

from __future__ import annotations

from pathlib import Path

import torch

from genstrat.errors import GenstratError

FIT_SHARE = 0.8  # of the memory available now, what one step may hold (the data, the optimizer and Python need room)


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), or None where it cannot be read (then nothing is checked)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_fits(model, batch_size: int, device, available: int | None = None) -> None:
    """Raise a one-line GenstratError when ``model`` says a CPU training step at ``batch_size`` needs more than
    FIT_SHARE of the available memory; models that do not say (``activation_bytes``) are not checked."""
    estimate = getattr(model, "activation_bytes", None)
    if estimate is None or torch.device(device).type != "cpu":
        return
    have = available if available is not None else available_bytes()
    need = estimate(batch_size)
    if have is None or need <= FIT_SHARE * have:
        return
    largest = max(1, int(batch_size * FIT_SHARE * have / need))
    raise GenstratError(f"a training step at --batch-size {batch_size} holds about {need / 2 ** 30:.1f} GB of "
                        f"activations, and this machine has {have / 2 ** 30:.1f} GB available; use --batch-size "
                        f"{largest} or less")
