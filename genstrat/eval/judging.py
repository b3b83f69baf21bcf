"""Train the judge for a dataset and score image sets with it."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from genstrat.eval.spread import bootstrap_interval, mean_interval
from genstrat.cache import cache_root, fingerprint
from genstrat.training.checkpoint import read_json, read_tensors, write_json, write_tensors
from genstrat.eval.frechet import FrechetReference
from genstrat.nn.judge import Judge, judge_outputs, train_judge


def real_images(data, split: str, view=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, labels) of a split; ``view`` turns units into what the judge sees (default: the unit space's
    ``decode``; audio: log-mel spectrograms of the decoded clips)."""
    units = data.train_units if split == "train" else data.test_units
    labels = data.train_labels if split == "train" else data.test_labels
    return (view or data.units.decode)(units), labels


def judge_cache(data, steps: int, seed: int, stride: int = 1, variant: str | None = None) -> Path:
    """Where the judge of this data and these settings is kept: the user's cache, keyed by their fingerprint."""
    return cache_root() / "judges" / fingerprint(data, judge_steps=steps, seed=seed, **stride_key(stride, variant))


def stride_key(stride: int, variant: str | None = None) -> dict:
    """The judge's first-layer stride and its modality's ``variant`` (what it sees, how it is augmented) as part of a
    cache key; each absent at its default, so judges cached before it stay valid."""
    return {**({} if stride == 1 else {"stride": stride}), **({"variant": variant} if variant else {})}


def fit_judge(data, steps: int = 2000, seed: int = 0, cache: Path | None = None, progress: bool = True,
              view=None, stride: int = 1, augment=None, variant: str | None = None) -> tuple[Judge, float, dict]:
    """A judge trained on the real training split; returns (judge, its test accuracy, its cost).

    ``augment(units, labels, generator)`` -> (images, labels): altered copies of the training clips, as the judge
    sees them, trained on beside the originals (audio's word-preserving alterations); name it in ``variant``.

    With ``cache`` (a folder), a judge trained earlier for the same data and settings is reused. The cost says how
    many seconds and steps training it took, and whether this call reused it (``cached``).
    """
    torch.manual_seed(seed)  # the initial weights too: the same judge whatever ran before it in this process
    images, labels = real_images(data, "train", view)
    judge = Judge(images.shape[1], data.num_classes, stride=stride)
    key = {"data": {k: v for k, v in data.spec.items() if k != "data_dir"}, "steps": steps, "seed": seed,
           **stride_key(stride, variant)}
    if cache is not None and (cache / "judge.json").is_file():
        meta = read_json(cache / "judge.json", "judge config")
        if meta.get("key") == key:
            judge.load_state_dict(read_tensors(cache / "judge.safetensors", "judge weights"))
            judge.eval()
            return judge, meta["test_accuracy"], {**meta.get("cost", {}), "cached": True}
    start = time.perf_counter()
    if augment is not None:
        extra_images, extra_labels = augment(data.train_units, data.train_labels, torch.Generator().manual_seed(seed))
        images, labels = torch.cat([images, extra_images]), torch.cat([labels, extra_labels])
    with tqdm(total=steps, desc="train judge", disable=not progress, leave=False) as bar:
        train_judge(judge, images, labels, steps=steps, seed=seed, progress=bar)
    cost = {"seconds": round(time.perf_counter() - start, 2), "steps": steps}
    test_images, test_labels = real_images(data, "test", view)
    _, preds = judge_outputs(judge, test_images)
    accuracy = (preds == test_labels).float().mean().item()
    if cache is not None:
        write_tensors(cache / "judge.safetensors", judge.state_dict())
        write_json(cache / "judge.json", {"key": key, "test_accuracy": accuracy, "cost": cost})
    return judge, accuracy, {**cost, "cached": False}


def diversity(features: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean pairwise feature distance within each requested class, averaged over classes.

    A collapsed sampler (near-identical samples per label) scores near 0 here even when its
    agreement is perfect; compare with the same number for real images.
    """
    values = []
    for c in labels.unique():
        f = features[labels == c][:200]
        if len(f) > 1:
            d = torch.cdist(f, f)
            values.append(d.sum() / (len(f) * (len(f) - 1)))
    return float(torch.stack(values).mean()) if values else float("nan")


def score(judge: Judge, images: torch.Tensor, labels: torch.Tensor, reference_features: torch.Tensor) -> dict:
    """agree: share judged as the requested label; fd: Fréchet distance to the reference features; each with its
    95% bootstrap interval over the n samples (``agree_ci``, ``fd_ci``; ``eval/spread.py``)."""
    features, preds = judge_outputs(judge, images)
    hits = (preds == labels).float()
    reference = FrechetReference(reference_features)
    return {
        "agree": round(hits.mean().item(), 4),
        "agree_ci": mean_interval(hits.numpy()),
        "fd": round(reference.distance(features), 3),
        "fd_ci": bootstrap_interval(lambda i: reference.distance(features[torch.from_numpy(i)]), len(features),
                                    digits=3, centred=True),
        "diversity": round(diversity(features, labels), 3),
    }
