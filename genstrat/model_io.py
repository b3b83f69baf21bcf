"""Build a backbone for a strategy and dataset, and load one back from a checkpoint."""

from __future__ import annotations

from pathlib import Path

from genstrat.checkpoint import load_weights, read_config
from genstrat.errors import GenstratError
from genstrat.nn import Backbone, BackboneConfig
from genstrat.strategies import SamplingOptions, Strategy, TwoStage, get_strategy
from genstrat.units import units_from_dict

SIZES = {  # backbone sizes by name: (d_model, n_layers, n_heads)
    "tiny": (32, 1, 2),
    "small": (128, 4, 4),
    "base": (256, 6, 8),
}


def build_model(strategy: Strategy, units, num_classes: int, size: str = "small", dropout: float = 0.0,
                context_len: int = 0) -> Backbone:
    """A backbone for ``strategy`` over a unit space (pixels or text); ``context_len`` > 0 when the
    condition is a window of preceding text rather than a class label."""
    if size not in SIZES:
        raise GenstratError(f"unknown model size '{size}'; choose one of: {', '.join(SIZES)}")
    kind = "text" if units.variable_length else "image"
    if kind not in strategy.modalities:
        raise GenstratError(f"strategy '{strategy.name}' generates {' or '.join(strategy.modalities)}, not {kind}; "
                            f"pick another strategy or dataset")
    d, layers, heads = SIZES[size]
    space = strategy.bind(units).model_units  # two-stage: the backbone works over the auto-encoder's codes
    options = {"seq_len": space.seq_len, "context_len": context_len, **strategy.backbone_options()}
    cfg = BackboneConfig(vocab_size=space.vocab_size, num_classes=num_classes, d_model=d, n_layers=layers, n_heads=heads,
                         dropout=dropout, causal=strategy.causal, **options)
    return Backbone(cfg)


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


def load_model(folder: str | Path) -> tuple[Backbone, Strategy, dict]:
    """(model in eval mode, its strategy, its config) from a checkpoint folder; clear errors otherwise."""
    config = read_config(Path(folder))
    strategy = get_strategy(config["strategy"])
    if isinstance(strategy, TwoStage):  # a two-stage checkpoint carries its auto-encoder
        from genstrat.autoencoding import load_autoencoder
        strategy.attach(load_autoencoder(Path(folder) / "autoencoder"))
    try:
        cfg = BackboneConfig(**config["backbone"])
        strategy.bind(units_from_dict(config["units"]))
        model = Backbone(cfg)
    except (TypeError, ValueError, KeyError) as e:
        raise GenstratError(f"checkpoint config in {folder} is malformed ({e}); the file is corrupt or from another version") from None
    if cfg.causal != strategy.causal:
        raise GenstratError(f"checkpoint {folder}: strategy '{strategy.name}' needs causal={strategy.causal} but the config says {cfg.causal}")
    load_weights(Path(folder), model)
    model.eval()
    return model, strategy, config
