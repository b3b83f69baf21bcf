"""Train, save and load stage one of two-stage generation: the image auto-encoder or the audio codec.

Training goes through the same loop as every strategy (``training.py``: cosine schedule, atomic
checkpoints, resume, NaN guard), with a reconstruction objective in place of a strategy's loss
and no label dropout (the auto-encoder ignores labels). A checkpoint is a folder with
``config.json`` (kind ``autoencoder``) and ``model.safetensors``; a two-stage checkpoint keeps a
copy of its auto-encoder in its ``autoencoder/`` sub-folder, so it is self-contained.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from genstrat.training.checkpoint import FORMAT, load_weights, read_json
from genstrat.errors import GenstratError
from genstrat.nn.autoencoder import Autoencoder, AutoencoderConfig
from genstrat.nn.stage_ones import build_stage_one, stage_one_config
from genstrat.strategies.base import Strategy
from genstrat.training.loop import Budget, train
from genstrat.units.space import units_from_dict

FILES = ("config.json", "model.safetensors")

class Reconstruction(Strategy):
    """The auto-encoder's training objective, as a one-loss strategy (the training loop's shape)."""

    name = "autoencoder"

    def training_data(self, data):
        return data

    def loss(self, model, units, cond):
        return model.loss(self.units.decode(units))


def fit_autoencoder(data, cfg: AutoencoderConfig, budget: Budget, out: Path, *, batch_size: int = 128,
                    lr: float = 2e-3, seed: int = 0, resume: bool = False, progress: bool = True,
                    device=None, base=None) -> tuple[Autoencoder, dict]:
    """Train an auto-encoder on ``data``'s training images; checkpoints go to ``out``. Returns (model in eval mode,
    summary). ``base``: the trained stage one a multi-scale quantizer goes over (frozen; its weights are copied in)."""
    torch.manual_seed(seed)
    model = build_stage_one(cfg)
    if base is not None:
        model.base.load_state_dict(base.state_dict())
    model = model.to(device or "cpu")
    lr = getattr(cfg, "lr", lr)  # the codec carries its own learning rate
    config = {"kind": "autoencoder", "autoencoder": cfg.to_dict(), "data": data.spec, "units": data.units.to_dict()}
    summary = train(Reconstruction(data.units), model, data, budget, batch_size=batch_size, lr=lr, cond_drop=0.0,
                    seed=seed, out=out, config=config, resume=resume, progress=progress,
                    desc=f"train autoencoder ({cfg.quantizer})", precision="fp32")
    return model.eval(), summary


def load_autoencoder(folder: str | Path) -> Autoencoder:
    folder = Path(folder)
    if not folder.is_dir():
        raise GenstratError(f"auto-encoder {folder} does not exist; give the folder that "
                            f"`genstrat train-autoencoder --out` wrote")
    config = read_json(folder / "config.json", "auto-encoder config")
    if config.get("format") != FORMAT or config.get("kind") != "autoencoder" or "autoencoder" not in config:
        raise GenstratError(f"{folder / 'config.json'} is not a genstrat auto-encoder config; "
                            f"give a `genstrat train-autoencoder` folder")
    try:
        model = build_stage_one(stage_one_config(config["autoencoder"]))
    except (TypeError, ValueError, KeyError) as e:
        raise GenstratError(f"auto-encoder config in {folder} is malformed ({e}); the file is corrupt "
                            f"or from another version") from None
    load_weights(folder, model)
    return model.eval()


def check_units(folder: str | Path, data) -> None:
    """A stage one's folder was made for units like ``data``'s (else one line: train one on this data)."""
    saved = read_json(Path(folder) / "config.json", "auto-encoder config")
    if "units" not in saved or units_from_dict(saved["units"]).to_dict() != data.units.to_dict():
        raise GenstratError(f"the auto-encoder in {folder} was trained on other units ({saved.get('units')}) than "
                            f"{data.name}'s ({data.units.to_dict()}); train one on this data (genstrat "
                            f"train-autoencoder --data {data.name})")


def load_base(folder: str | Path, data):
    """The trained fsq stage one a multi-scale quantizer goes over (``--base``), checked against ``data``."""
    model = load_autoencoder(folder)
    check_units(folder, data)
    if model.cfg.quantizer != "fsq":
        raise GenstratError(f"--base {folder} has '{model.cfg.quantizer}' latents; a multi-scale quantizer goes over "
                            f"fsq codes (genstrat train-autoencoder --quantizer fsq)")
    return model


def copy_autoencoder(source: Path, checkpoint: Path) -> None:
    """Put the auto-encoder's files into ``checkpoint/autoencoder`` (a two-stage checkpoint carries its decoder)."""
    target = Path(checkpoint) / "autoencoder"
    target.mkdir(parents=True, exist_ok=True)
    if Path(source).resolve() != target.resolve():
        for name in FILES:
            shutil.copyfile(Path(source) / name, target / name)
