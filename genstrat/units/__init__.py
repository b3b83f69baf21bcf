"""Unit spaces: what the basic units of an object are, and how raw data maps onto them (``space.py``)."""

from genstrat.units.audio import MuLawUnits
from genstrat.units.pixels import PixelUnits
from genstrat.units.space import UnitSpace, units_from_dict
from genstrat.units.text import TextUnits

__all__ = ["MuLawUnits", "PixelUnits", "TextUnits", "UnitSpace", "units_from_dict"]
