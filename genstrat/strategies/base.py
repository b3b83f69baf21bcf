"""The one interface every strategy implements.

A strategy is a training loss and a sampler over the shared trunk, built bound to the unit space it generates in:

    strategy = SomeStrategy(units)
    loss(model, units, cond) -> scalar tensor
    optimizers(model, lr) -> {name: optimizer}; train_step(model, optimizers, units, cond, ctx) -> logged values
    generate(model, cond, steps, generator, on_version=None, options=None) -> Generation

``generate`` returns the final units and its count of *sequential* network evaluations (NFE; a guided pair of
conditional and unconditional rows is one batched evaluation). When ``on_version`` is given it receives
``(index, units)`` for every intermediate version, with not-yet-decided positions holding the backbone's MASK id
(the lecture's "first version, second version, ...").

Each strategy declares what the rest of the code reads from it instead of keeping lists by hand: its sampling
``options`` (the command line's flags), its ``defaults``, the ``sweep`` of rows the bench measures and the
``sweep_keys`` those rows vary (plot series, report columns), the ``modalities`` it can generate, what it needs of
the trunk (``backbone_options``) and the small parts it adds to it (``parts``: a length head, a posterior).

How a strategy trains is its own too: ``optimizers`` and ``train_step`` default to one AdamW and one loss
(``training_step.py``); a GAN overrides both (two optimizers, alternating updates) and nothing else changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
import torch.nn as nn

from genstrat.errors import GenstratError
from genstrat.strategies.training_step import StepContext, make_optimizer, one_loss_step

VersionCallback = Callable[[int, torch.Tensor], None]


@dataclass(frozen=True)
class Option:
    """One sampling option a strategy reads: the flag ``--name`` (underscores as dashes) on the command line."""

    name: str
    default: Any
    help: str
    type: Callable = float
    choices: tuple = ()
    switch: bool = False  # a flag without a value (store_true)


TEMPERATURE = Option("temperature", 1.0, "softmax temperature on unit logits (0 = each unit's most likely value)")
TOP_K = Option("top_k", None, "keep only the k most likely values (Fan et al. 2018)", int)
TOP_P = Option("top_p", None, "nucleus sampling: the smallest set holding p of the mass (Holtzman et al. 2020)")
GUIDANCE = Option("guidance", 1.0, "classifier-free guidance scale w (Ho & Salimans 2022, eq. 6); 1 = none")
DECODE = Option("decode", "auto", "how sequential steps run: eager, compiled (torch.compile at a fixed shape), or "
                                  "auto (compile once eager steps have cost a compile's time, keep it where faster)",
                str, ("auto", "eager", "compiled"))
TOKEN_OPTIONS = (TEMPERATURE, TOP_K, TOP_P, GUIDANCE)  # every strategy that draws discrete units reads these


def check_option_value(name: str, value: Any) -> None:
    """A one-line error for a sampling value no sampler can use (a flag, a ``tune --vary`` value): top-k below 1,
    top-p outside (0, 1], a negative temperature (``finest_temperature`` included)."""
    if value is None:
        return
    if name == "top_k" and value < 1:
        raise GenstratError(f"--top-k must be at least 1 (leave it out to keep every value), got {value}")
    if name == "top_p" and not 0 < value <= 1:
        raise GenstratError(f"--top-p must be in (0, 1], got {value}")
    if name.endswith("temperature") and value < 0:
        raise GenstratError(f"--{name.replace('_', '-')} must be at least 0, got {value}")


class SamplingOptions(Mapping):
    """A strategy's sampling options by name (read as attributes: ``options.guidance``); immutable."""

    def __init__(self, values: Mapping[str, Any] | None = None, **more: Any):
        object.__setattr__(self, "_values", {**(values or {}), **more})

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("SamplingOptions are immutable; use merged()")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"SamplingOptions({self._values})"

    def merged(self, **overrides: Any) -> "SamplingOptions":
        """A copy with ``overrides`` applied; None means "keep"; a name this strategy does not read is an error."""
        unknown = sorted(k for k, v in overrides.items() if v is not None and k not in self._values)
        if unknown:
            raise GenstratError(f"option {', '.join(unknown)} does not apply here; this strategy reads: "
                                f"{', '.join(self._values)}")
        return SamplingOptions({**self._values, **{k: v for k, v in overrides.items() if v is not None}})

    def known(self, overrides: Mapping[str, Any]) -> dict:
        """The overrides among ``overrides`` that this strategy reads (a bench passes one set to every strategy)."""
        return {k: v for k, v in overrides.items() if k in self._values and v is not None}

    def to_dict(self) -> dict:
        return dict(self._values)


@dataclass(frozen=True)
class SweepPoint:
    """One bench row of a strategy: its step count, the option overrides it is sampled with, and its series label
    (the line it belongs to in plots and tables)."""

    steps: int
    overrides: dict
    series: str


@dataclass
class Generation:
    units: torch.Tensor  # (B, L) long
    nfe: int             # sequential network evaluations


# The lecture's order (docs/../seed/SYNOPSIS.md): where each strategy's rows appear in a report, and the heading
LECTURE_PARTS = {
    "reference": "References: real data, independent units, the auto-encoder's reconstructions",
    "autoregressive": "Autoregressive: one unit at a time",
    "one-shot": "One-shot NAR: all at once, and the multi-modality problem",
    "latent": "Fix 1: a random latent vector",
    "two-stage": "Fix 2: two stages (compress, generate the codes, decode)",
    "iterative": "Fix 3: iterative NAR (mask-and-repredict, diffusion, coarse-to-fine)",
    "other": "Other rows",
}


class Strategy:
    """Base class: subclasses set ``name``, ``causal`` and implement ``loss`` / ``generate``."""

    name: str = ""
    causal: bool = False
    lecture_part: str = "other"  # a key of LECTURE_PARTS: where the report shows its rows
    modalities: tuple[str, ...] = ("image", "text", "audio")  # the modalities (unit spaces) it can generate in
    options: tuple[Option, ...] = TOKEN_OPTIONS
    defaults: dict = {"guidance": 1.5}
    # Per modality, defaults over ``defaults``. On text, sample the model's own distribution: classifier-free
    # guidance sharpens each position toward the condition's likeliest answer (Ho & Salimans 2022 sec. 4 trade
    # diversity for fidelity), which on the probe shows up as wrong answer frequencies.
    modality_defaults: dict = {"text": {"guidance": 1.0}}
    # The value an option had in effect before it existed: a checkpoint whose saved sampling lacks it samples as it
    # did when it was saved (``training/model_io.saved_options``), not at a default chosen later.
    earlier_defaults: dict = {}
    sweep_keys: tuple[str, ...] = ()  # the option names its sweep varies besides the step count
    continuous: bool = False          # generates real values (diffusion): a two-stage prior over continuous latents
    code_prior: bool = True           # can be the prior of ``two-stage:<name>`` (coarse-to-fine shrinks pixels: no)
    stage_one: str | None = None      # the stage-one kind it needs as a prior (else fsq, or continuous if continuous)
    standalone: bool = True           # generates a data space by itself (next-scale: only a multi-scale stage one's)
    through_ddp: bool = True          # under torchrun its loss calls the model through DDP (else: ``training_step``)
    count_steps: int = 1              # steps its counted FLOPs average over (a GAN's lazy penalty: its interval)

    def __init__(self, units):
        self.units = units

    @property
    def model_units(self):
        """The unit space the backbone works in: the data's own (two-stage: the auto-encoder's codes)."""
        return self.units

    def training_data(self, data):
        """The dataset the training loop draws batches from (two-stage: the codes of every image)."""
        return data

    def sampling_defaults(self) -> SamplingOptions:
        """Every option this strategy reads, at its default for the bound unit space's modality."""
        values = {o.name: o.default for o in self.options}
        values.update({k: v for k, v in self.defaults.items() if k in values})
        values.update(self.modality_defaults.get(self.units.modality, {}))
        return SamplingOptions(values)

    def backbone_options(self) -> dict:
        """What this strategy needs of the trunk beyond the unit space (a longer sequence, a latent input, patches)."""
        return {}

    def parts(self, cfg) -> dict[str, nn.Module]:
        """Small modules this strategy adds to the trunk (trained and saved with it), by attribute name."""
        return {}

    def restore(self, config: dict) -> None:
        """Read what a checkpoint's config says of this strategy beyond its trunk (a distilled student: the step
        count it was distilled for); called when a checkpoint loads. Most strategies read nothing."""

    def steps_for(self, requested: int | None) -> int:
        """The number of passes this strategy will make (AR: fixed L; one-shot: fixed 1)."""
        return requested if requested is not None else 1

    def sweep(self, steps: list[int]) -> list[SweepPoint]:
        """The rows the bench measures for a requested list of step counts."""
        return [SweepPoint(k, {}, self.name) for k in sorted({self.steps_for(s) for s in steps})]

    def loss(self, model, units: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def optimizers(self, model, lr: float, fused: bool = False) -> dict[str, torch.optim.Optimizer]:
        """The optimizers training steps with, by name, each over its own parameters (one AdamW over every weight;
        a GAN: the generator's and the discriminator's). A param group's ``lr_scale`` scales the schedule's rate."""
        return {"model": make_optimizer(model, lr, fused)}

    def train_step(self, model, optimizers: dict, units: torch.Tensor, cond: torch.Tensor,
                   ctx: StepContext) -> dict[str, torch.Tensor]:
        """One update from one batch; returns the values to log, ``loss`` first (checked finite, shown, saved).
        The default: ``loss``, backward, clip, step (``training_step.py``)."""
        return one_loss_step(self, optimizers["model"], units, cond, ctx)

    def generate(self, model, cond: torch.Tensor, steps: int | None, generator: torch.Generator,
                 on_version: VersionCallback | None = None, options: SamplingOptions | None = None) -> Generation:
        raise NotImplementedError
