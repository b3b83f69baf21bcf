"""Data options, each declared once, by the loaders that read them.

A loader says which options it reads with ``@reads(...)``; each option (``DataOption``) carries its name, type, range
and help. Everything else is generated from those declarations: the command line's flags (``genstrat.cli``, with
the datasets that read each flag in its help), the options a bench or checkpoint passes on, and the checks of a
value before any work. Adding an option to a loader is one declaration there:

    SPEED = DataOption("speed", float, "mydata: playback speed", low=0.5, high=2.0)

    @reads(DATA_DIR, SPEED)
    def load(data_dir=None, speed=None): ...

Options a dataset does not read are refused in one line, as are values out of range. The options several loaders
share are declared here (``DATA_DIR``, ``LEVELS``); the others sit beside the one loader, or the one kind of data,
that reads them (``imagefolder.IMAGE_SIZE``, ``audio_clips.SAMPLE_RATE``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from genstrat.errors import GenstratError


@dataclass(frozen=True)
class DataOption:
    name: str                      # the loader's keyword; the flag is --name with dashes
    type: type                     # int, float or str
    help: str
    low: float | None = None       # inclusive bounds, checked before any loading
    high: float | None = None
    choices: tuple = ()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value):
        """The value converted to the option's type, or one line saying what is wrong."""
        try:
            value = self.type(value)
        except (TypeError, ValueError):
            raise GenstratError(f"{self.flag} expects a {self.type.__name__}, got {value!r}") from None
        if self.choices and value not in self.choices:
            raise GenstratError(f"{self.flag} must be one of {', '.join(map(str, self.choices))}, got {value}")
        if (self.low is not None and not value >= self.low) or (self.high is not None and not value <= self.high):
            raise GenstratError(f"{self.flag} must be between {self.low:g} and {self.high:g}, got {value}")
        return value


DATA_DIR = DataOption("data_dir", str, "folder with the dataset's files (else $GENSTRAT_DATA, then the cache)")
LEVELS = DataOption("levels", int, "quantise pixels to this many levels", low=2, high=256)


def reads(*options: DataOption):
    """Declare the options a loader reads (its keyword arguments of the same names)."""
    def mark(loader):
        loader.reads = options
        return loader
    return mark


def options_of(loader) -> tuple[DataOption, ...]:
    return getattr(loader, "reads", ())


def checked(dataset: str, loader, options: dict) -> dict:
    """The options given (not None) for ``dataset``, each read by its loader and in range; else one line."""
    declared = {o.name: o for o in options_of(loader)}
    given = {k: v for k, v in options.items() if v is not None}
    unread = [k for k in given if k not in declared]
    if unread:
        flags = ", ".join("--" + k.replace("_", "-") for k in unread)
        takes = ", ".join(o.flag for o in declared.values()) or "no options"
        raise GenstratError(f"{dataset} does not read {flags} (it takes {takes}); drop it or choose another dataset")
    return {k: declared[k].check(v) for k, v in given.items()}


__all__ = ["DataOption", "DATA_DIR", "LEVELS", "reads", "options_of", "checked"]
