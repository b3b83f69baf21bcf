"""Two reference rows printed beside every bench: what real data scores, and what pixels
drawn independently from each class's per-pixel marginals score.

The second one is the floor any NAR model that samples positions independently tends to:
it knows each pixel's distribution given the label, and nothing about how pixels go together.
"""

from __future__ import annotations

import torch

from genstrat.eval.judging import real_images, score


def balanced_labels(n: int, num_classes: int) -> torch.Tensor:
    """Labels 0, 1, ..., C-1, 0, 1, ... (n of them): every class equally often."""
    return torch.arange(n) % num_classes


def real_row(data, judge, reference_features, n: int, generator: torch.Generator, view=None) -> dict:
    images, labels = real_images(data, "train", view)
    pick = torch.randperm(images.shape[0], generator=generator)[:n]
    return {"strategy": "real", **score(judge, images[pick], labels[pick], reference_features), "n": int(len(pick))}


def independent_row(data, judge, reference_features, n: int, generator: torch.Generator, view=None) -> dict:
    units = data.train_units.long()
    labels = balanced_labels(n, data.num_classes)
    samples = torch.empty(n, data.units.seq_len, dtype=torch.long)
    for c in range(data.num_classes):
        members = units[data.train_labels == c]
        counts = torch.stack([(members == v).sum(0) for v in range(data.units.vocab_size)], dim=1).float() + 1e-3
        rows = (labels == c).nonzero().squeeze(1)
        if len(rows) == 0:  # n below the number of classes: this class is not asked for
            continue
        draws = torch.multinomial(counts, len(rows), replacement=True, generator=generator)  # (L, rows)
        samples[rows] = draws.T
    images = (view or data.units.decode)(samples)
    return {"strategy": "independent", **score(judge, images, labels, reference_features), "n": n}
