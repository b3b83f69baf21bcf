"""Write ``report.md``: the command, the table, the plots and the sample grids."""

from __future__ import annotations

from pathlib import Path

from genstrat.report.plot import pareto_front, plot_quality_vs, series

COLUMNS = [("strategy", "strategy"), ("sampler", "sampler"), ("steps", "steps"), ("nfe", "NFE"), ("latency_b1_s", "batch-1 latency (s)"),
           ("throughput_per_s", "throughput (img/s)"), ("agree", "agreement"), ("fd", "Fréchet"),
           ("diversity", "diversity"), ("nll_bits_per_unit", "NLL (bits/unit)")]


def cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(h for _, h in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join(cell(r.get(k)) for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


def write_report(rows: list[dict], meta: dict, out: Path) -> Path:
    out = Path(out)
    references = [r for r in rows if r["strategy"] in ("real", "independent")]
    generated = [r for r in rows if r not in references]
    plots = []
    if generated:
        plots.append(plot_quality_vs(generated, "latency_b1_s", "batch-1 latency (s)", out / "quality_vs_latency.png", references))
        plots.append(plot_quality_vs(generated, "nfe", "sequential network evaluations (NFE)", out / "quality_vs_nfe.png", references))
    front = pareto_front([(r["latency_b1_s"], r["fd"]) for r in generated])
    text = [
        f"# genstrat bench: {meta['data']}",
        "",
        f"Command: `{meta['command']}`  ",
        f"Run {meta['date']} on {meta['machine']} ({meta['device']}, {meta['threads']} threads, torch {meta['torch']}).  ",
        f"Judge test accuracy: {meta['judge_test_accuracy']:.4f}. Fréchet distances use n = {meta['n']} samples "
        f"against the {rows[0]['n_test']} held-out images (a different n gives a different number).",
        "",
        "Reference rows: `real` = real training images vs held-out; `independent` = every pixel drawn independently "
        "from its per-class marginal (what one-shot NAR tends to without a latent vector).",
        "",
        table(rows),
        "",
        "Pareto front (batch-1 latency vs Fréchet): " + ", ".join(f"{series(generated[i])} ({generated[i]['steps']})" for i in front),
        "",
    ]
    for p in plots:
        text += [f"![{p.stem}]({p.name})", ""]
    if meta.get("versions"):
        text += ["## Versions", "", "One sample per strategy, first version to final (long chains thinned to 16 frames; "
                 "undecided positions grey). A GIF of each lies beside its strip.", ""]
        for name, strip in meta["versions"].items():
            text += [f"**{name}**", "", f"![{name} versions]({strip})", ""]
    text += ["## Samples", "", "One column per requested label, 8 samples each.", ""]
    for r in generated:
        text += [f"### {series(r)}, {r['steps']} steps (NFE {r['nfe']})", "", f"![{series(r)} {r['steps']}]({r['grid']})", ""]
    path = out / "report.md"
    path.write_text("\n".join(text))
    return path
