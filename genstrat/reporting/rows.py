"""What every report reads of a bench's rows: which are references, the lecture's order, one cell."""

from __future__ import annotations

from genstrat.eval.row import BenchRow
from genstrat.strategies import LECTURE_PARTS, lecture_part_of


def is_reference(row: BenchRow) -> bool:
    """Rows measured without sampling: real data, independent units, an auto-encoder's reconstructions."""
    return row["strategy"] in ("real", "independent") or row["strategy"].startswith("reconstruction:")


def cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def in_lecture_order(rows: list[BenchRow]) -> list[BenchRow]:
    """Rows grouped by lecture part (references, AR, one-shot NAR, the three fixes), in their run order inside each."""
    order = list(LECTURE_PARTS)
    return sorted(rows, key=lambda r: order.index(lecture_part_of(r["strategy"])))
