"""Modalities: images, text and audio, each registered once (``registry.py``) from a file of its own."""

from genstrat.modalities import audio, image, text  # noqa: F401  (each registers itself)
from genstrat.modalities.registry import MODALITIES, Modality, modality_named, modality_of, register_modality

__all__ = ["Modality", "MODALITIES", "register_modality", "modality_of", "modality_named"]
