"""How a model trains, declared once: the options `train`, `bench`, `distill`, `train-autoencoder` and `throughput`
share, with their types, defaults, help and the commands each applies to.

The command line's training flags are generated from ``TrainingOptions`` (``genstrat.cli.add_training``) and the
values a command hands to the API are read back by the same declaration (``given``), so a new training option is one
field here. A field's ``metadata``: ``help``; ``commands``, where the flag exists; ``defaults``, a command whose
default differs (the throughput command times small batches; distillation and the stage ones pick their own
learning rate when none is given); ``choices``; ``switch`` for an on/off flag.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from genstrat.training.model_io import SIZES
from genstrat.training.precision import CHOICES as PRECISIONS

TRAINERS = ("train", "bench", "distill", "train-autoencoder", "throughput")


def option(default, help: str, commands=TRAINERS, **metadata):
    return field(default=default, metadata={"help": help, "commands": commands, **metadata})


@dataclass(frozen=True)
class TrainingOptions:
    size: str = option("small", "backbone size", ("train", "bench", "throughput"), choices=tuple(sorted(SIZES)))
    batch_size: int = option(128, "training batch size", defaults={"throughput": 32})
    lr: float = option(2e-3, "peak learning rate",
                       ("train", "bench", "distill", "train-autoencoder"),
                       defaults={"distill": None, "train-autoencoder": None},
                       default_help={"distill": "5e-4", "train-autoencoder": "the stage one's own: 2e-3 for images, "
                                     "1e-3 for the audio codec"})
    ema: float | None = option(None, "keep an exponential moving average of the weights (e.g. 0.999): it is what "
                               "samples", ("train", "bench", "distill"))
    precision: str = option("auto", "auto: bf16 autocast where it is measured faster and its loss agrees, else fp32 "
                            "(weights stay fp32)", ("train", "bench", "distill"), choices=PRECISIONS)
    save_every_minutes: float = option(5.0, "write the resumable training state every this many minutes", ("train",))
    save_every_steps: int | None = option(None, "also write it every this many steps", ("train", "distill"))
    deterministic: bool = option(False, "torch.use_deterministic_algorithms(True)", ("train",), switch=True)


def fields_for(command: str) -> list[dataclasses.Field]:
    """The training options a command takes, in declaration order."""
    return [f for f in dataclasses.fields(TrainingOptions) if command in f.metadata["commands"]]


def default_for(f: dataclasses.Field, command: str):
    return f.metadata.get("defaults", {}).get(command, f.default)


def given(args, command: str) -> dict:
    """The command's training options as parsed (an argparse namespace), by name."""
    return {f.name: getattr(args, f.name) for f in fields_for(command)}


__all__ = ["TrainingOptions", "fields_for", "default_for", "given", "TRAINERS"]
