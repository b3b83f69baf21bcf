"""Stage one of two-stage rows, trained once per kind in a bench and shared by every row that needs it.

The auto-encoder of a kind (``fsq`` codes or ``continuous`` latents; the audio codec next) is trained on the bench's
data within its budget, the training set is encoded (timed with it), and its reconstructions of held-out objects are
judged like samples: the ``reconstruction:<kind>`` row, the floor of its two-stage rows. Its seconds count against
every two-stage row that uses it. With ``resume`` a finished auto-encoder is loaded, an interrupted one continues.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from genstrat.autoencoding import copy_autoencoder, fit_autoencoder, load_autoencoder
from genstrat.checkpoint import read_json, write_json
from genstrat.errors import GenstratError
from genstrat.modalities import modality_of
from genstrat.strategies import get_strategy
from genstrat.training import STATE_FILE, Budget

RECORD_FILE = "stage_one.json"  # an auto-encoder's time, steps and reconstruction row, once trained


class StageOneCache:
    def __init__(self, out: Path, data, evaluator, budget: Budget, resume: bool, **training):
        self.folder, self.data, self.evaluator = Path(out) / "autoencoders", data, evaluator
        self.budget, self.resume, self.training = budget, resume, training
        self.records: dict[str, dict] = {}
        self.models: dict[str, tuple] = {}

    def record(self, strategy_name: str, kind: str) -> dict:
        """The kind's record (seconds, steps, reconstruction row): read when a resumed bench kept it, else trained
        (for ``strategy_name``, a two-stage strategy that needs this kind)."""
        if kind not in self.records:
            path = self.folder / kind / RECORD_FILE
            if self.resume and path.is_file():
                self.records[kind] = read_json(path, "auto-encoder record of the bench")
            else:
                self.fit(strategy_name, kind)
        return self.records[kind]

    def model(self, strategy_name: str, kind: str) -> tuple:
        """(auto-encoder in eval mode, the training set encoded) for a two-stage row that is still to be trained."""
        if kind not in self.models:
            self.record(strategy_name, kind)
            if kind not in self.models:  # the record was kept from an earlier run: load its model, encode again
                autoencoder = load_autoencoder(self.folder / kind).to(self.training.get("device") or "cpu")
                encoded = get_strategy(strategy_name, self.data.units, autoencoder).training_data(self.data)
                self.models[kind] = (autoencoder, encoded)
        return self.models[kind]

    def fit(self, strategy_name: str, kind: str) -> None:
        stage_one = modality_of(self.data.units).stage_one
        if stage_one is None:
            raise GenstratError(
                f"two-stage rows need a stage one for {self.data.units.modality}, and none is registered"
            )
        folder = self.folder / kind
        autoencoder, summary = fit_autoencoder(
            self.data,
            stage_one(self.data, kind),
            self.budget,
            folder,
            resume=self.resume and (folder / STATE_FILE).is_file(),
            **self.training,
        )
        start = time.perf_counter()
        encoded = get_strategy(strategy_name, self.data.units, autoencoder).training_data(self.data)
        seconds = (
            summary["seconds"] + time.perf_counter() - start
        )  # training (its own clock, across resumes) + encoding
        judged = self.evaluator.reconstruction(autoencoder, torch.Generator().manual_seed(self.training["seed"] + 3))
        row = {
            "strategy": f"reconstruction:{kind}",
            "n": self.evaluator.n,
            **judged,  # its own n where the held-out split holds fewer than the bench's
            "ae_seconds": round(seconds, 2),
            "ae_train_steps": summary["steps"],
        }
        self.records[kind] = {"seconds": round(seconds, 2), "steps": summary["steps"], "row": row}
        self.models[kind] = (autoencoder, encoded)
        write_json(folder / RECORD_FILE, self.records[kind])

    def copy_into(self, kind: str, checkpoint: Path) -> None:
        """A two-stage checkpoint carries its auto-encoder."""
        copy_autoencoder(self.folder / kind, checkpoint)


def remaining_budget(budget: Budget, used_seconds: float) -> Budget:
    """A two-stage prior's budget: with minutes, what the auto-encoder left; with steps, the same steps."""
    if budget.steps is not None:
        return budget
    left = budget.minutes - used_seconds / 60
    if left <= 0:
        raise GenstratError(
            f"the auto-encoder took {used_seconds / 60:.1f} of the {budget.minutes} training minutes "
            f"and left none for the prior; give a smaller --ae-minutes"
        )
    return Budget(minutes=left)
