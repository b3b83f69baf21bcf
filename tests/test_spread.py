"""Intervals on quality figures (eval/spread.py)."""

import numpy as np
import torch

from genstrat.eval.frechet import frechet_distance
from genstrat.eval.spread import bootstrap_interval, mean_interval, proportion_interval


def test_wilson_interval_matches_the_textbook_values():
    assert proportion_interval(0.5, 100) == [0.4038, 0.5962]  # Agresti & Coull 1998: 0.5 +- 0.0962 at n = 100
    low, high = proportion_interval(1.0, 1000)
    assert high == 1.0 and 0.996 < low < 0.9963  # an all-correct row still has a lower bound below 1


def test_the_bootstrap_interval_of_a_share_agrees_with_wilson():
    hits = np.r_[np.ones(300), np.zeros(700)]
    low, high = mean_interval(hits)
    wilson = proportion_interval(0.3, 1000)
    assert low < 0.3 < high and abs(low - wilson[0]) < 0.01 and abs(high - wilson[1]) < 0.01


def test_the_centred_interval_of_a_frechet_distance_holds_its_estimate():
    """Two samples of one distribution: a small distance whose percentile interval lies wholly above it (resamples
    repeat samples, adding bias), while the centred interval removes that bias and holds it, with the same width."""
    g = torch.Generator().manual_seed(0)
    features, reference = torch.randn(400, 8, generator=g), torch.randn(2000, 8, generator=g)
    estimate = frechet_distance(features, reference)
    statistic = lambda i: frechet_distance(features[torch.from_numpy(i)], reference)  # noqa: E731
    percentile = bootstrap_interval(statistic, 400)
    centred = bootstrap_interval(statistic, 400, centred=True)
    assert percentile[0] > estimate
    assert centred[0] <= estimate <= centred[1] and centred[0] >= 0
    assert centred[1] - centred[0] <= percentile[1] - percentile[0] + 1e-4


def test_the_summary_reads_each_modalitys_own_quality_figure_and_headings(monkeypatch):
    """The summary table names no quality figure itself: a modality registered here with its own figure (lower is
    better) and headings gets its best rows chosen by that figure, headed as it says, with the row's interval."""
    import dataclasses

    from genstrat.modalities import MODALITIES
    from genstrat.reporting.summary import quality_key, summary_table

    image = MODALITIES["image"]
    monkeypatch.setitem(MODALITIES, "smell", dataclasses.replace(
        image, name="smell", quality_keys=("odour",), columns=[("steps", "steps"), ("odour", "odour distance")]))
    rows = [{"strategy": "ar", "series": "ar", "steps": 4, "odour": 3.0, "odour_ci": [2.0, 4.0], "n": 10},
            {"strategy": "ar", "series": "ar", "steps": 8, "odour": 1.5, "odour_ci": [1.0, 2.0], "n": 10}]
    assert quality_key(rows) == "odour"
    table = summary_table(rows)
    assert "| strategy | steps | odour distance | n |" in table and "| ar | 8 | 1.5 [1, 2] | 10 |" in table
