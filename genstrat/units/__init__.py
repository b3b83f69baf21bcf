"""Unit spaces: what the basic units of an object are, and how raw data maps onto them."""

from genstrat.units.pixels import PixelUnits
from genstrat.units.text import TextUnits, units_from_dict

__all__ = ["PixelUnits", "TextUnits", "units_from_dict"]
