"""Stage one of two-stage rows, trained once per kind in a bench and shared by every row that needs it.

The auto-encoder of a kind (``fsq`` codes or ``continuous`` latents; the audio codec next) is trained on the bench's
data within its budget, the training set is encoded (timed with it), and its reconstructions of held-out objects are
judged like samples: the ``reconstruction:<kind>`` row, the floor of its two-stage rows. Its seconds count against
every two-stage row that uses it. With ``resume`` a finished auto-encoder is loaded, an interrupted one continues.

A stage one can also be *given* (``bench --autoencoder DIR``, a folder ``genstrat train-autoencoder`` wrote): trained
once, on a budget of its own (longer, or on another machine), and shared by the bench's two-stage rows of its kind.
It is judged the same way; its own training steps and seconds are recorded in its row (``ae_given`` names the
folder), and only the time spent encoding the training set here is charged to the priors.

A ``multiscale`` stage one (``two-stage:next-scale``'s) is VAR's quantizer over the bench's ``fsq`` one, trained here
on top of it (given or trained, its own ``reconstruction:fsq`` row kept beside): the two kinds share one decoder.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from genstrat.training.autoencoding import check_units, copy_autoencoder, fit_autoencoder, load_autoencoder
from genstrat.training.checkpoint import read_json, write_json
from genstrat.errors import GenstratError
from genstrat.modalities import modality_of
from genstrat.nn.multiscale import multiscale_over
from genstrat.strategies import stage_one_kind
from genstrat.strategies.two_stage import encode_data
from genstrat.training.loop import STATE_FILE, Budget

RECORD_FILE = "stage_one.json"  # an auto-encoder's time, steps and reconstruction row, once trained


QUANTIZER_SHARE = 0.25  # a multi-scale quantizer over the bench's fsq stage one trains for this share of its budget
MULTI_SCALE = ("multiscale",)  # the stage-one kinds that stand on an fsq one


class StageOneCache:
    def __init__(self, out: Path, data, evaluator, budget: Budget, resume: bool, given: dict | None = None,
                 **training):
        """``given``: kind -> the folder of a trained stage one of that kind (``--autoencoder``, or a trained bench's
        ``autoencoders/<kind>``), used instead of training one."""
        self.folder, self.data, self.evaluator = Path(out) / "autoencoders", data, evaluator
        self.budget, self.resume, self.training = budget, resume, training
        self.given = {kind: Path(folder) for kind, folder in (given or {}).items()}
        self.records: dict[str, dict] = {}
        self.models: dict[str, tuple] = {}

    @staticmethod
    def chain(kind: str) -> list[str]:
        """The stage ones a kind stands on, itself last: a multi-scale quantizer goes over the fsq stage one."""
        return ["fsq", kind] if kind in MULTI_SCALE else [kind]

    def judged(self, kind: str) -> list[str]:
        """The stage ones whose reconstruction rows join a row of ``kind``: its chain, less an fsq base that a given
        multi-scale folder already holds (no fsq stage one is trained for a row that would not read it)."""
        chain = self.chain(kind)
        return chain[-1:] if kind in self.given and kind in MULTI_SCALE and "fsq" not in self.given else chain

    def record(self, kind: str) -> dict:
        """The kind's record (seconds, steps, reconstruction row): read when a resumed bench kept it, else trained."""
        if kind not in self.records:
            path = self.folder / kind / RECORD_FILE
            if self.resume and path.is_file():
                self.records[kind] = read_json(path, "auto-encoder record of the bench")
            elif kind in self.given:
                self.adopt(kind)
            else:
                self.fit(kind)
        return self.records[kind]

    def source(self, kind: str) -> Path:
        """The folder a kind's auto-encoder is read from: the given one, or the one this bench trained."""
        return self.given.get(kind, self.folder / kind)

    def model(self, kind: str) -> tuple:
        """(auto-encoder in eval mode, the training set encoded) for a two-stage row that is still to be trained."""
        if kind not in self.models:
            self.record(kind)
            if kind not in self.models:  # the record was kept from an earlier run: load its model, encode again
                autoencoder = load_autoencoder(self.source(kind)).to(self.training.get("device") or "cpu")
                self.models[kind] = (autoencoder, encode_data(self.data, autoencoder))
        return self.models[kind]

    def fit(self, kind: str) -> None:
        """Train the kind's stage one here. A multi-scale quantizer goes over the bench's fsq stage one (trained or
        given first, its own row kept), for ``QUANTIZER_SHARE`` of the stage-one budget; its row's seconds are both."""
        stage_one = modality_of(self.data.units).stage_one
        if stage_one is None:
            raise GenstratError(
                f"two-stage rows need a stage one for {self.data.units.modality}, and none is registered"
            )
        folder, base, budget, before = self.folder / kind, None, self.budget, 0.0
        if kind in MULTI_SCALE:
            base = self.model("fsq")[0]
            before = self.records["fsq"]["seconds"]
            budget = (Budget(minutes=QUANTIZER_SHARE * budget.minutes) if budget.minutes is not None
                      else Budget(steps=max(1, round(QUANTIZER_SHARE * budget.steps))))
            cfg = multiscale_over(base.cfg)
        else:
            cfg = stage_one(self.data, kind)
        autoencoder, summary = fit_autoencoder(
            self.data,
            cfg,
            budget,
            folder,
            resume=self.resume and (folder / STATE_FILE).is_file(),
            base=base,
            **self.training,
        )
        extra = {} if base is None else {"quantizer_seconds": summary["seconds"], "quantizer_steps": summary["steps"],
                                         "base_train_steps": self.records["fsq"]["steps"]}
        self.keep(kind, autoencoder, before + summary["seconds"], summary["steps"], extra)  # its own clock

    def adopt(self, kind: str) -> None:
        """Use the given auto-encoder for ``kind``: its training was paid before the bench, so only encoding counts."""
        given = self.given[kind]
        autoencoder = load_autoencoder(given).to(self.training.get("device") or "cpu")
        trained = read_json(given / "config.json", "auto-encoder config").get("training", {})
        extra = {"ae_given": shown_path(given), "ae_given_seconds": trained.get("seconds"),
                 "ae_given_train_steps": trained.get("steps"), "ae_given_batch_size": trained.get("batch_size")}
        (self.folder / kind).mkdir(parents=True, exist_ok=True)
        self.keep(kind, autoencoder, 0.0, trained.get("steps"), extra)

    def keep(self, kind: str, autoencoder, train_seconds: float, steps, extra: dict) -> None:
        """Encode the training set (timed: it is charged to the priors with ``train_seconds``), judge the
        reconstructions of held-out objects, and record both."""
        start = time.perf_counter()
        encoded = encode_data(self.data, autoencoder)
        seconds = train_seconds + time.perf_counter() - start
        judged = self.evaluator.reconstruction(autoencoder, torch.Generator().manual_seed(self.training["seed"] + 3))
        row = {
            "strategy": f"reconstruction:{kind}",
            "n": self.evaluator.n,
            **judged,  # its own n where the held-out split holds fewer than the bench's
            "ae_seconds": round(seconds, 2),
            "ae_train_steps": steps,
            **extra,
        }
        self.records[kind] = {"seconds": round(seconds, 2), "steps": steps, "row": row}
        self.models[kind] = (autoencoder, encoded)
        write_json(self.folder / kind / RECORD_FILE, self.records[kind])

    def copy_into(self, kind: str, checkpoint: Path) -> None:
        """A two-stage checkpoint carries its auto-encoder."""
        copy_autoencoder(self.source(kind), checkpoint)


def given_kind(folder: str | Path) -> str:
    """The kind of a trained stage one's folder (its quantizer: fsq, continuous, multiscale)."""
    return read_json(Path(folder) / "config.json", "auto-encoder config")["autoencoder"].get("quantizer", "fsq")


def shown_path(folder: Path) -> str:
    """A folder as a row records it: a shipped one by its place in the package, not this machine's install path."""
    package = Path(__file__).resolve().parents[1]
    try:
        return str(Path(package.name) / Path(folder).resolve().relative_to(package))
    except ValueError:
        return str(folder)


def check_given(folder: str | Path, data, strategies) -> None:
    """Before any work: the auto-encoder given to a bench reads, was made for units like this bench's data, and is of
    the kind every two-stage strategy of the bench needs (one line each, else)."""
    kinds = {name: stage_one_kind(name) for name in strategies if stage_one_kind(name) is not None}
    if not kinds:
        raise GenstratError("--autoencoder is the stage one of two-stage rows, and this bench has none; add a "
                            "two-stage:<prior> strategy or drop --autoencoder")
    load_autoencoder(folder)  # a missing, foreign or corrupt folder fails here in one line
    check_units(folder, data)
    quantizer = given_kind(folder)
    wrong = sorted(name for name, kind in kinds.items() if quantizer not in StageOneCache.chain(kind))
    if wrong:
        raise GenstratError(f"the auto-encoder in {folder} has {quantizer} latents, and {', '.join(wrong)} need "
                            f"{kinds[wrong[0]]} ones; bench those without --autoencoder or give a matching one")


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
