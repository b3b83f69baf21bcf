"""What the bench measures for each kind of data: one judge, reference rows, a score per row,
samples to look at, and the versions of one sample.

- images: a CNN judge (agreement, Fréchet distance on its features, diversity); reference rows
  ``real`` and ``independent`` (per-pixel marginals); PNG grids and version strips.
- text: on the probe, exact validity / mixing / frequency error (``eval/text_metrics.py``); on
  natural text, perplexity under a separately trained AR reference (``eval/reference_lm.py``)
  and distinct-n; reference rows ``real`` (held-out text) and ``independent`` (every position
  drawn from its marginal, the floor of one-shot NAR); sample lists and version lists as text.
"""

from __future__ import annotations

from pathlib import Path

import torch

from genstrat.eval.judging import fit_judge, real_images, score
from genstrat.eval.reconstruction import reconstruction_metrics
from genstrat.eval.references import independent_row, real_row
from genstrat.eval.reference_lm import fit_reference, perplexity
from genstrat.eval.text_metrics import distinct_n, probe_scores
from genstrat.nn.judge import judge_outputs
from genstrat.report.grid import save_grid
from genstrat.report.versions import save_versions


def one_sample_versions(strategy, model, cond: torch.Tensor, options, seed: int) -> list[torch.Tensor]:
    versions = []
    strategy.generate(model, cond, None, torch.Generator(cond.device).manual_seed(seed), options=options,
                      on_version=lambda i, u: versions.append(u.cpu()))
    return versions


class ImageEvaluator:
    quality_key, quality_label = "fd", "Fréchet distance (judge features; lower is better)"
    default_n = 1000

    def __init__(self, data, out: Path, n: int, seed: int, judge_steps: int, size: str, progress: bool, device):
        self.data, self.n = data, n
        self.judge, accuracy = fit_judge(data, steps=judge_steps, seed=seed, cache=out / "judge", progress=progress)
        test_images, _ = real_images(data, "test")
        self.reference_features, _ = judge_outputs(self.judge, test_images)
        self.meta = {"judge_test_accuracy": accuracy, "n_test": int(test_images.shape[0])}

    def reference_rows(self, generator: torch.Generator) -> list[dict]:
        real = real_row(self.data, self.judge, self.reference_features, self.n, generator)
        return [{**real, "judge_test_accuracy": round(self.meta["judge_test_accuracy"], 4)},
                independent_row(self.data, self.judge, self.reference_features, self.n, generator)]

    def reconstruction(self, autoencoder, generator: torch.Generator) -> dict:
        """The auto-encoder's reconstructions of n held-out images, judged like samples (two-stage's floor)."""
        return reconstruction_metrics(autoencoder, self.data, self.judge, self.reference_features, self.n, generator)

    def score(self, units: torch.Tensor, cond: torch.Tensor) -> dict:
        return score(self.judge, self.data.units.decode(units), cond, self.reference_features)

    def own_likelihood(self, strategy, model, device) -> dict:
        if not hasattr(strategy, "bits_per_unit"):
            return {}
        return {"nll_bits_per_unit": round(strategy.bits_per_unit(model, self.data.test_units.to(device), self.data.test_labels.to(device)), 4)}

    def show(self, units: torch.Tensor, cond: torch.Tensor, path: Path) -> Path:
        images = self.data.units.decode(units)
        return save_grid(images[: self.data.num_classes * 8], path.with_name(path.name + ".png"), columns=self.data.num_classes)

    def versions(self, strategy, model, options, path: Path, seed: int) -> Path:
        device = next(model.parameters()).device
        cond = torch.tensor([min(3, self.data.num_classes - 1)], device=device)
        frames = [self.data.units.decode(v) for v in one_sample_versions(strategy, model, cond, options, seed)]
        strip, _ = save_versions(frames, path.with_suffix(".png"))
        return strip


class TextEvaluator:
    default_n = 6000

    def __init__(self, data, out: Path, n: int, seed: int, judge_steps: int, size: str, progress: bool, device):
        self.data, self.n, self.device = data, n, device
        self.probe = data.truth is not None
        self.meta = {"n_test": int(data.test_units.shape[0])}
        if self.probe:
            self.quality_key, self.quality_label = "tv", "total variation to the true answer frequencies (lower is better)"
            self.reference = None
        else:
            self.quality_key, self.quality_label = "ppl_ref", "perplexity under the reference AR (lower is better)"
            self.reference, self.reference_strategy, test_ppl = fit_reference(
                data, steps=judge_steps, seed=seed, size=size, cache=out / "reference", progress=progress, device=device)
            self.meta["reference_test_ppl"] = test_ppl

    def reference_rows(self, generator: torch.Generator) -> list[dict]:
        units, cond = self.data.references(self.n, generator)
        real = {"strategy": "real", **self.score(units, cond), "n": self.n}
        if "reference_test_ppl" in self.meta:
            real["reference_test_ppl"] = round(self.meta["reference_test_ppl"], 4)
        return [real, {"strategy": "independent", **self.score(self.independent(cond, generator), cond), "n": self.n}]

    def independent(self, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Each position drawn from its marginal over the training rows (of the same label, when labelled)."""
        train = self.data.train_units.long()
        groups = [(cond == c, train[self.data.train_labels == c]) for c in range(self.data.num_classes)] if not self.data.context_len \
            else [(torch.ones(cond.shape[0], dtype=torch.bool), train)]
        samples = torch.empty(cond.shape[0], self.data.units.seq_len, dtype=torch.long)
        for rows, members in groups:
            counts = torch.stack([torch.bincount(members[:, i], minlength=self.data.units.vocab_size) for i in range(members.shape[1])]).float()
            samples[rows] = torch.multinomial(counts + 1e-6, int(rows.sum()), replacement=True, generator=generator).T
        return samples

    def score(self, units: torch.Tensor, cond: torch.Tensor) -> dict:
        units_space = self.data.units
        units = units_space.canonical(units.long())
        texts, tokens = units_space.decode(units), units_space.token_lists(units)
        row = {"mean_length": round(sum(map(len, tokens)) / len(tokens), 3), "distinct_1": round(distinct_n(tokens, 1), 4),
               "distinct_2": round(distinct_n(tokens, 2), 4), "unique": round(len(set(texts)) / len(texts), 4)}
        if self.probe:
            row.update(probe_scores(texts, cond.tolist(), self.data.truth))
        else:
            row["ppl_ref"] = round(perplexity(self.reference, self.reference_strategy, units.to(self.device), cond.to(self.device)), 4)
        return row

    def own_likelihood(self, strategy, model, device) -> dict:
        """AR only: bits per token (END included) and per character of the held-out text."""
        if not hasattr(strategy, "total_nats"):
            return {}
        units, cond = self.data.test_units.long().to(device), self.data.test_labels.long().to(device)
        nats, count, _ = strategy.total_nats(model, units, cond)
        chars = sum(len(t) + 1 for t in self.data.units.decode(units.cpu()))  # + 1: END stands for the newline
        bits = nats * count / 0.6931471805599453
        return {"nll_bits_per_unit": round(nats / 0.6931471805599453, 4), "bits_per_char": round(bits / chars, 4)}

    def describe(self, cond: torch.Tensor) -> str:
        if self.data.context_len:
            return "…" + self.data.units.decode(cond[None])[0].replace("\n", " / ")[-40:]
        return self.data.class_names[int(cond)]

    def show(self, units: torch.Tensor, cond: torch.Tensor, path: Path) -> Path:
        lines = [f"{self.describe(c)} → {t}" for t, c in zip(self.data.units.decode(units[:40]), cond[:40])]
        path = path.with_name(path.name + ".txt")  # a row name may hold a dot ("latent-0.0-1"): not a suffix
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def versions(self, strategy, model, options, path: Path, seed: int) -> Path:
        device = next(model.parameters()).device
        cond = self.data.conditions(1, torch.Generator().manual_seed(seed)).to(device)
        frames = one_sample_versions(strategy, model, cond, options, seed)
        path = path.with_suffix(".txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"condition: {self.describe(cond[0].cpu())}"]
        lines += [f"{i:>3}: {self.data.units.decode(v)[0]}" for i, v in enumerate(frames, 1)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


def evaluator_for(data, **kwargs):
    return (TextEvaluator if data.kind == "text" else ImageEvaluator)(data, **kwargs)
