"""The modality registry: everything that differs between images, text and (next) audio, in one place.

For each modality, registered once: its evaluator (the judge, the metrics, the reference rows), how its samples and
versions are written (PNG grids, text lists, later WAV files), its report table's columns and sections, and its
stage one for two-stage generation (the image auto-encoder; the audio codec next). The rest of the code asks
``modality_of(units)``; it does not branch on the modality itself. Adding a modality is one
``register_modality(Modality(...))`` call in a file of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from genstrat.errors import GenstratError


@dataclass(frozen=True)
class Modality:
    name: str
    evaluator: type  # (data, n, seed, judge_steps, size, progress, device, limit_minutes) -> evaluator
    columns: list  # [(row key, column header)] of the report table, in order
    write_samples: Callable  # (units space, units (B, L), path without suffix) -> path written
    print_samples: Callable  # (units space, units (B, L), versions, out path or None) -> lines for the CLI
    report_intro: Callable  # (rows, meta) -> markdown lines: what n means and what the reference rows are
    report_samples: Callable  # (rows, generated rows, meta, out, series) -> markdown: versions and samples
    stage_one: Callable | None = None  # (data, kind, **options) -> the auto-encoder config of two-stage rows


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
