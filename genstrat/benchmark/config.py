"""The bench's settings, frozen: one object that is also the settings file a resumed run must match."""

from __future__ import annotations

import dataclasses
import platform
from dataclasses import dataclass, field

import torch

from genstrat.errors import GenstratError
from genstrat.strategies.spec import parse_spec
from genstrat.training.loop import Budget


@dataclass(frozen=True)
class BenchConfig:
    """Every setting of one bench run. ``budget`` is each strategy's training budget; ``ae_budget`` the share of it
    a two-stage row's auto-encoder takes (default: 30% of the minutes, or the same steps)."""

    data: str
    strategies: tuple[str, ...]
    budget: Budget
    steps: tuple[int, ...] = (1, 4, 8, 16)
    data_options: dict = field(default_factory=dict)  # the options the data's loader reads (data/options.py)
    n: int | None = None  # samples per row; None: the modality evaluator's default
    size: str = "small"
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0
    throughput_batch: int = 100
    latency_repeats: int = 5
    judge_steps: int = 2000
    judge_seed: int = 0  # the judge's training seed, apart from ``seed``: several training runs, one judge
    overrides: dict = field(default_factory=dict)  # sampling options given by the user, applied where they apply
    ema: float | None = None
    ae_budget: Budget | None = None
    ae_batch_size: int = 128
    device: str = "cpu"
    precision: str = "auto"
    peers: bool | tuple = False  # add the peers' rows (genstrat/peers/): all (True) or these names; same data, judge
    autoencoder: str | None = None  # a trained stage one for the two-stage rows, instead of training one here
    distill_budget: Budget | None = None  # distilled:* rows: all the rounds of one student (default: ``budget``)
    teacher_steps: int = 16  # distilled:* rows: the teacher's DDIM steps the first student matches in half as many
    budgets: dict = field(default_factory=dict)  # a strategy's own budget, {"gan": {"steps": 1500}}, over ``budget``
    trained: str | None = None  # a bench folder (or a shipped one's name) whose trained models are loaded, not trained

    def __post_init__(self):
        if self.n is not None and self.n < 2:
            raise GenstratError(f"--n must be at least 2 (a Fréchet distance needs a covariance), got {self.n}")
        if not self.steps or any(s < 1 for s in self.steps):
            raise GenstratError(f"every --steps value must be at least 1, got {list(self.steps)}")
        if not self.strategies:
            raise GenstratError("give at least one strategy")
        if self.peers and self.peers is not True:
            from genstrat.benchmark.beside import peer_names

            object.__setattr__(self, "peers", tuple(self.peers))  # a frozen dataclass: set once, here
            unknown = [p for p in self.peers if p not in peer_names()]
            if unknown or not self.peers:
                raise GenstratError(f"unknown peer {', '.join(map(repr, unknown)) or '(none given)'} in --peers; "
                                    f"choose from: {', '.join(peer_names())} (or --peers alone for all)")
        unknown = sorted(set(self.budgets) - set(self.strategies))
        if unknown:
            raise GenstratError(f"a budget is given for {', '.join(unknown)}, which this bench does not run; "
                                f"budgets name strategies of --strategies")
        for name, given in self.budgets.items():
            try:
                Budget(**given)
            except TypeError:
                raise GenstratError(f"the budget of {name} must be {{'steps': N}} or {{'minutes': M}}, got {given}") \
                    from None
        if self.autoencoder is not None and self.ae_budget is not None:
            raise GenstratError("--autoencoder gives a trained stage one, so there is none to train: drop "
                                "--ae-minutes / --ae-steps, or drop --autoencoder")

    def stage_one_budget(self) -> Budget:
        if self.ae_budget is not None:
            return self.ae_budget
        return Budget(minutes=0.3 * self.budget.minutes) if self.budget.minutes is not None else self.budget

    def budget_for(self, name: str) -> Budget:
        """The training budget of strategy ``name``: its own in ``budgets``, else the bench's."""
        return Budget(**self.budgets[name]) if name in self.budgets else self.budget

    def students_budget(self, name: str | None = None) -> Budget:
        """What all the distillation rounds of one ``distilled:*`` row may take together."""
        if self.distill_budget is not None:
            return self.distill_budget
        return self.budget_for(name) if name is not None else self.budget

    def settings(self, n: int, data_spec: dict) -> dict:
        """What a resumed run must match: every field (the data as its spec, without the folder it was read from),
        the resolved n, the machine and the thread count."""
        fields = dataclasses.asdict(self)
        for key in ("data", "data_options"):
            fields.pop(key)
        for key in ("peers", "autoencoder", "budgets", "trained"):  # folders written before these resume unchanged
            if not fields[key]:
                fields.pop(key)
        if self.judge_seed == self.seed:  # folders written before the option trained their judge at ``seed``
            fields.pop("judge_seed")
        if not any(parse_spec(name).student for name in self.strategies):  # ... and benches with no students
            fields.pop("distill_budget")
            fields.pop("teacher_steps")
        else:
            fields["distill_budget"] = dataclasses.asdict(self.students_budget())
        return {
            **fields,
            "data": {k: v for k, v in data_spec.items() if k != "data_dir"},
            "n": n,
            "ae_budget": dataclasses.asdict(self.stage_one_budget()),
            "machine": platform.machine(),
            "threads": torch.get_num_threads(),
        }
