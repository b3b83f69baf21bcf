"""Unit spaces: what the basic units of an object are, and how raw data maps onto them."""

from genstrat.units.pixels import PixelUnits

__all__ = ["PixelUnits"]
