"""The judge of natural text: a separately trained AR reference model.

Generated text is scored by its perplexity under an AR model trained on the real training
split (held-out perplexity reported beside it), the text analogue of judging images with a
classifier: ppl_ref = exp(-(1/T) sum_t log p_ref(x_t | x_<t, c)) over every generated token and
END (PAD excluded). Lower means more like real text to the reference; text that repeats one
likely phrase also scores low, so read it with distinct-n. The reference is kept in the user's
cache (``cache.py``), keyed by a fingerprint of the data and its settings, and its training is
budgeted: ``steps``, ended early at ``limit_minutes`` (a bench passes its per-strategy minutes).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from genstrat.cache import cache_root, fingerprint
from genstrat.training.checkpoint import read_json, write_json
from genstrat.eval.spread import bootstrap_interval
from genstrat.training.model_io import build_model, checkpoint_config, load_model
from genstrat.strategies import get_strategy
from genstrat.training.loop import Budget, train


def reference_cache(data, steps: int, seed: int, size: str, limit_minutes: float | None) -> Path:
    """Where the reference AR of this data and these settings is kept."""
    return cache_root() / "references" / fingerprint(data, steps=steps, seed=seed, size=size, limit=limit_minutes)


def fit_reference(data, steps: int, seed: int, size: str, cache: Path | None = None, progress: bool = True,
                  device=None, limit_minutes: float | None = None):
    """(reference model, its AR strategy, held-out perplexity, cost: seconds, steps and whether it was cached)."""
    device = device or torch.device("cpu")
    cache = cache or reference_cache(data, steps, seed, size, limit_minutes)
    record = cache / "reference.json"
    if record.is_file() and (cache / "model" / "model.safetensors").is_file():
        saved = read_json(record, "reference config")
        model, strategy, _ = load_model(cache / "model")
        return model.to(device), strategy, saved["test_ppl"], {**saved.get("cost", {}), "cached": True}
    strategy = get_strategy("ar", data.units)
    torch.manual_seed(seed + 1000)
    model = build_model(strategy, data.num_classes, size=size, context_len=data.context_len).to(device)
    config = checkpoint_config(strategy, model, data, strategy.sampling_defaults(), training={})
    start = time.perf_counter()
    summary = train(strategy, model, data, Budget(steps=steps, limit_minutes=limit_minutes), seed=seed + 1000,
                    out=cache / "model", config=config, progress=progress, desc="train reference AR")
    cost = {"seconds": round(time.perf_counter() - start, 2), "steps": summary["steps"]}
    test_ppl = perplexity(model, strategy, data.test_units.to(device), data.test_labels.to(device))
    write_json(record, {"test_ppl": test_ppl, "cost": cost})
    return model, strategy, test_ppl, {**cost, "cached": False}


@torch.no_grad()
def perplexity(model, strategy, units: torch.Tensor, cond: torch.Tensor) -> float:
    return perplexity_with_interval(model, strategy, units, cond)[0]


def perplexity_with_interval(model, strategy, units: torch.Tensor, cond: torch.Tensor) -> tuple[float, list[float]]:
    """(ppl_ref, its 95% bootstrap interval over the n texts): each resample pools its texts' nats and scored
    tokens, exp(sum nats / sum tokens), as the figure itself does (``eval/spread.py``)."""
    units = strategy.units.canonical(units.long())
    nats, _, per_row = strategy.total_nats(model, units, cond)
    row_nats = per_row.double().cpu().numpy()
    row_tokens = (units != strategy.ignored()).sum(1).double().cpu().numpy()
    interval = bootstrap_interval(lambda i: math.exp(row_nats[i].sum() / max(row_tokens[i].sum(), 1)), len(row_nats))
    return math.exp(nats), interval
