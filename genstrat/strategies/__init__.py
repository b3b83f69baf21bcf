"""Strategies: one file each, one interface (``base.py``), one registry.

A new strategy is a file with a :class:`~genstrat.strategies.base.Strategy` subclass and one line:
``register_strategy(MyStrategy)``. The command line's choices and flags, the bench's sweeps, the plots' series and
the report's columns are all read from here.
"""

from __future__ import annotations

from genstrat.errors import GenstratError
from genstrat.strategies.ar import AutoRegressive
from genstrat.strategies.base import LECTURE_PARTS, Generation, Option, SamplingOptions, Strategy, SweepPoint
from genstrat.strategies.coarse_to_fine import CoarseToFine
from genstrat.strategies.diffusion import Diffusion
from genstrat.strategies.distilled import Distilled
from genstrat.strategies.flow import Flow
from genstrat.strategies.gan import GAN
from genstrat.strategies.latent import LatentNAR
from genstrat.strategies.mask_predict import MaskPredict
from genstrat.strategies.nar import EndCutNAR, OneShot
from genstrat.strategies.nar_length import LengthFirstNAR
from genstrat.strategies.next_scale import NextScale
from genstrat.strategies.spec import DISTILLED, TWO_STAGE, Spec, parse_spec
from genstrat.strategies.two_stage import TwoStage, quantizer_for

STRATEGIES: dict[str, type[Strategy]] = {}


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    """Make ``cls`` known by its ``name`` to every command, the bench and the report; returns it (a decorator too)."""
    if not cls.name or cls.name.startswith((TWO_STAGE, DISTILLED)):
        raise ValueError(f"a strategy needs a name that does not start with {TWO_STAGE!r} or {DISTILLED!r}, "
                         f"got {cls.name!r}")
    STRATEGIES[cls.name] = cls
    return cls


for _cls in (AutoRegressive, OneShot, EndCutNAR, LengthFirstNAR, MaskPredict, LatentNAR, GAN, Flow, CoarseToFine,
             Diffusion, NextScale):
    register_strategy(_cls)


def strategy_class(name: str) -> type[Strategy]:
    """The class behind a strategy name (a student's, a two-stage one's, or a registered one); unknown names fail in
    one line that lists the known ones."""
    spec = parse_spec(name)
    if spec.student:
        return Distilled
    if spec.two_stage:
        return TwoStage
    if name not in STRATEGIES:
        raise GenstratError(f"unknown strategy '{name}'; choose one of: {', '.join(STRATEGIES)}, "
                            f"or {TWO_STAGE}<one of them>, or {DISTILLED}<a diffusion strategy>")
    return STRATEGIES[name]


def prior_class(name: str) -> type[Strategy]:
    """The prior of ``two-stage:<prior>``, checked: a registered strategy that can run over codes."""
    prior = parse_spec(name).base
    cls = STRATEGIES.get(prior)
    if cls is None or not cls.code_prior or "image" not in cls.modalities:
        usable = [n for n, c in STRATEGIES.items() if c.code_prior and "image" in c.modalities]
        raise GenstratError(f"'{prior}' cannot be a two-stage prior; use one of: "
                            + ", ".join(TWO_STAGE + n for n in usable))
    return cls


def check_strategy(name: str, units) -> None:
    """Fail in one line, before any work, when ``name`` is unknown or cannot generate in ``units``' modality."""
    spec = parse_spec(name)
    cls, base = strategy_class(name), name
    if spec.student:  # a student can generate what its teacher can
        check_teacher(name)
        base = spec.teacher
        cls = strategy_class(base)
    if cls is TwoStage:
        prior_class(base)
    elif not cls.standalone:
        raise GenstratError(f"'{name}' generates the codes of a '{cls.stage_one}' stage one, not {units.modality} "
                            f"itself; run it as {TWO_STAGE}{name}")
    if units.modality not in cls.modalities:
        raise GenstratError(f"strategy '{name}' generates {' or '.join(cls.modalities)}, not {units.modality}; "
                            f"pick another strategy or dataset")


def lecture_part_of(row_strategy: str) -> str:
    """The lecture part (a key of ``LECTURE_PARTS``) a results row belongs to, by its strategy name."""
    if row_strategy in ("real", "independent") or row_strategy.startswith("reconstruction:"):
        return "reference"
    try:
        return strategy_class(row_strategy).lecture_part
    except GenstratError:  # a row of a strategy this install does not know (a peer, a user's own)
        return "other"


def check_teacher(name: str) -> None:
    """``distilled:<teacher>`` names a diffusion teacher (``diffusion`` or ``two-stage:diffusion``); else one line."""
    teacher = parse_spec(name).teacher
    if teacher not in ("diffusion", TWO_STAGE + "diffusion"):
        raise GenstratError(f"'{name}' names no diffusion teacher; distil diffusion or {TWO_STAGE}diffusion "
                            f"(distilled:diffusion, distilled:{TWO_STAGE}diffusion)")


def stage_one_kind(name: str) -> str | None:
    """The stage one a strategy needs ('fsq', 'continuous' or 'multiscale': its prior's ``stage_one``), or None for a
    one-stage strategy; a student needs what its teacher needs."""
    spec = parse_spec(name)
    return quantizer_for(prior_class(spec.base)) if spec.two_stage else None


def get_strategy(name: str, units, autoencoder=None, encoded=None) -> Strategy:
    """A strategy built bound to ``units``; ``two-stage:<prior>`` also needs its trained ``autoencoder``."""
    check_strategy(name, units)
    spec = parse_spec(name)
    if spec.student:
        return Distilled(get_strategy(spec.teacher, units, autoencoder, encoded))
    if spec.two_stage:
        return TwoStage(prior_class(name), units, autoencoder, encoded)
    return STRATEGIES[name](units)


def all_options() -> dict[str, Option]:
    """Every sampling option any registered strategy reads, by name (the command line's flags)."""
    return {o.name: o for cls in STRATEGIES.values() for o in cls.options}


def all_sweep_keys() -> list[str]:
    """Every option name a registered strategy's sweep varies (the report's extra columns)."""
    return list(dict.fromkeys(k for cls in STRATEGIES.values() for k in cls.sweep_keys))


__all__ = ["STRATEGIES", "TwoStage", "Distilled", "get_strategy", "register_strategy", "check_strategy",
           "stage_one_kind", "Spec", "parse_spec",
           "strategy_class", "all_options", "all_sweep_keys", "Strategy", "SamplingOptions", "SweepPoint", "Option",
           "Generation", "LECTURE_PARTS", "lecture_part_of"]
