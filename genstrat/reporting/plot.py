"""Quality-vs-latency plot with the Pareto front (lower is better on both axes: Fréchet distance
for images, variation distance or reference perplexity for text)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from genstrat.eval.row import BenchRow
from genstrat.strategies.spec import parse_spec


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points not dominated in (x, y), both minimised, sorted by x."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    front, best_y = [], float("inf")
    for i in order:
        if points[i][1] < best_y:
            front.append(i)
            best_y = points[i][1]
    return front


def series(row: BenchRow) -> str:
    """The line a row belongs to, as its strategy's sweep named it (``SweepPoint.series``). Rows written before rows
    carried it: the strategy, its sampler where it has one, and "mode" for a temperature-0 row."""
    if row.get("series"):
        return row["series"]
    return (
        row["strategy"]
        + (f" {row['sampler']}" if row.get("sampler") else "")
        + (" mode" if row.get("temperature") == 0 else "")
    )


def line_style(index: int, name: str) -> dict:
    """A distinct colour per line (tab20: the ten strong shades first, then their light pairs) and a
    marker per space: squares for rows generated over learned codes (two-stage, and students of a two-stage
    teacher), circles otherwise."""
    colors = plt.get_cmap("tab20").colors
    return {
        "color": colors[(2 * index) % 20 + (index // 10) % 2],
        "marker": "s" if parse_spec(name).two_stage else "o",  # distilled:two-stage:* students too
    }


def plot_quality_vs(
    rows: list[BenchRow],
    x_key: str,
    x_label: str,
    path: Path,
    references: list[BenchRow],
    y_key: str = "fd",
    y_label: str = "Fréchet distance (judge features; lower is better)",
) -> Path:
    rows = [r for r in rows if r.get(x_key) and r.get(y_key) is not None]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for index, s in enumerate(sorted({series(r) for r in rows})):
        pts = sorted((r for r in rows if series(r) == s), key=lambda r: r[x_key])
        ax.plot([r[x_key] for r in pts], [r[y_key] for r in pts], "-", label=s, **line_style(index, s))
        for r in pts:
            ax.annotate(str(r["steps"]), (r[x_key], r[y_key]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    front = pareto_front([(r[x_key], r[y_key]) for r in rows])
    if front:
        ax.plot([rows[i][x_key] for i in front], [rows[i][y_key] for i in front], "k--", lw=1, label="Pareto front")
    for ref, style in zip(references, (":", "-.", (0, (1, 4)), (0, (3, 3)))):
        if ref.get(y_key) is None:
            continue
        ax.axhline(max(ref[y_key], 1e-4), color="grey", ls=style, lw=1, label=f"{ref['strategy']} reference")
    ax.set_xscale("log")
    if min((r[y_key] for r in rows), default=1) > 0:
        ax.set_yscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title("quality vs " + x_label, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # outside: never hides a point
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
