"""The bench's row store: every measured row on disk the moment it is measured, and the rules of resuming.

Layout of a bench folder: ``bench.json`` (settings and the command), ``rows/<strategy>.json`` (a strategy finished:
its rows and its version strip), ``rows/<strategy>/<row>.json`` (one measured row),
``rows/references.json`` (the reference rows), ``checkpoints/``,
``autoencoders/``, ``samples/``, ``versions/``, then ``results.json``, ``meta.json`` and ``report.md``.
Without ``resume`` a run starts afresh and deletes what an earlier run left; with it, the settings must match, but for
the step counts (``MEASUREMENT_ONLY``): a resume with other ``--steps`` keeps every trained model and measured row and
measures the new step counts only (rows of step counts no longer asked for stay on disk, out of the results).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from genstrat.training.checkpoint import read_json, write_json
from genstrat.errors import GenstratError
from genstrat.eval.row import BenchRow

SETTINGS_FILE = "bench.json"
REFERENCES = "references"  # the real and independent rows, kept like a finished strategy's (no strategy has this name)
FORMAT = 2  # bench.json's layout; folders from before it (no "format") read and report, but cannot resume
MEASUREMENT_ONLY = ("steps",)  # settings a resume may change: they choose which rows are measured, not how models train


def file_name(strategy_name: str) -> str:
    """A strategy's name as a file or folder name ("two-stage:ar" -> "two-stage-ar": a colon reads as a URL scheme)."""
    return strategy_name.replace(":", "-")


def set_only(value):
    """A setting without its unset (None) entries: a sampling option added by a later genstrat, left unset, does not
    make an older folder's settings differ."""
    return {k: v for k, v in value.items() if v is not None} if isinstance(value, dict) else value


class RowStore:
    def __init__(self, out: Path, settings: dict, resume: bool, command: str = ""):
        self.out, self.resume = Path(out), resume
        self.resumed = self.open(settings, command)

    def open(self, settings: dict, command: str) -> int:
        """Record this bench's settings; when resuming, refuse a folder measured under other settings.
        Returns how many times this bench has been resumed (0 for a fresh run, which also drops any kept rows)."""
        path = self.out / SETTINGS_FILE
        if not self.resume:  # nothing of an earlier run may be mistaken for this one's by a later resume
            for stale in ("rows", "checkpoints", "autoencoders"):
                shutil.rmtree(self.out / stale, ignore_errors=True)
            write_json(path, {"format": FORMAT, "settings": settings, "resumed": 0, "command": command})
            return 0
        if not path.is_file():
            raise GenstratError(
                f"cannot resume: {self.out} holds no bench ({SETTINGS_FILE}); run without --resume first"
            )
        saved = read_json(path, "bench settings")
        if saved.get("format") != FORMAT:
            raise GenstratError(
                f"cannot resume {self.out}: it was written by an earlier genstrat; its results still read "
                f"(genstrat report {self.out}), but a resumed run needs a new --out"
            )
        before = saved.get("settings", {})
        changed = sorted(k for k in set(settings) | set(before) if set_only(settings.get(k)) != set_only(before.get(k)))
        refused = [k for k in changed if k not in MEASUREMENT_ONLY]
        if refused:
            raise GenstratError(
                f"cannot resume {self.out}: it was measured with other settings ({', '.join(refused)}); "
                f"repeat its command ({saved.get('command') or path}) or give a new --out"
            )
        if changed:  # other step counts: every strategy is planned again; its measured rows stay, the new ones come
            for marker in (self.out / "rows").glob("*.json"):
                if marker.stem != REFERENCES:
                    marker.unlink()
        resumed = int(saved.get("resumed", 0)) + 1
        write_json(path, {**saved, "settings": settings, "resumed": resumed,
                          "command": command if changed else saved.get("command", command)})
        return resumed

    def finished(self, strategy: str) -> dict | None:
        """A strategy's kept rows and version strip, when resuming and it had finished."""
        path = self.out / "rows" / f"{file_name(strategy)}.json"
        return read_json(path, "finished bench rows") if self.resume and path.is_file() else None

    def rows_of(self, strategy: str) -> list[BenchRow] | None:
        """A strategy's finished rows in this folder, measured in this run or kept from an earlier one."""
        path = self.out / "rows" / f"{file_name(strategy)}.json"
        return read_json(path, "finished bench rows")["rows"] if path.is_file() else None

    def finish(self, strategy: str, rows: list[BenchRow], versions: str) -> None:
        write_json(self.out / "rows" / f"{file_name(strategy)}.json", {"rows": rows, "versions": versions})

    def row_path(self, strategy: str, row_name: str) -> Path:
        return self.out / "rows" / file_name(strategy) / f"{row_name}.json"

    def kept_row(self, strategy: str, row_name: str) -> BenchRow | None:
        path = self.row_path(strategy, row_name)
        return read_json(path, "a measured bench row") if self.resume and path.is_file() else None

    def keep(self, strategy: str, row_name: str, row: BenchRow) -> None:
        write_json(self.row_path(strategy, row_name), row)
