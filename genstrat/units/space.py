"""The contract every unit space meets: its geometry, its vocabulary, and the way to and from raw data.

A unit space says what the basic units of an object are (audiocraft's ``CompressionModel`` contract is the model:
a tokenizer that states its frame rate and cardinality instead of leaving callers to guess). Everything downstream
reads these attributes: patches read ``shape``, the modality registry reads ``modality``, strategies read
``variable_length`` / ``end_id`` and ``vocab_size``. Nothing branches on the concrete class.

Notation: L = ``seq_len`` units per object, V = ``vocab_size`` values per unit.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class UnitSpace(Protocol):
    modality: str            # the modality registry's key: how samples are judged, written and shown
    shape: tuple[int, ...]   # the object's layout: (C, H, W) for images, (T,) for a row of text or samples
    seq_len: int             # L: units per object, in raster order (channels innermost)
    vocab_size: int          # V: values a unit takes, 0 .. V - 1 (the backbone's MASK id is V)
    pad_id: int | None       # the id after END in a variable-length row; None when every object has all its units
    end_id: int | None       # the id that ends a variable-length row
    patchable: bool          # a bidirectional backbone may group neighbouring units into one slot (units/patches.py)

    @property
    def variable_length(self) -> bool: ...

    def encode(self, raw: Any) -> torch.Tensor: ...

    def decode(self, units: torch.Tensor) -> Any: ...

    def to_dict(self) -> dict: ...


def units_from_dict(d: dict) -> UnitSpace:
    """A unit space back from its ``to_dict``; dictionaries written before ``type`` existed are read by their keys."""
    from genstrat.units.audio import MuLawUnits
    from genstrat.units.pixels import PixelUnits
    from genstrat.units.text import TextUnits

    spaces = {"pixels": PixelUnits, "text": TextUnits, "mulaw": MuLawUnits}
    kind = d.get("type") or ("text" if "kind" in d else "pixels")
    if kind not in spaces:
        raise ValueError(f"unknown unit space '{kind}'")
    return spaces[kind].from_dict(d)
