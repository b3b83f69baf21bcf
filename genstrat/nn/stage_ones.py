"""Every stage one by the ``type`` its config names: the image auto-encoder, the audio codec, and VAR's multi-scale
quantizer over either (``multiscale.py``). Configs are saved as JSON with their ``type``; this table builds the
network a saved config describes."""

from __future__ import annotations

from genstrat.nn.autoencoder import Autoencoder, AutoencoderConfig
from genstrat.nn.codec import Codec, CodecConfig
from genstrat.nn.contracts import StageOne
from genstrat.nn.multiscale import MultiScale, MultiScaleConfig

STAGE_ONES = {"autoencoder": (AutoencoderConfig, Autoencoder), "codec": (CodecConfig, Codec),
              "multiscale": (MultiScaleConfig, MultiScale)}  # config "type" -> (config class, network class)


def build_stage_one(cfg) -> StageOne:
    """The stage-one network of a config."""
    return STAGE_ONES[getattr(cfg, "type", "autoencoder")][1](cfg)


def stage_one_config(saved: dict):
    """A config from its JSON; files written before the codec existed have no ``type`` (an image auto-encoder)."""
    kind = saved.get("type", "autoencoder")
    if kind not in STAGE_ONES:
        raise ValueError(f"unknown stage-one type '{kind}'")
    values = {k: v for k, v in saved.items() if k != "type" or kind != "autoencoder"}  # its config has no field
    return STAGE_ONES[kind][0].from_dict(values)
