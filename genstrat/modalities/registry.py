"""The modality registry: everything that differs between images, text and (next) audio, in one place.

For each modality, registered once: its evaluator (the judge, the metrics, the reference rows), how its samples and
versions are written (PNG grids, text lists, later WAV files), its report table's columns and sections, and its
stage one for two-stage generation (the image auto-encoder; the audio codec next). The rest of the code asks
``modality_of(units)``; it does not branch on the modality itself. Adding a modality is one
``register_modality(Modality(...))`` call in a file of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import torch

from genstrat.errors import GenstratError


@runtime_checkable
class Evaluator(Protocol):
    """What the bench asks of a modality's evaluator, made once per run from ``(data, n, seed, judge_steps, size,
    progress, device, limit_minutes)``. A modality with a stage one also answers ``reconstruction(stage_one,
    generator) -> dict`` (the ``reconstruction:*`` row)."""

    def reference_rows(self, generator: torch.Generator) -> list[dict]:
        """The rows that frame the table (real data against the test split, and a chance-level row)."""

    def score(self, units: torch.Tensor, cond: torch.Tensor) -> dict:
        """The quality figures of generated units for their conditions, each with its interval (``<key>_ci``)."""

    def timing_fields(self, latency_b1_s: float, throughput_per_s: float) -> dict:
        """Speed in the modality's own words (RTF and audio seconds a second for audio), beside the bench's."""

    def own_likelihood(self, strategy, model, device) -> dict:
        """The strategy's own test likelihood where it has one (AR's bits per unit), else ``{}``."""

    def show(self, units: torch.Tensor, cond: torch.Tensor, path: Path) -> Path:
        """Write the samples people look at (a grid, a text list, WAV files); returns the path written."""

    def versions(self, strategy, model, options, path: Path, seed: int) -> Path:
        """Write one generation's intermediate versions (a strip and a GIF, or their text or audio)."""


@dataclass(frozen=True)
class Modality:
    name: str
    evaluator: type[Evaluator]  # (data, n, seed, judge_steps, size, progress, device, limit_minutes) -> Evaluator
    columns: list  # [(row key, column header)] of the report table, in order
    write_samples: Callable  # (units space, units (B, L), path without suffix) -> path written
    print_samples: Callable  # (units space, units (B, L), versions, out path or None) -> lines for the CLI
    report_intro: Callable  # (rows, meta) -> markdown lines: what n means and what the reference rows are
    report_samples: Callable  # (rows, generated rows, meta, out, series) -> markdown: versions and samples
    stage_one: Callable | None = None  # (data, kind, **options) -> the auto-encoder config of two-stage rows
    quality_keys: tuple[str, ...] = ()  # the quality figures its rows may carry (lower is better), headed in columns;
    #                                     a run's rows carry one of them: its evaluator's quality_key


MODALITIES: dict[str, Modality] = {}


def register_modality(modality: Modality) -> Modality:
    MODALITIES[modality.name] = modality
    return modality


def modality_of(units) -> Modality:
    """The registered modality of a unit space (its ``modality`` attribute)."""
    return modality_named(units.modality)


def modality_named(name: str) -> Modality:
    if name not in MODALITIES:
        raise GenstratError(f"no modality '{name}' is registered; known: {', '.join(MODALITIES)}")
    return MODALITIES[name]
