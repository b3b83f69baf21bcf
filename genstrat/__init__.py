"""genstrat: generation strategies trained on one backbone, fed by one data pipeline, scored by one judge.

The Python API (``api.py``; the command line is a thin shell over it, every subcommand one call): :func:`train`,
:func:`load`, :func:`sample`, :func:`train_autoencoder`, :func:`distill`, :func:`bench`, :func:`report`, :func:`tune`,
:func:`throughput`, :func:`decode_floor`; ``genstrat demo`` is a script over them (``demo.py``). Extend it with
``genstrat.strategies.register_strategy``, ``genstrat.data.register_dataset`` and
``genstrat.modalities.register_modality`` (docs/architecture.md).
"""

from genstrat.api import (Generator, Samples, bench, decode_floor, distill, load, report, sample, throughput, train,
                          train_autoencoder, tune)
from genstrat.errors import GenstratError

__all__ = ["train", "load", "sample", "train_autoencoder", "distill", "bench", "report", "tune", "throughput",
           "decode_floor", "Generator", "Samples", "GenstratError"]
