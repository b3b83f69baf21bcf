"""Text: judged exactly on the probe, or by a reference AR's perplexity; written as text lists.

- On the probe, exact validity / mixing / frequency error (``eval/text_metrics.py``); on natural text, perplexity
  under a separately trained AR reference (``eval/reference_lm.py``) and distinct-n. Reference rows ``real``
  (held-out text) and ``independent`` (every position drawn from its marginal, the floor of one-shot NAR).
- Samples and versions: plain text files, condition -> output; the report escapes nothing into HTML (Markdown code
  blocks hold model text verbatim).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from genstrat.training.checkpoint import atomic_write
from genstrat.eval.reference_lm import fit_reference, perplexity_with_interval
from genstrat.eval.text_metrics import distinct_n, probe_scores
from genstrat.modalities.image import one_sample_versions
from genstrat.modalities.registry import Modality, register_modality


class TextEvaluator:
    default_n = 6000

    def __init__(
        self,
        data,
        n: int,
        seed: int,
        judge_steps: int,
        size: str,
        progress: bool,
        device,
        limit_minutes: float | None = None,
    ):
        self.data, self.n, self.device = data, n, device
        self.probe = data.truth is not None
        self.meta = {"n_test": int(data.test_units.shape[0])}
        if self.probe:
            self.quality_key, self.quality_label = (
                "tv",
                "total variation to the true answer frequencies (lower is better)",
            )
            self.reference = None
        else:
            self.quality_key, self.quality_label = "ppl_ref", "perplexity under the reference AR (lower is better)"
            self.reference, self.reference_strategy, test_ppl, cost = fit_reference(
                data,
                steps=judge_steps,
                seed=seed,
                size=size,
                progress=progress,
                device=device,
                limit_minutes=limit_minutes,
            )
            self.meta.update(reference_test_ppl=test_ppl, judge_cost=cost)

    def reference_rows(self, generator: torch.Generator) -> list[dict]:
        units, cond = self.data.references(self.n, generator)
        real = {"strategy": "real", **self.score(units, cond), "n": self.n}
        if "reference_test_ppl" in self.meta:
            real["reference_test_ppl"] = round(self.meta["reference_test_ppl"], 4)
        return [real, {"strategy": "independent", **self.score(self.independent(cond, generator), cond), "n": self.n}]

    def independent(self, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Each position drawn from its marginal over the training rows (of the same label, when labelled)."""
        train = self.data.train_units.long()
        if self.data.context_len:
            groups = [(torch.ones(cond.shape[0], dtype=torch.bool), train)]
        else:
            groups = [(cond == c, train[self.data.train_labels == c]) for c in range(self.data.num_classes)]
        samples = torch.empty(cond.shape[0], self.data.units.seq_len, dtype=torch.long)
        for rows, members in groups:
            counts = torch.stack(
                [torch.bincount(members[:, i], minlength=self.data.units.vocab_size) for i in range(members.shape[1])]
            ).float()
            samples[rows] = torch.multinomial(counts + 1e-6, int(rows.sum()), replacement=True, generator=generator).T
        return samples

    def score(self, units: torch.Tensor, cond: torch.Tensor) -> dict:
        space = self.data.units
        units = space.canonical(units.long())
        texts, tokens = space.decode(units), space.token_lists(units)
        row = {
            "mean_length": round(sum(map(len, tokens)) / len(tokens), 3),
            "distinct_1": round(distinct_n(tokens, 1), 4),
            "distinct_2": round(distinct_n(tokens, 2), 4),
            "unique": round(len(set(texts)) / len(texts), 4),
        }
        if self.probe:
            row.update(probe_scores(texts, cond.tolist(), self.data.truth))
        else:
            ppl, interval = perplexity_with_interval(self.reference, self.reference_strategy, units.to(self.device),
                                                     cond.to(self.device))
            row.update(ppl_ref=round(ppl, 4), ppl_ref_ci=interval)
        return row

    def timing_fields(self, latency_b1_s: float, throughput_per_s: float) -> dict:
        return {}

    def own_likelihood(self, strategy, model, device) -> dict:
        """AR only: bits per token (END included) and per character of the held-out text."""
        if not hasattr(strategy, "total_nats"):
            return {}
        units, cond = self.data.test_units.long().to(device), self.data.test_labels.long().to(device)
        nats, count, _ = strategy.total_nats(model, units, cond)
        chars = sum(len(t) + 1 for t in self.data.units.decode(units.cpu()))  # + 1: END stands for the newline
        bits = nats * count / math.log(2)
        return {"nll_bits_per_unit": round(nats / math.log(2), 4), "bits_per_char": round(bits / chars, 4)}

    def describe(self, cond: torch.Tensor) -> str:
        if self.data.context_len:
            return "…" + self.data.units.decode(cond[None])[0].replace("\n", " / ")[-40:]
        return self.data.class_names[int(cond)]

    def show(self, units: torch.Tensor, cond: torch.Tensor, path: Path) -> Path:
        lines = [f"{self.describe(c)} → {t}" for t, c in zip(self.data.units.decode(units[:40]), cond[:40])]
        path = path.with_name(path.name + ".txt")  # a row name may hold a dot ("latent-0.0-1"): not a suffix
        atomic_write(path, ("\n".join(lines) + "\n").encode())
        return path

    def versions(self, strategy, model, options, path: Path, seed: int) -> Path:
        device = next(model.parameters()).device
        cond = self.data.conditions(1, torch.Generator().manual_seed(seed)).to(device)
        frames = one_sample_versions(strategy, model, cond, options, seed)
        lines = [f"condition: {self.describe(cond[0].cpu())}"]
        lines += [f"{i:>3}: {self.data.units.decode(v)[0]}" for i, v in enumerate(frames, 1)]
        path = path.with_suffix(".txt")
        atomic_write(path, ("\n".join(lines) + "\n").encode())
        return path


def write_samples(units_space, units: torch.Tensor, path: Path) -> Path:
    path = path.with_suffix(".txt")
    atomic_write(path, ("\n".join(units_space.decode(units)) + "\n").encode())
    return path


def print_samples(units_space, units: torch.Tensor, versions: list, out: str | None) -> list[str]:
    """`genstrat sample` on text: the samples and versions printed; written too when ``out`` names a .txt file."""
    texts = units_space.decode(units)
    lines = [f"  {t}" for t in texts] + [
        f"  version {i}: {units_space.decode(v[:1])[0]}" for i, v in enumerate(versions, 1)
    ]
    if out is not None and out.endswith(".txt"):
        lines.append(f"-> {write_samples(units_space, units, Path(out))}")
    return lines


def report_intro(rows: list[dict], meta: dict) -> list[str]:
    judge = (
        f"Reference AR: held-out perplexity {meta['reference_test_ppl']:.3f} on {rows[0]['n_test']} held-out rows."
        if "reference_test_ppl" in meta
        else "Probe: every output checked exactly against the grammar."
    )
    return [
        f"n = {meta['n']} generated texts per row; conditions drawn as the `real` row's. {judge}",
        "",
        "Reference rows: `real` = held-out texts (for the probe, its TV is the noise floor of n draws); "
        "`independent` = every position drawn independently from its marginal (what one-shot NAR tends to).",
    ]


def report_samples(rows: list[dict], generated: list[dict], meta: dict, out: Path, series) -> list[str]:
    text = []
    mixed = [r for r in rows if r.get("mixed_examples")]
    if mixed:
        text += [
            "## Mixed outputs",
            "",
            "Outputs made of pieces of two or more valid answers (the lecture's 演授), as generated:",
            "",
        ]
        for r in mixed:
            shown = "; ".join(f"{example}" for _, example in r["mixed_examples"])
            steps = f", {r['steps']} steps" if r.get("steps") else ""
            text += [f"- **{series(r)}{steps}** (mixed {r['mixed']:.2%}): {shown}"]
        text += [""]
    if meta.get("versions"):
        text += [
            "## Versions",
            "",
            "One sample per strategy, every version from first to final (`_` = not yet decided).",
            "",
        ]
        for name, path in meta["versions"].items():
            versions_file = out / path
            lines = versions_file.read_text(encoding="utf-8").splitlines() if versions_file.is_file() else []
            if len(lines) > 18:  # AR: thin long chains
                lines = lines[:9] + ["  ..."] + lines[-8:]
            text += [f"**{name}**", "", "```", *lines, "```", ""]
    text += ["## Samples", "", "The first samples of each row (condition → output).", ""]
    for r in generated:
        sample_file = out / r["grid"]
        lines = sample_file.read_text(encoding="utf-8").splitlines()[:12] if sample_file.is_file() else []
        text += [f"### {series(r)}, {r['steps']} steps (NFE {r['nfe']})", "", "```", *lines, "```", ""]
    return text


COLUMNS = [
    ("steps", "steps"),
    ("nfe", "NFE"),
    ("latency_b1_s", "batch-1 latency (s)"),
    ("step_s_b1", "step, batch 1 (s)"),
    ("floor_s_b1", "its floor (s)"),
    ("throughput_per_s", "throughput (texts/s)"),
    ("valid", "valid"),
    ("mixed", "mixed"),
    ("tv", "TV distance"),
    ("ppl_ref", "ppl under reference"),
    ("distinct_2", "distinct-2"),
    ("unique", "unique"),
    ("mean_length", "mean length"),
    ("bits_per_char", "own bits/char"),
]

TEXT = register_modality(
    Modality(
        name="text",
        evaluator=TextEvaluator,
        quality_keys=("tv", "ppl_ref"),
        columns=COLUMNS,
        write_samples=write_samples,
        print_samples=print_samples,
        report_intro=report_intro,
        report_samples=report_samples,
    )
)
