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

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def train_batch(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(0, self.train_units.shape[0], (batch_size,), generator=generator)
        return self.train_units[idx].long(), self.train_labels[idx]


def split_fixed(n: int, test_fraction: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed, seeded permutation split into (train indices, test indices)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = max(1, int(round(n * test_fraction)))
    return perm[n_test:], perm[:n_test]
