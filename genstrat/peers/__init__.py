"""Peers: what genstrat's users compare it with, measured beside it in the same bench run (``bench --peers``).

Each peer is an optional library (``pip install -e '.[peers]'``). Its rows carry ``"peer": true`` and a strategy
name that says whose they are; a peer that cannot run here gives one row with its one-line ``reason`` instead of a
silent gap. Built: AR decoding speed against transformers' ``GPT2LMHeadModel.generate`` (``gpt2_decoding.py``), and
pixel diffusion against diffusers' ``UNet2DModel`` trained and sampled their way (``diffusers_unet.py``; in a bench
that has a ``diffusion`` row on images). k-diffusion's samplers and lucidrains' MaskGIT give reason rows: both import
torchvision when imported, and no torchvision build loads beside the CPU build of torch 2.13.0 here.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import torch

from genstrat.model_io import build_model, load_model
from genstrat.strategies import check_strategy, get_strategy

PEERS = {"transformers:gpt2": "transformers", "diffusers:unet2d": "diffusers"}  # peer -> the package it needs
# peers whose packages import torchvision at import time: each gets its reason row, with the import's own error if
# the package is there and fails, or the measured reason it is not in ``.[peers]``
TORCHVISION_PEERS = {"k-diffusion": ("k_diffusion", "diffusion"),
                     "muse-maskgit": ("muse_maskgit_pytorch", "two-stage:mask-predict")}
TORCHVISION_REASON = ("{package} imports torchvision, and no torchvision build loads beside torch 2.13.0's CPU build "
                      "(0.28.0 fails: 'operator torchvision::nms does not exist'); not installed")


def missing(package: str) -> str | None:
    if importlib.util.find_spec(package) is None:
        return f"{package} is not installed; pip install -e '.[peers]'"
    return None


def peer_rows(data, out: Path, config, evaluator=None, conditions=None, store=None, progress: bool = False
              ) -> list[dict]:
    """Every peer's rows for this bench's data: each a measured row, or a row saying why it could not run.
    ``evaluator``, ``conditions`` and ``store`` are the bench's own (the quality peers are judged and kept as its
    rows are); without them only the decoding-speed peer runs."""
    rows = decoding_peer_rows(data, out, config.size, config.seed, config.strategies)
    if evaluator is not None and "diffusion" in config.strategies:
        rows += diffusion_peer_rows(data, out, config, evaluator, conditions, store, progress)
    for peer, (package, compared_with) in TORCHVISION_PEERS.items():
        if compared_with in config.strategies:
            rows.append({"strategy": peer, "peer": True, "measure": f"beside {compared_with}",
                         "reason": torchvision_reason(package)})
    return rows


def torchvision_reason(package: str) -> str:
    if importlib.util.find_spec(package) is None:
        return TORCHVISION_REASON.format(package=package)
    try:
        importlib.import_module(package)
    except Exception as e:  # noqa: BLE001 - the import's own error, on one line
        return f"{package} is installed but does not import here: {str(e).splitlines()[0]}"
    return f"{package} imports here, but genstrat has no wrapper for it yet"


def diffusion_peer_rows(data, out, config, evaluator, conditions, store, progress) -> list[dict]:
    reason = missing(PEERS["diffusers:unet2d"])
    if reason is None and len(data.units.shape) != 3:
        reason = "diffusers' UNet2DModel generates (C, H, W) grids; this bench's units are not one"
    if reason is not None:
        return [{"strategy": "diffusers:unet2d", "peer": True, "measure": "beside diffusion", "reason": reason}]
    from genstrat.peers.diffusers_unet import unet_rows

    return unet_rows(data, evaluator, conditions, config, store, out, progress)


def decoding_peer_rows(data, out: Path, size: str, seed: int, strategies) -> list[dict]:
    """The decoding-speed rows (ours and GPT-2's), or the one-line reason they could not be measured."""
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
