"""Every stage one by the ``type`` its config names: the image auto-encoder, the audio codec, and VAR's multi-scale
quantizer over either (``multiscale.py``). Configs are saved as JSON with their ``type``; this table builds the
network a saved config describes."""

from __future__ import annotations

from genstrat.nn.base_stage_ones import BASES, build_from, config_from
from genstrat.nn.contracts import StageOne
from genstrat.nn.multiscale import MultiScale, MultiScaleConfig

STAGE_ONES = {**BASES, "multiscale": (MultiScaleConfig, MultiScale)}  # config "type" -> (config class, network class)


def build_stage_one(cfg) -> StageOne:
    """The stage-one network of a config."""
    return build_from(cfg, STAGE_ONES)


def stage_one_config(saved: dict):
    """A config from its JSON; files written before the codec existed have no ``type`` (an image auto-encoder)."""
    return config_from(saved, STAGE_ONES)
