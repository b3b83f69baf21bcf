"""The one interface every strategy implements.

A strategy is a training loss and a sampler over the shared backbone:

    loss(model, units, cond) -> scalar tensor
    generate(model, cond, steps, generator, on_version=None, options=None) -> Generation

``generate`` returns the final units and its count of *sequential* network evaluations
(NFE; a guided pair of conditional and unconditional rows is one batched evaluation). When
``on_version`` is given it receives ``(index, units)`` for every intermediate version, with
not-yet-decided positions holding the backbone's MASK id (the lecture's "first version,
second version, ...").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Callable, Optional

import torch

from genstrat.units.patches import patch_options

VersionCallback = Callable[[int, torch.Tensor], None]


@dataclass(frozen=True)
class SamplingOptions:
    temperature: float = 1.0     # softmax temperature on unit logits
    top_k: Optional[int] = None  # keep only the k most likely values (Fan et al. 2018)
    top_p: Optional[float] = None  # nucleus sampling (Holtzman et al. 2020)
    guidance: float = 1.0        # classifier-free guidance scale w; 1 = plain conditional
    noise: float = 0.0           # mask-predict: Gumbel noise scale on confidences (annealed to 0)
    revise: bool = False         # mask-predict: decided tokens may be re-masked (Mask-Predict) or not (MaskGIT)
    sampler: Optional[str] = None  # diffusion: ddpm, ddim, dpm-solver or dpm-solver-sde

    def merged(self, **overrides) -> "SamplingOptions":
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Generation:
    units: torch.Tensor  # (B, L) long
    nfe: int             # sequential network evaluations


class Strategy:
    """Base class: subclasses set ``name``, ``causal`` and implement ``loss`` / ``generate``."""

    name: str = ""
    causal: bool = False
    modalities: tuple[str, ...] = ("image", "text")  # the kinds of data it can generate
    # On text, sample the model's own distribution: classifier-free guidance sharpens each
    # position toward the condition's likeliest answer (Ho & Salimans 2022 sec. 4 trade
    # diversity for fidelity), which on the probe shows up as wrong answer frequencies.
    text_overrides: dict = {"guidance": 1.0}
    default_options = SamplingOptions()

    def bind(self, units) -> "Strategy":
        """Remember the unit space (shape, levels) this strategy generates in; returns self."""
        self.units = units
        return self

    @property
    def model_units(self):
        """The unit space the backbone works in: the data's own (two-stage: the auto-encoder's codes)."""
        return self.units

    def training_data(self, data):
        """The dataset the training loop draws batches from (two-stage: the codes of every image)."""
        return data

    @property
    def on_text(self) -> bool:
        """True when bound to a variable-length unit space (text: rows end with END, then PAD)."""
        return bool(getattr(getattr(self, "units", None), "variable_length", False))

    def sampling_defaults(self) -> SamplingOptions:
        """``default_options``, with ``text_overrides`` applied when bound to text."""
        return self.default_options.merged(**self.text_overrides) if self.on_text else self.default_options

    def backbone_options(self) -> dict:
        """What this strategy needs of the backbone beyond the unit space (a longer sequence, a latent input)."""
        return {}

    def patch_options(self) -> dict:
        """For a bidirectional strategy over discrete units: the backbone's patch settings for the bound image
        (``units/patches.py``; none on text, small images, or before binding)."""
        return patch_options(self.units) if hasattr(self, "units") else {}

    def steps_for(self, seq_len: int, requested: int | None) -> int:
        """The number of passes this strategy will make (AR: fixed L; one-shot: fixed 1)."""
        return requested if requested is not None else 1

    def sweep(self, seq_len: int, steps: list[int]) -> list[tuple[int, dict]]:
        """The (steps, option overrides) rows the bench measures for a requested list of step counts."""
        return [(k, {}) for k in sorted({self.steps_for(seq_len, s) for s in steps})]

    def loss(self, model, units: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def generate(self, model, cond: torch.Tensor, steps: int | None, generator: torch.Generator,
                 on_version: VersionCallback | None = None, options: SamplingOptions | None = None) -> Generation:
        raise NotImplementedError
