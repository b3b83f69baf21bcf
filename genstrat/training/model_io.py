"""Build the trunk a strategy asks for, and load a trained one back from a checkpoint folder."""

from __future__ import annotations

from pathlib import Path

from genstrat.training.checkpoint import load_weights, read_config
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
MAX_WEIGHTS = 2e9  # a checkpoint config asking for more is corrupt (or for another machine than any genstrat targets)
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
    sizes = ("vocab_size", "seq_len", "num_classes", "d_model", "n_layers", "n_heads", "latent_dim", "slot_values",
             "context_len", "patch")
    if any(not isinstance(values.get(k, 0), int) or values.get(k, 0) < 0 for k in sizes):
        raise ValueError("a size that is not a non-negative whole number")
    if any(values.get(k, 1) < 1 for k in ("vocab_size", "seq_len", "d_model", "n_layers", "n_heads")) \
            or values.get("d_model", 128) % values.get("n_heads", 4):
        raise ValueError("vocab_size, seq_len, d_model, n_layers and n_heads must be at least 1, d_model a multiple "
                         "of n_heads")
    d, layers = values.get("d_model", 128), values.get("n_layers", 4)
    weights = 12 * layers * d * d + (values["vocab_size"] + values["seq_len"] + values.get("context_len", 0)) * d
    if weights > MAX_WEIGHTS:  # checked before anything is allocated: a corrupt size must not exhaust memory
        raise ValueError(f"its sizes ask for about {weights:.2g} weights (at most {MAX_WEIGHTS:.0g} load here)")
    return BackboneConfig(**values)


SHIPPED_AUTOENCODER = "autoencoder_shipped"  # a shipped two-stage checkpoint's key: the shipped stage one it stands on


def load_model(folder: str | Path) -> tuple[Backbone, Strategy, dict]:
    """(model in eval mode, its strategy, its config) from a checkpoint folder; one line naming the folder when
    anything in it is missing, corrupt or not what the rest of it says."""
    folder = Path(folder)
    config = read_config(folder)
    try:
        return assemble_checkpoint(folder, config)
    except GenstratError as e:
        if str(folder) in str(e):
            raise
        raise GenstratError(f"checkpoint {folder}: {e}") from None


def assemble_checkpoint(folder: Path, config: dict) -> tuple[Backbone, Strategy, dict]:
    try:
        units = units_from_dict(config["units"])
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise GenstratError(
            f"checkpoint config in {folder} has malformed units ({e}); the file is corrupt or from another version"
        ) from None
    autoencoder = None
    if stage_one_kind(config["strategy"]):  # a two-stage checkpoint carries its auto-encoder ...
        from genstrat.training.autoencoding import load_autoencoder
        from genstrat.pretrained import stage_one_folder

        # ... or, shipped in the package, names the shipped stage one it was trained over (its hashes checked)
        shipped = config.get(SHIPPED_AUTOENCODER)
        autoencoder = load_autoencoder(stage_one_folder(shipped) if shipped and not (folder / "autoencoder").is_dir()
                                       else folder / "autoencoder")
    strategy = get_strategy(config["strategy"], units, autoencoder)
    try:
        strategy.restore(config)
        cfg = backbone_config(config["backbone"])
        model = assemble(strategy, cfg)
    except (TypeError, ValueError, KeyError, AttributeError, RuntimeError, ArithmeticError, IndexError) as e:
        raise GenstratError(
            f"checkpoint config in {folder} is malformed ({str(e)[:120]}); the file is corrupt or from another "
            f"version"
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
    strategy's options; the ones this strategy does not read are dropped). An option added after it was saved reads
    the value it had in effect then (``Strategy.earlier_defaults``)."""
    defaults = strategy.sampling_defaults()
    saved = config.get("sampling")
    saved = {**strategy.earlier_defaults, **saved} if saved else {}
    return defaults.merged(**defaults.known(saved))
