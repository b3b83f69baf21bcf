"""genstrat: generation strategies trained on one backbone, fed by one data pipeline, scored by one judge.

The Python API (``api.py``; the command line is a thin shell over it): :func:`train`, :func:`load`,
:func:`sample`, :func:`train_autoencoder`, :func:`bench`, :func:`report`. Extend it with
``genstrat.strategies.register_strategy``, ``genstrat.data.register_dataset`` and
``genstrat.modalities.register_modality`` (docs/architecture.md).
"""

from genstrat.api import Generator, Samples, bench, load, report, sample, train, train_autoencoder
from genstrat.errors import GenstratError

__all__ = ["train", "load", "sample", "train_autoencoder", "bench", "report", "Generator", "Samples", "GenstratError"]
