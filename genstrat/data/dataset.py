"""What every dataset yields: units and conditions, with a fixed train / test split."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from genstrat.units import PixelUnits


@dataclass
class ImageData:
    """Quantised images as unit sequences plus class labels (the condition).

    ``train_units`` / ``test_units`` are (N, L) uint8 tensors (units are small integers;
    storing them compactly keeps MNIST at 47 MB); ``*_labels`` are (N,) long tensors.
    ``spec`` holds what is needed to load the same data again (name and options).
    """

    name: str
    units: PixelUnits
    class_names: list[str]
    train_units: torch.Tensor
    train_labels: torch.Tensor
    test_units: torch.Tensor
    test_labels: torch.Tensor
    spec: dict = field(default_factory=dict)

    context_len = 0  # > 0 only for text whose condition is a window of preceding tokens

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def conditions(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n conditions for a bench: labels 0, 1, ..., C-1, 0, ... (every class equally often)."""
        return torch.arange(n) % self.num_classes

    def train_batch(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(0, self.train_units.shape[0], (batch_size,), generator=generator)
        return self.train_units[idx].long(), self.train_labels[idx].long()


@dataclass
class TextData(ImageData):
    """Text rows (tokens, END, PAD) with either a class label per row (``class_names``) or,
    when ``context_len`` > 0, the ``context_len`` tokens that precede the row in the corpus as
    its condition (``*_labels`` then hold (N, context_len) token ids).

    ``truth`` (probe only) maps each label to its valid answers and their probabilities.
    """

    context_len: int = 0
    truth: list[dict[str, float]] | None = None

    def conditions(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Labels as for images; contexts: n held-out contexts drawn at random (fixed by the generator)."""
        if not self.context_len:
            return super().conditions(n, generator)
        pick = torch.randperm(self.test_labels.shape[0], generator=generator)[:n]
        return self.test_labels[pick].long()

    def references(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n held-out rows with their conditions (labels balanced like ``conditions``)."""
        if self.context_len:
            pick = torch.randperm(self.test_labels.shape[0], generator=generator)[:n]
            return self.test_units[pick].long(), self.test_labels[pick].long()
        labels = super().conditions(n, generator)
        units = torch.empty(n, self.units.seq_len, dtype=torch.long)
        for c in range(self.num_classes):
            rows = (labels == c).nonzero().squeeze(1)
            members = (self.test_labels == c).nonzero().squeeze(1)
            units[rows] = self.test_units[members[torch.randint(len(members), (len(rows),),
                                                                generator=generator)]].long()
        return units, labels


def split_fixed(n: int, test_fraction: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed, seeded permutation split into (train indices, test indices)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = max(1, int(round(n * test_fraction)))
    return perm[n_test:], perm[:n_test]
