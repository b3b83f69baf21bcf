"""Peers: what genstrat's users compare it with, measured beside it in the same bench run (``bench --peers``).

Each peer is an optional library (``pip install -e '.[peers]'``). Its rows carry ``"peer": true`` and a strategy
name that says whose they are; a peer that cannot run here gives one row with its one-line ``reason`` instead of a
silent gap. Built so far: AR decoding speed against transformers' ``GPT2LMHeadModel.generate``
(``gpt2_decoding.py``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from genstrat.model_io import build_model, load_model
from genstrat.strategies import check_strategy, get_strategy

PEERS = {"transformers:gpt2": "transformers"}  # peer -> the package it needs


def missing(package: str) -> str | None:
    if importlib.util.find_spec(package) is None:
        return f"{package} is not installed; pip install -e '.[peers]'"
    return None


def peer_rows(data, out: Path, size: str, seed: int, strategies) -> list[dict]:
    """Every peer's rows for this bench's data: each a measured row, or a row saying why it could not run."""
    reason = missing(PEERS["transformers:gpt2"])
    try:
        check_strategy("ar", data.units)
    except Exception as e:  # noqa: BLE001 - the strategy registry's one-line reason
        reason = reason or f"no AR over this data's units ({e})"
    if reason is None:
        from genstrat.peers.gpt2_decoding import decoding_rows

        ckpt = Path(out) / "checkpoints" / "ar"
        if "ar" in strategies and (ckpt / "model.safetensors").is_file():
            model, strategy, _ = load_model(ckpt)
            weights = "copied from this bench's trained ar"
        else:
            strategy = get_strategy("ar", data.units)
            torch.manual_seed(seed)
            model = build_model(strategy, data.num_classes, size=size, context_len=data.context_len)
            weights = "random (no ar trained in this bench; speed does not depend on the weights)"
        if model.cfg.network != "transformer" or model.cfg.context_len:
            reason = "GPT-2 is a Transformer over a label prompt; this AR is a WaveNet or reads a text context"
        else:
            return [{**r, "weights": weights} for r in decoding_rows(strategy, model, seed=seed)]
    return [{"strategy": "transformers:gpt2", "peer": True, "measure": "decoding speed", "reason": reason}]
