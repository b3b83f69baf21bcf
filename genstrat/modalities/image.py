"""Images: judged by a CNN classifier, written as PNG grids, compressed by a convolutional auto-encoder.

- Judge and metrics: agreement with the requested label, Fréchet distance in the judge's features to the held-out
  split at a fixed n, diversity (``eval/judging.py``). Reference rows: ``real`` (training images) and
  ``independent`` (every pixel drawn from its per-class marginal: the floor of one-shot NAR).
- Samples: a PNG grid, one column per label; versions: a strip and a GIF (``media/grid.py``, ``media/versions.py``).
- Stage one of two-stage rows: the auto-encoder (``nn/autoencoder.py``).
"""

from __future__ import annotations

from pathlib import Path

import torch

from genstrat.eval.judging import fit_judge, judge_cache, real_images, score
from genstrat.eval.reconstruction import reconstruction_metrics
from genstrat.eval.references import independent_row, real_row
from genstrat.modalities.registry import Modality, register_modality
from genstrat.nn.judge import judge_outputs
from genstrat.media.grid import save_grid
from genstrat.media.versions import save_versions


def one_sample_versions(strategy, model, cond: torch.Tensor, options, seed: int) -> list[torch.Tensor]:
    """Every version of one sample, first to final, on the CPU."""
    versions = []
    strategy.generate(
        model,
        cond,
        None,
        torch.Generator(cond.device).manual_seed(seed),
        options=options,
        on_version=lambda i, u: versions.append(u.cpu()),
    )
    return versions


class ImageEvaluator:
    quality_key, quality_label = "fd", "Fréchet distance (judge features; lower is better)"
    default_n = 1000

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
        self.data, self.n = data, n
        self.judge, accuracy, cost = fit_judge(
            data, steps=judge_steps, seed=seed, cache=judge_cache(data, judge_steps, seed), progress=progress
        )
        test_images, _ = real_images(data, "test")
        self.reference_features, _ = judge_outputs(self.judge, test_images)
        self.meta = {"judge_test_accuracy": accuracy, "n_test": int(test_images.shape[0]), "judge_cost": cost}

    def reference_rows(self, generator: torch.Generator) -> list[dict]:
        real = real_row(self.data, self.judge, self.reference_features, self.n, generator)
        return [
            {**real, "judge_test_accuracy": round(self.meta["judge_test_accuracy"], 4)},
            independent_row(self.data, self.judge, self.reference_features, self.n, generator),
        ]

    def reconstruction(self, autoencoder, generator: torch.Generator) -> dict:
        """The auto-encoder's reconstructions of n held-out images, judged like samples (two-stage's floor)."""
        return reconstruction_metrics(autoencoder, self.data, self.judge, self.reference_features, self.n, generator)

    def view(self, units: torch.Tensor) -> torch.Tensor:
        """What the judge sees of a sample: the image."""
        return self.data.units.decode(units)

    def score(self, units: torch.Tensor, cond: torch.Tensor) -> dict:
        return score(self.judge, self.view(units), cond, self.reference_features)

    def timing_fields(self, latency_b1_s: float, throughput_per_s: float) -> dict:
        return {}

    def own_likelihood(self, strategy, model, device) -> dict:
        if not hasattr(strategy, "bits_per_unit"):
            return {}
        units, labels = self.data.test_units.to(device), self.data.test_labels.to(device)
        return {"nll_bits_per_unit": round(strategy.bits_per_unit(model, units, labels), 4)}

    def show(self, units: torch.Tensor, cond: torch.Tensor, path: Path) -> Path:
        images = self.data.units.decode(units)
        return save_grid(
            images[: self.data.num_classes * 8], path.with_name(path.name + ".png"), columns=self.data.num_classes
        )

    def versions(self, strategy, model, options, path: Path, seed: int) -> Path:
        device = next(model.parameters()).device
        cond = torch.tensor([min(3, self.data.num_classes - 1)], device=device)
        frames = [self.data.units.decode(v) for v in one_sample_versions(strategy, model, cond, options, seed)]
        strip, _ = save_versions(frames, path.with_suffix(".png"))
        return strip


def write_samples(units_space, units: torch.Tensor, path: Path) -> Path:
    return save_grid(units_space.decode(units), path, columns=min(len(units), 8))


def print_samples(units_space, units: torch.Tensor, versions: list, out: str | None) -> list[str]:
    """`genstrat sample` on images: a PNG grid at ``out`` (default samples.png), and the versions' strip and GIF."""
    path = write_samples(units_space, units, Path(out or "samples.png"))
    lines = [f"-> {path}"]
    if versions:
        strip, gif = save_versions([units_space.decode(v[:1]) for v in versions], path)
        lines.append(f"versions 1..{len(versions)}: {strip} and {gif}")
    return lines


def report_intro(rows: list[dict], meta: dict) -> list[str]:
    has_codes = any(r["strategy"].startswith("reconstruction:") for r in rows)
    return [
        f"Judge test accuracy: {meta['judge_test_accuracy']:.4f}. Fréchet distances use n = {meta['n']} samples "
        f"against the {rows[0]['n_test']} held-out images (a different n gives a different number).",
        "",
        "Reference rows: `real` = real training images vs held-out; `independent` = every pixel drawn "
        "independently from its per-class marginal (what one-shot NAR tends to without a latent vector)"
        + (
            "; `reconstruction:*` = held-out images through an auto-encoder (the floor of its two-stage rows; "
            "its training and encoding seconds count against every two-stage row that uses it)."
            if has_codes
            else "."
        ),
    ]


def report_samples(rows: list[dict], generated: list[dict], meta: dict, out: Path, series) -> list[str]:
    text = []
    if meta.get("versions"):
        text += [
            "## Versions",
            "",
            "One sample per strategy, first version to final (long chains thinned to 16 "
            "frames; undecided positions grey). A GIF of each lies beside its strip.",
            "",
        ]
        for name, strip in meta["versions"].items():
            text += [f"**{name}**", "", f"![{name} versions]({strip})", ""]
    text += ["## Samples", "", "One column per requested label, 8 samples each.", ""]
    for r in generated:
        text += [
            f"### {series(r)}, {r['steps']} steps (NFE {r['nfe']})",
            "",
            f"![{series(r)} {r['steps']}]({r['grid']})",
            "",
        ]
    return text


def autoencoder_config(data, quantizer: str = "fsq", factor: int | None = None, **options):
    """Stage one of two-stage image rows: a convolutional auto-encoder sized to the data's images."""
    from genstrat.nn.autoencoder import AutoencoderConfig, default_factor
    from genstrat.nn.multiscale import multiscale_over

    if quantizer == "multiscale":  # VAR's token maps over an fsq auto-encoder (nn/multiscale.py)
        return multiscale_over(autoencoder_config(data, "fsq", factor, **options))
    c, h, w = data.units.shape
    return AutoencoderConfig(
        channels=c, height=h, width=w, factor=factor or default_factor(h, w), quantizer=quantizer, **options
    )


COLUMNS = [
    ("steps", "steps"),
    ("nfe", "NFE"),
    ("latency_b1_s", "batch-1 latency (s)"),
    ("step_s_b1", "step, batch 1 (s)"),
    ("floor_s_b1", "its floor (s)"),
    ("throughput_per_s", "throughput (img/s)"),
    ("agree", "agreement"),
    ("fd", "Fréchet"),
    ("diversity", "diversity"),
    ("nll_bits_per_unit", "NLL (bits/unit)"),
    ("psnr", "PSNR (dB)"),
    ("code_perplexity", "code perplexity"),
    ("dead_codes", "dead codes"),
    ("ae_seconds", "auto-encoder s"),
]

IMAGE = register_modality(
    Modality(
        name="image",
        evaluator=ImageEvaluator,
        quality_keys=("fd",),
        columns=COLUMNS,
        write_samples=write_samples,
        print_samples=print_samples,
        report_intro=report_intro,
        report_samples=report_samples,
        stage_one=autoencoder_config,
    )
)
