"""Wall-clock timing: median of repeats after a warm-up call.

Speed is measured here, in the bench, with every row timed in the same run; unit tests
never time anything.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable


def median_seconds(fn: Callable[[], object], repeats: int = 5, warmup: int = 1, fill_s: float = 0.0,
                   most: int | None = None) -> float:
    """The median seconds of ``fn`` over ``repeats`` timed calls after ``warmup`` untimed ones; while the timed calls
    have taken less than ``fill_s`` seconds in all, more are made, up to ``most`` (a fast call's median of five moved by
    up to ~80% between processes here: one next-scale model read 9.1 and 17.1 ms, docs/benchmarks.md)."""
    for _ in range(warmup):
        fn()
    times = []
    while len(times) < repeats or (sum(times) < fill_s and len(times) < (most or repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
