"""A bench that loads trained models instead of training them: ``bench --trained FOLDER`` (or a shipped name).

``FOLDER`` is an earlier bench's folder on the same data (or a slim copy of one shipped in the package: the demo's
weights, ``genstrat/pretrained/demo-*``). A strategy whose checkpoint is there (``checkpoints/<strategy>/``; a
student's rounds ``checkpoints/distilled-<teacher>/steps-N/``) is loaded; its rows say ``trained: "loaded"`` with the
updates and seconds it was trained for, read from its own config. A stage one found in ``autoencoders/<kind>/`` is
used like a given one (``--autoencoder``). A strategy with no checkpoint there is trained here as usual, and its rows
say ``trained: "here"``. Sampling, timing and judging always run in this bench.
"""

from __future__ import annotations

from pathlib import Path

from genstrat.benchmark.store import file_name
from genstrat.training.checkpoint import read_json
from genstrat.errors import GenstratError
from genstrat.pretrained import bench_folder

WEIGHTS = "model.safetensors"


class TrainedModels:
    def __init__(self, name_or_folder: str | Path):
        self.folder = bench_folder(name_or_folder)

    def checkpoint(self, strategy: str) -> Path | None:
        """The trained checkpoint of ``strategy`` here (a student's: its folder of rounds), or None."""
        folder = self.folder / "checkpoints" / file_name(strategy)
        found = (folder / WEIGHTS).is_file() or any(folder.glob(f"steps-*/{WEIGHTS}"))
        return folder if found else None

    def stage_ones(self) -> dict[str, Path]:
        """kind -> folder of each trained stage one here."""
        root = self.folder / "autoencoders"
        return {p.name: p for p in sorted(root.iterdir()) if (p / WEIGHTS).is_file()} if root.is_dir() else {}

    def check(self, data, strategies) -> None:
        """Before any work: every checkpoint that will be loaded was trained on this data (else one line)."""
        wanted = {k: v for k, v in data.spec.items() if k != "data_dir"}
        for name in strategies:
            folder = self.checkpoint(name)
            if folder is None:
                continue
            config = folder / "config.json" if (folder / "config.json").is_file() else next(
                folder.glob("steps-*/config.json"))
            saved = read_json(config, "checkpoint config").get("data", {})
            saved = {k: v for k, v in saved.items() if k != "data_dir"}
            if saved != wanted:
                raise GenstratError(f"the trained {name} in {self.folder} was trained on {saved.get('name')} "
                                    f"({saved}), and this bench reads {wanted}; give the same data options or drop "
                                    f"--trained")


def loaded_record(folder: Path) -> dict:
    """What a loaded checkpoint's rows say of its training (read from its config, as it was trained)."""
    training = read_json(folder / "config.json", "checkpoint config").get("training", {})
    record = {"trained": "loaded", "train_steps": training.get("steps"), "train_seconds": training.get("seconds"),
              "precision": training.get("precision"), "precision_reason": "as trained", "ema": training.get("ema"),
              "updates_per_s": training.get("updates_per_s"), "train_loss": training.get("loss")}
    if (folder / "autoencoder" / "config.json").is_file():  # a two-stage prior: its auto-encoder's training too
        stage_one = read_json(folder / "autoencoder" / "config.json", "auto-encoder config").get("training", {})
        record.update(ae_train_steps=stage_one.get("steps"), ae_seconds=stage_one.get("seconds"))
    return record


def loaded_rounds(folder: Path) -> list[dict]:
    """A loaded student's rounds, fewest steps last, as ``distillation.distill`` returns them."""
    rounds = []
    for round_folder in sorted(folder.glob("steps-*"), key=lambda p: -int(p.name.split("-")[1])):
        config = read_json(round_folder / "config.json", "student config")
        rounds.append({"student_steps": int(round_folder.name.split("-")[1]), "folder": str(round_folder),
                       "updates": config.get("training", {}).get("steps", 0),
                       "seconds": config.get("training", {}).get("seconds", 0.0),
                       "distill_seconds": config.get("distillation", {}).get("distill_seconds", 0.0),
                       "precision": config.get("training", {}).get("precision")})
    return rounds
