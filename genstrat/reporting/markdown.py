"""Write ``report.md``: the command, the lecture's parts in this run, the table, the plots, then the modality's own
sections (sample grids and clips, or text lists with the probe's mixed outputs), rows in the lecture's order."""

from __future__ import annotations

from pathlib import Path

from genstrat.eval.row import BenchRow
from genstrat.modalities import modality_named
from genstrat.reporting.plot import pareto_front, plot_quality_vs, series
from genstrat.reporting.rows import cell, in_lecture_order, is_reference
from genstrat.reporting.summary import summary_table
from genstrat.strategies import LECTURE_PARTS, all_sweep_keys, lecture_part_of

TRAINING_COLUMNS = [("trained", "model trained"), ("train_steps", "updates"), ("updates_per_s", "updates/s"),
                    ("gflops_per_s", "GFLOP/s"), ("precision", "precision")]  # trained: "here", or "loaded" (--trained)


def columns_for(modality) -> list[tuple[str, str]]:
    """The strategy, the options its sweeps vary (read from the strategy registry), the modality's columns, then
    what training cost (every modality trains the same way)."""
    sweeps = [(k, k.replace("_", " ")) for k in all_sweep_keys()]
    return [("strategy", "strategy"), *sweeps, *modality.columns, *TRAINING_COLUMNS]


def figure(row: BenchRow, key: str) -> str:
    """A cell, with its 95% bootstrap interval beside it where the row has one (``<key>_ci``)."""
    interval = row.get(key + "_ci")
    if interval and row.get(key) is not None:
        return f"{cell(row[key])} [{interval[0]:.4g}, {interval[1]:.4g}]"
    return cell(row.get(key))


def table(rows: list[BenchRow], columns) -> str:
    columns = [(k, h) for k, h in columns if any(r.get(k) is not None for r in rows)]
    lines = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        lines.append("| " + " | ".join(figure(r, k) for k, _ in columns) + " |")
    return "\n".join(lines)


def cost_line(meta: dict) -> list[str]:
    """What the judge (or text reference) cost this run: trained here, or reused from the cache."""
    cost = meta.get("judge_cost")
    if not cost:
        return []
    how = "reused from the cache (trained once in " if cost.get("cached") else "trained in this run ("
    return [f"Judge cost: {how}{cost.get('seconds', 0):.0f} s, {cost.get('steps', '?')} steps).", ""]


def lecture_lines(rows: list[BenchRow], y_key: str) -> list[str]:
    """One short list per lecture part present in the run: its rows' steps, quality and batch-1 latency."""
    text = ["## The lecture in this run", ""]
    for part, heading in LECTURE_PARTS.items():
        members = [r for r in rows if lecture_part_of(r["strategy"]) == part]
        if not members:
            continue
        text += [f"**{heading}**", ""]
        for r in members:
            steps = f", {r['steps']} steps" if r.get("steps") else ""
            latency = f", batch-1 latency {cell(r['latency_b1_s'])} s" if r.get("latency_b1_s") is not None else ""
            updates = f", trained {r['train_steps']:,} updates" if r.get("train_steps") else ""
            text.append(f"- {series(r)}{steps}: {y_key} {figure(r, y_key)}{latency}{updates}")
        text.append("")
    return text


def best_row_lines(rows: list[BenchRow]) -> list[str]:
    """The best row of each strategy with an interval on every quality figure (``reporting/summary.py``)."""

    if not any(not is_reference(r) for r in rows):
        return []
    return ["## Best row of each strategy", "", "Per strategy (and sampler), the row with the best quality figure; "
            "brackets hold its 95% interval: rows whose intervals overlap are a tie.", "", summary_table(rows), ""]


PEER_COLUMNS = [("strategy", "strategy"), ("peer", "peer"), ("measure", "measure"), ("decode", "path"),
                ("tokens", "tokens"), ("tokens_per_s_b1", "tokens/s (batch 1)"),
                ("tokens_per_s_b64", "tokens/s (batch 64)"), ("speed_ratio_b1", "ours / peer's best (batch 1)"),
                ("speed_ratio_b64", "ours / peer's best (batch 64)"), ("weights", "weights"),
                ("reason", "not run because")]


def peer_lines(peers: list[BenchRow]) -> list[str]:
    """The peers' rows measured apart from the quality table (``genstrat/peers/``)."""
    if not peers:
        return []
    return ["## Peers", "", "Rows measured in this process beside a peer library (`bench --peers`); a peer that could "
            "not run says why.", "", table(peers, PEER_COLUMNS), ""]


FEW_PASSES = 20  # the "how many passes" view: rows of at most this many sequential evaluations


def few_pass_series(rows: list[BenchRow]) -> list[BenchRow]:
    """The rows of every line measured at two or more pass counts up to ``FEW_PASSES`` (a diffusion sampler, the
    students distilled from it, mask-predict), for the "how many passes" plot; none when no line has two."""
    few = [r for r in rows if r.get("nfe") and r["nfe"] <= FEW_PASSES]
    counts = {}
    for r in few:
        counts.setdefault(series(r), set()).add(r["nfe"])
    return [r for r in few if len(counts[series(r)]) > 1]


def write_report(rows: list[BenchRow], meta: dict, out: Path) -> Path:
    """``out/report.md`` from the rows and the run's metadata (plots written beside it)."""
    path = Path(out) / "report.md"
    path.write_text("\n".join(report_lines(rows, meta, out)), encoding="utf-8")
    return path


def report_lines(rows: list[BenchRow], meta: dict, out: Path) -> list[str]:
    out = Path(out)
    modality = modality_named(meta.get("modality") or meta.get("kind") or "image")  # "kind": bench folders before
    y_key = meta.get("quality_key", "fd")
    y_label = meta.get("quality_label", "Fréchet distance (judge features; lower is better)")
    peers = [r for r in rows if "peer" in r and r.get(y_key) is None]  # measured apart: speed, or why not run
    rows = [r for r in rows if r not in peers]
    references = [r for r in rows if is_reference(r)]
    generated = [r for r in rows if r not in references]
    plots = []
    if generated:
        plots.append(
            plot_quality_vs(
                generated,
                "latency_b1_s",
                "batch-1 latency (s)",
                out / "quality_vs_latency.png",
                references,
                y_key,
                y_label,
            )
        )
        plots.append(
            plot_quality_vs(
                generated,
                "nfe",
                "sequential network evaluations (NFE)",
                out / "quality_vs_nfe.png",
                references,
                y_key,
                y_label,
            )
        )
        few = few_pass_series(generated)
        if few:  # how many passes: each iterative line (a teacher's samplers, its students, mask-predict) from 1 up
            plots.append(plot_quality_vs(few, "nfe", f"passes (NFE up to {FEW_PASSES})", out / "how_many_passes.png",
                                         references, y_key, y_label))
    front = pareto_front([(r["latency_b1_s"], r[y_key]) for r in generated])
    text = [
        f"# genstrat bench: {meta['data']}",
        "",
        f"Command: `{meta['command']}`  ",
        f"Run {meta['date']} on {meta['machine']} ({meta['device']}, {meta['threads']} threads, "
        f"torch {meta['torch']}).  ",
        *modality.report_intro(rows, meta),
        "",
        *cost_line(meta),
        *lecture_lines(rows, y_key),
        *best_row_lines(rows),
        "## All rows",
        "",
        "Quality figures carry their 95% bootstrap interval over the n samples in brackets: rows whose intervals "
        "overlap are a tie.",
        "",
        table(rows, columns_for(modality)),
        "",
        f"Pareto front (batch-1 latency vs {y_key}): "
        + ", ".join(f"{series(generated[i])} ({generated[i]['steps']})" for i in front),
        "",
    ]
    for p in plots:
        text += [f"![{p.stem}]({p.name})", ""]
    text += peer_lines(peers)
    text += modality.report_samples(rows, in_lecture_order(generated), meta, out, series)
    return text
