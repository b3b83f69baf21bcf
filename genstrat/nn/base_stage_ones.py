"""The single-scale stage ones by the ``type`` their config names: the image auto-encoder and the audio codec, the
stage ones VAR's multi-scale quantizer (``multiscale.py``) can stand on. ``stage_ones.py`` adds the multi-scale one
to this table; kept apart so that ``multiscale.py`` builds its base without importing the table that holds it."""

from __future__ import annotations

from genstrat.nn.autoencoder import Autoencoder, AutoencoderConfig
from genstrat.nn.codec import Codec, CodecConfig
from genstrat.nn.contracts import StageOne

BASES = {"autoencoder": (AutoencoderConfig, Autoencoder), "codec": (CodecConfig, Codec)}  # type -> (config, network)


def config_from(saved: dict, table: dict = BASES):
    """A config from its JSON, by its ``type`` in ``table``; files written before the codec existed have no
    ``type`` (an image auto-encoder)."""
    kind = saved.get("type", "autoencoder")
    if kind not in table:
        raise ValueError(f"unknown stage-one type '{kind}'")
    values = {k: v for k, v in saved.items() if k != "type" or kind != "autoencoder"}  # its config has no field
    return table[kind][0].from_dict(values)


def build_from(cfg, table: dict = BASES) -> StageOne:
    """The stage-one network of a config, by its ``type`` in ``table``."""
    return table[getattr(cfg, "type", "autoencoder")][1](cfg)
