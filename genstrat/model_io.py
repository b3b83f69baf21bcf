"""Build the trunk a strategy asks for, and load a trained one back from a checkpoint folder."""

from __future__ import annotations

from pathlib import Path

from genstrat.checkpoint import load_weights, read_config
from genstrat.errors import GenstratError
from genstrat.nn import Backbone, BackboneConfig
from genstrat.nn.wavenet import WaveNet
from genstrat.strategies import SamplingOptions, Strategy, get_strategy, stage_one_kind
from genstrat.units import units_from_dict

SIZES = {  # backbone sizes by name: (d_model, n_layers, n_heads)
    "tiny": (32, 1, 2),
    "small": (128, 4, 4),
    "base": (256, 6, 8),
}
LEGACY_KEYS = {"image": "layout"}  # backbone config keys renamed since (old name -> new name)
DROPPED_KEYS = ("posterior", "length_classes")  # parts that strategies now add themselves (Strategy.parts)


def assemble(strategy: Strategy, cfg: BackboneConfig) -> Backbone:
    """The trunk of ``cfg`` (the Transformer, or a WaveNet where the config says so) with the parts ``strategy``
    adds to it (a length head, a posterior)."""
    model = WaveNet(cfg) if cfg.network == "wavenet" else Backbone(cfg)
    for name, part in strategy.parts(cfg).items():
        model.add_module(name, part)
    return model


def build_model(
    strategy: Strategy, num_classes: int, size: str = "small", dropout: float = 0.0, context_len: int = 0
) -> Backbone:
    """A fresh backbone for ``strategy`` over its unit space; ``context_len`` > 0 when the condition is a window
    of preceding text rather than a class label."""
    if size not in SIZES:
        raise GenstratError(f"unknown model size '{size}'; choose one of: {', '.join(SIZES)}")
    d, layers, heads = SIZES[size]
    space = strategy.model_units  # two-stage: the backbone works over the auto-encoder's codes
    options = {"seq_len": space.seq_len, "context_len": context_len, **strategy.backbone_options()}
    cfg = BackboneConfig(
        vocab_size=space.vocab_size,
        num_classes=num_classes,
        d_model=d,
        n_layers=layers,
        n_heads=heads,
        dropout=dropout,
        causal=strategy.causal,
        **options,
    )
    return assemble(strategy, cfg)


def checkpoint_config(strategy: Strategy, model: Backbone, data, options: SamplingOptions, training: dict) -> dict:
    return {
        "strategy": strategy.name,
        "backbone": model.cfg.to_dict(),
        "data": data.spec,
        "units": data.units.to_dict(),
        "class_names": data.class_names,
        "sampling": options.to_dict(),
        "training": training,
    }


def backbone_config(saved: dict) -> BackboneConfig:
    """A backbone config from a checkpoint's JSON, including those written before keys were renamed or dropped."""
    values = {LEGACY_KEYS.get(k, k): v for k, v in saved.items() if k not in DROPPED_KEYS}
    return BackboneConfig(**values)


def load_model(folder: str | Path) -> tuple[Backbone, Strategy, dict]:
    """(model in eval mode, its strategy, its config) from a checkpoint folder; clear errors otherwise."""
    folder = Path(folder)
    config = read_config(folder)
    try:
        units = units_from_dict(config["units"])
    except (TypeError, ValueError, KeyError) as e:
        raise GenstratError(
            f"checkpoint config in {folder} has malformed units ({e}); the file is corrupt or from another version"
        ) from None
    autoencoder = None
    if stage_one_kind(config["strategy"]):  # a two-stage checkpoint carries its auto-encoder
        from genstrat.autoencoding import load_autoencoder

        autoencoder = load_autoencoder(folder / "autoencoder")
    strategy = get_strategy(config["strategy"], units, autoencoder)
    strategy.restore(config)
    try:
        cfg = backbone_config(config["backbone"])
        model = assemble(strategy, cfg)
    except (TypeError, ValueError, KeyError) as e:
        raise GenstratError(
            f"checkpoint config in {folder} is malformed ({e}); the file is corrupt or from another version"
        ) from None
    if cfg.causal != strategy.causal:
        raise GenstratError(
            f"checkpoint {folder}: strategy '{strategy.name}' needs causal={strategy.causal} "
            f"but the config says {cfg.causal}"
        )
    load_weights(folder, model)
    model.eval()
    return model, strategy, config


def saved_options(strategy: Strategy, config: dict) -> SamplingOptions:
    """The sampling options a checkpoint was saved with, read as the strategy's own (older checkpoints saved every
    strategy's options; the ones this strategy does not read are dropped)."""
    defaults = strategy.sampling_defaults()
    return defaults.merged(**defaults.known(config.get("sampling", {})))
