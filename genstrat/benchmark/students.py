"""The bench's ``distilled:<teacher>`` rows: the teacher trained earlier in the same bench is distilled round after
round (``distillation.py``), and every round's student is measured at its own step count with the same judge, n and
conditions as every other row.

A student's row carries its honest cost: ``teacher_seconds`` (the teacher's training, its auto-encoder's included),
``distill_seconds`` (every round up to this student's) and ``train_seconds``, their sum, so a reader can set it against
a teacher trained for as many minutes. ``train_steps`` counts the distillation's updates up to this student.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tqdm.auto import tqdm

from genstrat.benchmark.measure import Job, measure
from genstrat.benchmark.store import file_name
from genstrat.benchmark.trained import TrainedModels, loaded_rounds
from genstrat.training.distillation import LR, distill, round_steps, split_budget
from genstrat.errors import GenstratError
from genstrat.training.model_io import load_model
from genstrat.strategies.distilled import PREFIX
from genstrat.strategies.distilled import teacher_name as teacher_of


def check_teachers(config) -> None:
    """Before any training: every ``distilled:<teacher>`` row needs its teacher benched before it in the same run,
    ``--teacher-steps`` must halve down to the fewest ``--steps``, and the distillation budget must cover the
    rounds; else one line."""
    strategies = config.strategies
    for i, name in enumerate(strategies):
        if name.startswith(PREFIX):
            if teacher_of(name) not in strategies[:i]:
                raise GenstratError(f"{name} distils the {teacher_of(name)} trained in this bench: list "
                                    f"{teacher_of(name)} before it in --strategies")
            split_budget(config.students_budget(name), len(round_steps(config.teacher_steps, min(config.steps))))


def bench_students(name: str, config, data, evaluator, conditions, store, out: Path, progress: bool,
                   loaded: Path | None = None):
    """Distil the bench's own teacher of ``name`` (or load the rounds trained in ``loaded``) and measure each round's
    student; returns (rows, version strip)."""
    teacher = teacher_of(name)
    teacher_rows = store.rows_of(teacher)
    teacher_cost = teacher_rows[0]["train_seconds"] + (teacher_rows[0].get("ae_seconds") or 0.0)
    budget = config.students_budget(name)
    if loaded is not None:
        rounds, budget = loaded_rounds(loaded), None
    else:
        counts = round_steps(config.teacher_steps, min(config.steps))
        teacher_dir = out / "checkpoints" / file_name(teacher)
        if not teacher_dir.is_dir() and config.trained is not None:  # the teacher was loaded, not trained here
            teacher_dir = TrainedModels(config.trained).checkpoint(teacher)
        rounds = distill(teacher_dir, out / "checkpoints" / file_name(name),
                         steps=counts, budget=split_budget(budget, len(counts)),
                         teacher_steps=config.teacher_steps, data=data, batch_size=config.batch_size, lr=LR,
                         seed=config.seed, ema=config.ema, precision=config.precision, resume=store.resume,
                         progress=progress, device=torch.device(config.device), teacher_cost_s=teacher_cost)
    measured, updates, strip = [], 0, None
    for record in rounds:
        model, strategy, _ = load_model(record["folder"])
        model.to(config.device)
        updates += record["updates"]
        point = strategy.sweep(list(config.steps))[0]
        label = "-".join([file_name(name), str(point.steps)])
        row = store.kept_row(name, label)
        if row is None:
            options = strategy.sampling_defaults()
            row, units = measure(Job(strategy, model, point, options, label), evaluator, conditions,
                                 throughput_batch=config.throughput_batch, latency_repeats=config.latency_repeats,
                                 seed=config.seed)
            row.update(n=len(conditions), teacher=teacher, teacher_seconds=round(teacher_cost, 2),
                       distill_seconds=record["distill_seconds"],
                       train_seconds=round(teacher_cost + record["distill_seconds"], 2), train_steps=updates,
                       teacher_train_steps=teacher_rows[0]["train_steps"], round_updates=record["updates"],
                       train_budget=budget and budget.to_dict(), teacher_steps=config.teacher_steps,
                       trained="loaded" if loaded is not None else "here",
                       precision=record["precision"], ema=config.ema, params=model.num_params(),
                       model_size=config.size, sampling={})
            row["grid"] = str(evaluator.show(units, conditions, out / "samples" / label).relative_to(out))
            store.keep(name, label, row)
            if progress:
                tqdm.write(f"{name:>22} steps={point.steps:<4} nfe={row['nfe']:<4} "
                           f"{evaluator.quality_key}={row[evaluator.quality_key]:.4g} "
                           f"latency_b1={row['latency_b1_s'] * 1000:.1f} ms")
        measured.append(row)
        if strip is None:  # the version strip of the student with the most steps
            strip = evaluator.versions(strategy, model, strategy.sampling_defaults(),
                                       out / "versions" / file_name(name), config.seed)
    store.finish(name, measured, str(strip.relative_to(out)))
    return measured, str(strip.relative_to(out))
