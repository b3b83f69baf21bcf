"""Write ``report.md``: the command, the table, the plots and the samples (image grids, or text
lists with the probe's mixed outputs)."""

from __future__ import annotations

from pathlib import Path

from genstrat.report.plot import pareto_front, plot_quality_vs, series

TEXT_COLUMNS = [("strategy", "strategy"), ("steps", "steps"), ("nfe", "NFE"), ("latency_b1_s", "batch-1 latency (s)"),
                ("throughput_per_s", "throughput (texts/s)"), ("valid", "valid"), ("mixed", "mixed"), ("tv", "TV distance"),
                ("ppl_ref", "ppl under reference"), ("distinct_2", "distinct-2"), ("unique", "unique"),
                ("mean_length", "mean length"), ("bits_per_char", "own bits/char")]
COLUMNS = [("strategy", "strategy"), ("sampler", "sampler"), ("temperature", "temperature"), ("steps", "steps"), ("nfe", "NFE"), ("latency_b1_s", "batch-1 latency (s)"),
           ("throughput_per_s", "throughput (img/s)"), ("agree", "agreement"), ("fd", "Fréchet"),
           ("diversity", "diversity"), ("nll_bits_per_unit", "NLL (bits/unit)"), ("psnr", "PSNR (dB)"),
           ("code_perplexity", "code perplexity"), ("dead_codes", "dead codes"), ("ae_seconds", "auto-encoder s")]


def is_reference(row: dict) -> bool:
    """Rows measured without sampling: real data, independent units, an auto-encoder's reconstructions."""
    return row["strategy"] in ("real", "independent") or row["strategy"].startswith("reconstruction:")


def cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(rows: list[dict], columns=COLUMNS) -> str:
    columns = [(k, h) for k, h in columns if any(r.get(k) is not None for r in rows)]
    lines = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        lines.append("| " + " | ".join(cell(r.get(k)) for k, _ in columns) + " |")
    return "\n".join(lines)


def write_report(rows: list[dict], meta: dict, out: Path) -> Path:
    out = Path(out)
    text_data = meta.get("kind") == "text"
    y_key = meta.get("quality_key", "fd")
    y_label = meta.get("quality_label", "Fréchet distance (judge features; lower is better)")
    references = [r for r in rows if is_reference(r)]
    generated = [r for r in rows if r not in references]
    plots = []
    if generated:
        plots.append(plot_quality_vs(generated, "latency_b1_s", "batch-1 latency (s)", out / "quality_vs_latency.png", references, y_key, y_label))
        plots.append(plot_quality_vs(generated, "nfe", "sequential network evaluations (NFE)", out / "quality_vs_nfe.png", references, y_key, y_label))
    front = pareto_front([(r["latency_b1_s"], r[y_key]) for r in generated])
    text = [
        f"# genstrat bench: {meta['data']}",
        "",
        f"Command: `{meta['command']}`  ",
        f"Run {meta['date']} on {meta['machine']} ({meta['device']}, {meta['threads']} threads, torch {meta['torch']}).  ",
    ]
    if text_data:
        text += [f"n = {meta['n']} generated texts per row; conditions drawn as the `real` row's. "
                 + (f"Reference AR: held-out perplexity {meta['reference_test_ppl']:.3f} on {rows[0]['n_test']} held-out rows."
                    if "reference_test_ppl" in meta else "Probe: every output checked exactly against the grammar."),
                 "",
                 "Reference rows: `real` = held-out texts (for the probe, its TV is the noise floor of n draws); `independent` = "
                 "every position drawn independently from its marginal (what one-shot NAR tends to).",
                 "", table(rows, TEXT_COLUMNS), ""]
    else:
        text += [f"Judge test accuracy: {meta['judge_test_accuracy']:.4f}. Fréchet distances use n = {meta['n']} samples "
                 f"against the {rows[0]['n_test']} held-out images (a different n gives a different number).",
                 "",
                 "Reference rows: `real` = real training images vs held-out; `independent` = every pixel drawn independently "
                 "from its per-class marginal (what one-shot NAR tends to without a latent vector)"
                 + ("; `reconstruction:*` = held-out images through an auto-encoder (the floor of its two-stage rows; "
                    "its training and encoding seconds count against every two-stage row that uses it)." if any(
                        r["strategy"].startswith("reconstruction:") for r in rows) else "."),
                 "", table(rows), ""]
    text += [f"Pareto front (batch-1 latency vs {y_key}): " + ", ".join(f"{series(generated[i])} ({generated[i]['steps']})" for i in front), ""]
    for p in plots:
        text += [f"![{p.stem}]({p.name})", ""]
    mixed = [r for r in rows if r.get("mixed_examples")]
    if mixed:
        text += ["## Mixed outputs", "", "Outputs made of pieces of two or more valid answers (the lecture's 演授), as generated:", ""]
        for r in mixed:
            shown = "; ".join(f"{example}" for _, example in r["mixed_examples"])
            steps = f", {r['steps']} steps" if r.get("steps") else ""
            text += [f"- **{series(r)}{steps}** (mixed {r['mixed']:.2%}): {shown}"]
        text += [""]
    if meta.get("versions"):
        if text_data:
            text += ["## Versions", "", "One sample per strategy, every version from first to final (`_` = not yet decided).", ""]
            for name, path in meta["versions"].items():
                versions_file = out / path
                body = versions_file.read_text(encoding="utf-8") if versions_file.is_file() else ""
                lines = body.splitlines()
                if len(lines) > 18:  # AR: thin long chains
                    lines = lines[:9] + ["  ..."] + lines[-8:]
                text += [f"**{name}**", "", "```", *lines, "```", ""]
        else:
            text += ["## Versions", "", "One sample per strategy, first version to final (long chains thinned to 16 frames; "
                     "undecided positions grey). A GIF of each lies beside its strip.", ""]
            for name, strip in meta["versions"].items():
                text += [f"**{name}**", "", f"![{name} versions]({strip})", ""]
    if text_data:
        text += ["## Samples", "", "The first samples of each row (condition → output).", ""]
        for r in generated:
            sample_file = out / r["grid"]
            lines = sample_file.read_text(encoding="utf-8").splitlines()[:12] if sample_file.is_file() else []
            text += [f"### {series(r)}, {r['steps']} steps (NFE {r['nfe']})", "", "```", *lines, "```", ""]
    else:
        text += ["## Samples", "", "One column per requested label, 8 samples each.", ""]
        for r in generated:
            text += [f"### {series(r)}, {r['steps']} steps (NFE {r['nfe']})", "", f"![{series(r)} {r['steps']}]({r['grid']})", ""]
    path = out / "report.md"
    path.write_text("\n".join(text), encoding="utf-8")
    return path
