"""Strategies: one file each, one interface (see ``base.py``). Register new ones here."""

from __future__ import annotations

from genstrat.errors import GenstratError
from genstrat.strategies.ar import AutoRegressive
from genstrat.strategies.base import Generation, SamplingOptions, Strategy
from genstrat.strategies.coarse_to_fine import CoarseToFine
from genstrat.strategies.diffusion import Diffusion
from genstrat.strategies.latent import LatentNAR
from genstrat.strategies.mask_predict import MaskPredict
from genstrat.strategies.nar import EndCutNAR, OneShot
from genstrat.strategies.nar_length import LengthFirstNAR
from genstrat.strategies.two_stage import PREFIX as TWO_STAGE, TwoStage

STRATEGIES = {cls.name: cls for cls in (AutoRegressive, OneShot, EndCutNAR, LengthFirstNAR, MaskPredict, LatentNAR, CoarseToFine, Diffusion)}


def get_strategy(name: str) -> Strategy:
    """A fresh strategy by name; ``two-stage:<prior>`` wraps the prior named after the colon."""
    if name.startswith(TWO_STAGE):
        return TwoStage(get_strategy(name[len(TWO_STAGE):]))
    if name not in STRATEGIES:
        raise GenstratError(f"unknown strategy '{name}'; choose one of: {', '.join(STRATEGIES)}, or {TWO_STAGE}<one of them>")
    return STRATEGIES[name]()


__all__ = ["STRATEGIES", "TwoStage", "get_strategy", "Strategy", "SamplingOptions", "Generation"]
