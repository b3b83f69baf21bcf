"""The best row of each strategy in a run: what a reader choosing a strategy looks at first.

For each line of the run (``series``: a strategy, with its sampler or decoding mode where it has one) the row with
the best quality figure (the run's quality key, lower is better: Fréchet distance on images and audio, variation
distance on the probe, reference perplexity on other text), with its steps, sequential evaluations, batch-1 latency
and each quality figure's 95% interval: the row's own bootstrap interval (``<key>_ci``) where the run recorded one;
for a share (agreement, validity, mixing) of a row written before rows carried intervals, the Wilson interval from
the share and n (``eval/spread.py``); a figure with neither says so ("no interval recorded") rather than pass as
exact. Reference rows (real data, independent units, reconstructions) are shown as they are, for scale.

    python -m genstrat.reporting.summary docs/results/mnist.json [more.json ...]   # one Markdown table per file
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from genstrat.eval.row import BenchRow
from genstrat.eval.spread import proportion_interval
from genstrat.modalities import MODALITIES
from genstrat.reporting.rows import cell, in_lecture_order, is_reference
from genstrat.reporting.plot import series

SHARES = ("agree", "valid", "mixed")
NO_INTERVAL = "no interval recorded"


def quality_keys() -> list[str]:
    """Every registered modality's quality figures (each modality names its own), in registration order."""
    return list(dict.fromkeys(k for m in MODALITIES.values() for k in m.quality_keys))


def headings() -> dict[str, str]:
    """Each row key's column heading, as the modalities name them in their report tables."""
    return {key: heading for m in MODALITIES.values() for key, heading in m.columns}


def quality_key(rows: list[BenchRow]) -> str:
    """The quality figure these rows carry (a run's rows carry one)."""
    for key in quality_keys():
        if any(r.get(key) is not None for r in rows):
            return key
    raise ValueError(f"these rows carry no quality figure ({', '.join(quality_keys())})")


def interval_of(row: BenchRow, key: str) -> list[float] | None:
    """The row's own interval of ``key``, else (for a share with its n) the Wilson interval, else None."""
    if row.get(key + "_ci"):
        return row[key + "_ci"]
    if key in SHARES and row.get(key) is not None and row.get("n"):
        return proportion_interval(row[key], int(row["n"]))
    return None


def with_interval(row: BenchRow, key: str) -> str:
    if row.get(key) is None:
        return "–"
    interval = interval_of(row, key)
    spread = f"[{interval[0]:.4g}, {interval[1]:.4g}]" if interval else f"({NO_INTERVAL})"
    return f"{cell(row[key])} {spread}"


def best_rows(rows: list[BenchRow], key: str) -> list[BenchRow]:
    """The reference rows, then per series the generated row with the lowest ``key``, in the lecture's order."""
    best: dict[str, dict] = {}
    for r in rows:
        if is_reference(r) or r.get(key) is None:
            continue
        name = series(r)
        if name not in best or r[key] < best[name][key]:
            best[name] = r
    return in_lecture_order([r for r in rows if is_reference(r)] + list(best.values()))


def summary_table(rows: list[BenchRow]) -> str:
    """A Markdown table of ``best_rows`` with an interval beside every quality figure."""
    key = quality_key(rows)
    chosen = best_rows(rows, key)
    speed = [k for k in ("steps", "nfe", "latency_b1_s", "rtf_b1") if any(r.get(k) is not None for r in chosen)]
    quality = [key] + [k for k in SHARES if any(r.get(k) is not None for r in chosen)]
    columns = speed + quality
    named = headings()
    lines = ["| strategy | " + " | ".join(named[k] for k in columns) + " | n |", "|" + "---|" * (len(columns) + 2)]
    for r in chosen:
        cells = [cell(r.get(k)) for k in speed] + [with_interval(r, k) for k in quality]
        lines.append(f"| {series(r)} | " + " | ".join(cells) + f" | {cell(r.get('n'))} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genstrat.reporting.summary", description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="results.json files of bench runs")
    args = parser.parse_args(argv)
    for path in map(Path, args.results):
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
            table = summary_table(rows)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
            print(f"error: {path} is not a bench results.json ({e}); give the file `genstrat bench` wrote",
                  file=sys.stderr)
            return 2
        print(f"{path}\n\n{table}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
