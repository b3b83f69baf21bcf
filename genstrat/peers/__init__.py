"""Peers: what genstrat's users compare it with, measured beside it in the same bench run (``bench --peers``).

Each peer is an optional library. Its rows carry ``"peer": true`` and a strategy name that says whose they are; a
peer that cannot run here gives one row with its one-line ``reason`` instead of a silent gap. Built:

- AR decoding speed against transformers' ``GPT2LMHeadModel.generate`` (``gpt2_decoding.py``);
- pixel diffusion against diffusers' ``UNet2DModel`` trained and sampled their way (``diffusers_unet.py``);
- k-diffusion's samplers over our trained diffusion model (``k_diffusion_samplers.py``);
- lucidrains' MaskGIT trained over our codes beside ``two-stage:mask-predict`` (``muse_maskgit.py``).

The first two install with ``pip install -e '.[peers]'``. The last two import torchvision when imported, and no
torchvision build loads beside the CPU build of torch 2.13.0 the project installs ('operator torchvision::nms does
not exist'); they run in a second environment with torch 2.14.1 and torchvision 0.29.1 (``make peers-env``:
``.venv-peers``, about 6 GB), where the whole bench runs, ours and theirs in one process.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import torch

from genstrat.benchmark.beside import register_peers
from genstrat.training.model_io import build_model, load_model
from genstrat.strategies import check_strategy, get_strategy

PEERS = {"transformers:gpt2": "transformers", "diffusers:unet2d": "diffusers"}  # peer -> the package it needs
# peers whose packages import torchvision: (package, the strategy of ours they stand beside)
VISION_PEERS = {"k-diffusion": ("k_diffusion", "diffusion"),
                "muse-maskgit": ("muse_maskgit_pytorch", "two-stage:mask-predict")}
PEER_NAMES = (*PEERS, *VISION_PEERS)
VISION_HINT = ("it imports torchvision, which no build loads beside torch 2.13.0's CPU build; make peers-env builds "
               ".venv-peers (torch 2.14.1, torchvision 0.29.1) where it runs")


def missing(package: str) -> str | None:
    if importlib.util.find_spec(package) is None:
        return f"{package} is not installed; pip install -e '.[peers]'"
    return None


def peer_rows(data, out: Path, config, evaluator=None, conditions=None, store=None, progress: bool = False
              ) -> list[dict]:
    """Every peer's rows for this bench's data: each a measured row, or a row saying why it could not run.
    ``evaluator``, ``conditions`` and ``store`` are the bench's own (the quality peers are judged and kept as its
    rows are); without them only the decoding-speed peer runs."""
    def wanted(peer: str) -> bool:
        return config.peers is True or peer in config.peers

    rows = decoding_peer_rows(data, out, config.size, config.seed, config.strategies) if wanted(
        "transformers:gpt2") else []
    if evaluator is not None and "diffusion" in config.strategies and wanted("diffusers:unet2d"):
        rows += diffusion_peer_rows(data, out, config, evaluator, conditions, store, progress)
    for peer, (package, compared_with) in VISION_PEERS.items():
        if compared_with in config.strategies and wanted(peer):
            reason = vision_reason(package)
            if reason is None and evaluator is None:
                reason = "measured only inside a bench (it needs the bench's judge and trained model)"
            if reason is not None:
                rows.append({"strategy": peer, "peer": True, "measure": f"beside {compared_with}", "reason": reason})
            elif peer == "k-diffusion":
                from genstrat.peers.k_diffusion_samplers import k_diffusion_rows

                rows += k_diffusion_rows(Path(out), evaluator, conditions, config, store, progress)
            else:
                from genstrat.peers.muse_maskgit import maskgit_rows

                rows += maskgit_rows(data, Path(out), evaluator, conditions, config, store, progress)
    return rows


def vision_reason(package: str) -> str | None:
    """None when ``package`` imports here; else one line: not installed, or the import's own first error line."""
    if importlib.util.find_spec(package) is None:
        return f"{package} is not installed: {VISION_HINT}"
    try:
        importlib.import_module(package)
    except Exception as e:  # noqa: BLE001 - the import's own error, on one line
        return f"{package} is installed but does not import here ({str(e).splitlines()[0]}): {VISION_HINT}"
    return None


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


register_peers(PEER_NAMES, peer_rows)
