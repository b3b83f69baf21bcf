"""How far a quality figure would move with another draw of the same n samples: a bootstrap interval.

Efron & Tibshirani 1993, ch. 13: resample the n generated samples with replacement ``DRAWS`` times, recompute the
statistic on each resample, and report the 2.5th and 97.5th percentiles (the percentile interval; for distances
between distributions centred on the estimate, see ``bootstrap_interval``). Two rows whose
intervals overlap read as a tie. The reference side (held-out features, the probe's true answer frequencies) stays
fixed: the interval is the spread due to the generated sample alone. Seeded, so a row's interval is reproducible.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

DRAWS = 200
LEVEL = 0.95


def bootstrap_interval(statistic: Callable[[np.ndarray], float], n: int, seed: int = 0, draws: int = DRAWS,
                       digits: int = 4, centred: bool = False) -> list[float]:
    """[low, high] of ``statistic(indices)`` over ``draws`` resamples of range(n) with replacement: the percentile
    interval, or with ``centred`` that interval moved by the resamples' own bias (their median minus the estimate
    t = statistic(all); Efron & Tibshirani 1993, ch. 10), floored at 0. Centred is for distances between
    distributions (Fréchet, variation distance): a resample repeats samples, which adds a positive bias of its own,
    so the plain percentile interval sits above the estimate (a Fréchet distance of 1.1 got [5.0, 21.2]); moved back,
    it holds the estimate and shows the spread alone, which is what comparing two rows of the same n needs."""
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n, n)) for _ in range(draws)])
    low, high = np.quantile(values, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    if centred:
        shift = float(np.median(values)) - statistic(np.arange(n))
        low, high = max(0.0, low - shift), max(0.0, high - shift)
    return [round(float(low), digits), round(float(high), digits)]


def mean_interval(values: Sequence[float], seed: int = 0) -> list[float]:
    """The bootstrap interval of a mean (agreement: the mean of 0/1 hits)."""
    values = np.asarray(values, dtype=float)
    return bootstrap_interval(lambda idx: values[idx].mean(), len(values), seed)


def proportion_interval(share: float, n: int, z: float = 1.959964) -> list[float]:
    """The Wilson score interval of a share of n yes/no outcomes (Wilson 1927; Agresti & Coull 1998, eq. 2): what the
    bootstrap of a 0/1 mean tends to, computed from the share and n alone, for rows written before they carried
    intervals (``reporting/summary.py``)."""
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return [round(float(max(0.0, centre - half)), 4), round(float(min(1.0, centre + half)), 4)]
