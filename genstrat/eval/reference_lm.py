"""The judge of natural text: a separately trained AR reference model.

Generated text is scored by its perplexity under an AR model trained on the real training
split (held-out perplexity reported beside it), the text analogue of judging images with a
classifier: ppl_ref = exp(-(1/T) sum_t log p_ref(x_t | x_<t, c)) over every generated token and
END (PAD excluded). Lower means more like real text to the reference; text that repeats one
likely phrase also scores low, so read it with distinct-n. The reference is cached in the
bench folder keyed by data, size, steps and seed.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from genstrat.checkpoint import read_json, write_json
from genstrat.model_io import build_model, checkpoint_config, load_model
from genstrat.strategies import get_strategy
from genstrat.train import Budget, train


def fit_reference(data, steps: int, seed: int, size: str, cache: Path, progress: bool = True, device=None):
    """(reference model, its AR strategy, held-out perplexity)."""
    device = device or torch.device("cpu")
    key = {"data": data.spec, "steps": steps, "seed": seed, "size": size}
    if (cache / "reference.json").is_file() and read_json(cache / "reference.json", "reference config").get("key") == key:
        model, strategy, _ = load_model(cache / "model")
        return model.to(device), strategy, read_json(cache / "reference.json", "reference config")["test_ppl"]
    strategy = get_strategy("ar")
    torch.manual_seed(seed + 1000)
    model = build_model(strategy, data.units, data.num_classes, size=size, context_len=data.context_len).to(device)
    config = checkpoint_config(strategy, model, data, strategy.sampling_defaults(), training={})
    train(strategy, model, data, Budget(steps=steps), seed=seed + 1000, out=cache / "model", config=config, progress=progress,
          desc="train reference AR")
    test_ppl = perplexity(model, strategy, data.test_units.to(device), data.test_labels.to(device))
    write_json(cache / "reference.json", {"key": key, "test_ppl": test_ppl})
    return model, strategy, test_ppl


@torch.no_grad()
def perplexity(model, strategy, units: torch.Tensor, cond: torch.Tensor) -> float:
    units = strategy.units.canonical(units.long())
    nats, _, _ = strategy.total_nats(model, units, cond)
    return math.exp(nats)
