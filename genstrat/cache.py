"""The user's cache folder, and the fingerprints that key what is kept in it.

Judges and reference models are trained once per data and settings and kept outside any bench folder, under
``$GENSTRAT_CACHE`` (default ``~/.cache/genstrat``), keyed by a fingerprint of the data's contents (its units and
labels, not its path) and of the settings that shape them, so a second bench on the same data reuses them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("GENSTRAT_CACHE", Path.home() / ".cache" / "genstrat"))


def fingerprint(data, **settings) -> str:
    """16 hex digits of SHA-256 over the dataset's units and labels (both splits), its unit space and ``settings``."""
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            {"units": data.units.to_dict(), "classes": data.class_names, **settings}, sort_keys=True, default=str
        ).encode()
    )
    for tensor in (data.train_units, data.train_labels, data.test_units, data.test_labels):
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
