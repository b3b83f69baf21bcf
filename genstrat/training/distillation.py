"""`genstrat distill`: the rounds of progressive distillation (Salimans & Ho 2022, Algorithm 2), each a checkpoint.

A diffusion teacher (a ``diffusion`` or ``two-stage:diffusion`` checkpoint) sampled with ``teacher_steps`` DDIM steps
is distilled into a student of half as many steps; that student teaches the next round, and so on down to the
smallest step count asked for. What one round optimises is ``strategies/distilled.py``; this file runs the rounds
with the shared training loop (``training.py``: warm-up and cosine decay, EMA, checkpoints, resume after a kill,
the precision probe), one folder per round:

    OUT/steps-8/   OUT/steps-4/   OUT/steps-2/   OUT/steps-1/

Each is a checkpoint like any other (``genstrat sample OUT/steps-2``, ``genstrat.load``), whose config records its
``distillation``: the teacher it came from, the teacher's training seconds (``teacher_seconds``, the auto-encoder's
included for two-stage) and the distillation's seconds up to and including this round (``distill_seconds``), so a
reader can set a student against a teacher trained for the same total time. A killed run resumed with the same
arguments keeps every finished round and continues the interrupted one.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from genstrat.training.checkpoint import ensure_writable, read_json, write_json
from genstrat.errors import GenstratError
from genstrat.strategies import Distilled, SamplingOptions
from genstrat.strategies.distilled import MAX_STEPS, check_teacher_model
from genstrat.training.loop import STATE_FILE, Budget, train

ROUND_FOLDER = "steps-{}"
LR = 5e-4  # the distillation's peak learning rate: a quarter of training's, the student starting from a trained net


def round_steps(teacher_steps: int, down_to: int) -> list[int]:
    """The students' step counts: ``teacher_steps`` halved while the half is at least ``down_to`` (16, 1 ->
    [8, 4, 2, 1]; 16, 3 -> [8, 4])."""
    if teacher_steps > MAX_STEPS:
        raise GenstratError(f"--teacher-steps {teacher_steps} is finer than the teacher's {MAX_STEPS} timesteps; "
                            f"give at most {MAX_STEPS}")
    if down_to < 1 or teacher_steps < 2 * down_to:
        raise GenstratError(f"--teacher-steps {teacher_steps} must be at least twice the fewest steps asked for "
                            f"({down_to})")
    counts, n = [], teacher_steps
    while n // 2 >= down_to:
        if n % 2:
            raise GenstratError(f"--teacher-steps {teacher_steps} cannot be halved down to {down_to} step(s); "
                                f"give a power of two times {down_to} (e.g. {down_to * 16})")
        n //= 2
        counts.append(n)
    return counts


def split_budget(total: Budget, rounds: int) -> Budget:
    """Each round's share of a budget for all the rounds together (minutes or updates, equally)."""
    if total.minutes is not None:
        return Budget(minutes=total.minutes / rounds)
    if total.steps < rounds:
        raise GenstratError(f"{total.steps} updates cannot be shared by {rounds} rounds; give at least {rounds}")
    return Budget(steps=total.steps // rounds)


def teacher_seconds(folder: Path, config: dict) -> float:
    """What the teacher cost to train: its own seconds plus, for two-stage, its auto-encoder's."""
    seconds = float(config.get("training", {}).get("seconds", 0.0))
    ae_config = Path(folder) / "autoencoder" / "config.json"
    if ae_config.is_file():
        seconds += float(read_json(ae_config, "auto-encoder config").get("training", {}).get("seconds", 0.0))
    return round(seconds, 2)


def check_same_round(folder: Path, record: dict) -> None:
    """A round resumed from ``folder`` must be this run's: the same teacher, first step count and student steps."""
    saved = read_json(folder / "config.json", "student config").get("distillation", {})
    keys = ("teacher", "teacher_strategy", "first_teacher_steps", "student_steps")
    changed = [k for k in keys if saved.get(k) != record[k]]
    if changed:
        raise GenstratError(f"cannot resume {folder}: it was distilled with another {', '.join(changed)} "
                            f"({', '.join(f'{k}={saved.get(k)!r}' for k in changed)}); give a new --out")


def distill(teacher_dir: str | Path, out: str | Path, *, steps=(4, 2, 1), budget: Budget, teacher_steps: int = 16,
            data=None, batch_size: int = 128, lr: float = LR, seed: int = 0, ema: float | None = None,
            precision: str = "auto", resume: bool = False, progress: bool = True,
            device: torch.device | None = None, save_every_s: float | None = 300,
            save_every_steps: int | None = None, teacher_cost_s: float | None = None) -> list[dict]:
    """Distil the diffusion checkpoint ``teacher_dir`` round after round into ``out/steps-N``; ``budget`` is each
    round's. ``data``: the loaded training data (default: reloaded from the teacher's config). Returns one summary
    per round: student_steps, folder, updates, seconds, distill_seconds (cumulative), loss."""
    from genstrat.training.autoencoding import copy_autoencoder
    from genstrat.data import load_from_spec
    from genstrat.training.model_io import checkpoint_config, load_model, saved_options

    steps = sorted({int(s) for s in steps})
    counts = round_steps(teacher_steps, steps[0])
    missing = [s for s in steps if s not in counts]
    if missing:
        raise GenstratError(f"--steps {','.join(map(str, missing))} is not reached by halving --teacher-steps "
                            f"{teacher_steps} (students at {', '.join(map(str, counts))})")
    teacher_dir = Path(teacher_dir)
    teacher, teacher_strategy, teacher_config = load_model(teacher_dir)
    Distilled(teacher_strategy)  # refuses a teacher that is not diffusion, in one line, before any work
    check_teacher_model(teacher)
    out = ensure_writable(Path(out), "--out")
    device = device or torch.device("cpu")
    data = data if data is not None else load_from_spec(teacher_config["data"])
    teacher = teacher.to(device)
    guidance = saved_options(teacher_strategy, teacher_config).to_dict().get("guidance", 1.0)
    cost = teacher_seconds(teacher_dir, teacher_config) if teacher_cost_s is None else teacher_cost_s
    summaries, spent = [], 0.0
    for n in counts:
        folder = out / ROUND_FOLDER.format(n)
        strategy = Distilled(teacher_strategy)
        strategy.attach_teacher(teacher, n, guidance)
        student = copy.deepcopy(teacher).requires_grad_(True)
        record = {"teacher": str(teacher_dir), "teacher_strategy": teacher_strategy.name,
                  "first_teacher_steps": teacher_steps, "first_teacher_guidance": guidance,
                  "teacher_steps": 2 * n, "student_steps": n, "teacher_seconds": cost}
        if (teacher_dir / "autoencoder").is_dir():
            copy_autoencoder(teacher_dir / "autoencoder", folder)
        config = {**checkpoint_config(strategy, student, data, SamplingOptions({}), training={}),
                  "distillation": record}
        resuming = resume and (folder / STATE_FILE).is_file()
        if resuming:
            check_same_round(folder, record)
        summary = train(strategy, student, data, budget, batch_size=batch_size, lr=lr, seed=seed + n, out=folder,
                        config=config, save_every_s=save_every_s, save_every_steps=save_every_steps,
                        resume=resuming,
                        progress=progress, desc=f"distil {n} steps", ema=ema, precision=precision)
        spent += summary["seconds"]
        saved = read_json(folder / "config.json", "student config")
        saved["distillation"] = {**record, "distill_seconds": round(spent, 2)}
        write_json(folder / "config.json", saved)
        summaries.append({"student_steps": n, "folder": str(folder), "updates": summary["steps"],
                          "seconds": summary["seconds"], "distill_seconds": round(spent, 2),
                          "loss": summary["loss"], "precision": summary["precision"]})
        teacher, guidance = student.eval(), 1.0  # the student teaches the next round, its guidance distilled in
    return summaries
