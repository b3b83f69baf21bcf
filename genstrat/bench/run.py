"""`genstrat bench`: train every strategy with the same backbone size and the same budget,
sample n objects from each at each step count, judge them, time them, write the results.

Every row of ``results.json`` is measured in this one run, on this machine: quality (images:
judge agreement, Fréchet distance to the held-out split at a fixed n, diversity; text: see
``evaluators.py``), sequential
network evaluations (NFE), batch-1 latency (median of repeats) and batch-N throughput
(median over the n/N batches that produced the quality samples). Two reference rows,
``real`` and ``independent``, are measured with the same judge and n. n defaults to 1,000
images, or 6,000 texts (short texts are cheap, and answer frequencies need counts).

An interrupted bench loses at most the row it was measuring and the training since its last
checkpoint (5 minutes by default): every measured row goes atomically into ``DIR/rows/`` as
soon as it is measured, every training writes its resumable state, and each auto-encoder
records its summary. ``resume=True`` (``genstrat bench ... --resume``) with the same settings
(checked against ``DIR/bench.json``, which includes the machine and the thread count) keeps
every finished row, continues an interrupted training where its last checkpoint left it, and
measures only what is missing. Rows kept from an earlier process were timed on the same kind
of machine but not in the same process; ``resumed`` in ``meta.json`` counts the resumes.
Without ``resume`` a run starts afresh and deletes what an earlier run left in ``DIR``
(rows, checkpoints, auto-encoders; the judge is kept, it is keyed by its own settings).
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from genstrat.checkpoint import read_json, write_json
from genstrat.data import load_dataset
from genstrat.errors import GenstratError
from genstrat.bench.evaluators import evaluator_for
from genstrat.eval.timing import median_seconds
from genstrat.model_io import build_model, checkpoint_config
from genstrat.report.markdown import write_report
from genstrat.autoencoding import autoencoder_config, copy_autoencoder, fit_autoencoder, load_autoencoder
from genstrat.strategies import TwoStage, get_strategy
from genstrat.train import STATE_FILE, Budget, train

SETTINGS_FILE = "bench.json"  # what a resumed run must match
STAGE_ONE_FILE = "stage_one.json"  # an auto-encoder's time, steps and reconstruction row, once trained


def sample_all(strategy, model, labels: torch.Tensor, steps: int, options, batch: int, seed: int):
    """Generate one sample per label in batches; returns (units on the CPU, NFE, seconds per batch)."""
    device = next(model.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    units, seconds, nfe = [], [], 0
    for chunk in labels.split(batch):
        start = time.perf_counter()
        out = strategy.generate(model, chunk.to(device), steps, generator, options=options)
        synchronize(device)
        seconds.append(time.perf_counter() - start)
        units.append(out.units.cpu())
        nfe = out.nfe
    return torch.cat(units), nfe, seconds


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that wall-clock timings include it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def file_name(strategy_name: str) -> str:
    """A strategy's name as a file or folder name ("two-stage:ar" -> "two-stage-ar": a colon would read as a URL scheme in links)."""
    return strategy_name.replace(":", "-")


def fit_stage_one(strategy, data, budget: Budget, folder: Path, evaluator, resume: bool = False, **training) -> dict:
    """Train the auto-encoder a two-stage row needs, encode the training set (timed with it) and judge its reconstructions
    (on held-out images drawn by their own seeded generator, the same whichever auto-encoders came before).
    With ``resume``, an auto-encoder this bench already finished is loaded, and an interrupted one continues."""
    record = folder / STAGE_ONE_FILE
    finished = resume and record.is_file()
    if finished:
        model, summary = load_autoencoder(folder).to(training.get("device") or "cpu"), None
    else:
        model, summary = fit_autoencoder(data, autoencoder_config(data, strategy.quantizer), budget, folder,
                                         resume=resume and (folder / STATE_FILE).is_file(), **training)
    start = time.perf_counter()
    strategy.attach(model)
    strategy.bind(data.units)
    encoded = strategy.training_data(data)
    if finished:
        return {"model": model, "encoded": encoded, **read_json(record, "auto-encoder record of the bench")}
    seconds = summary["seconds"] + time.perf_counter() - start  # training (its own clock, across resumes) + encoding
    judged = evaluator.reconstruction(model, torch.Generator().manual_seed(training["seed"] + 3))
    row = {"strategy": f"reconstruction:{strategy.quantizer}", **judged, "n": evaluator.n,
           "ae_seconds": round(seconds, 2), "ae_train_steps": summary["steps"]}
    saved = {"seconds": round(seconds, 2), "steps": summary["steps"], "row": row}
    write_json(record, saved)
    return {"model": model, "encoded": encoded, **saved}


def remaining_budget(budget: Budget, used_seconds: float) -> Budget:
    """A two-stage prior's budget: with minutes, what the auto-encoder left; with steps, the same steps."""
    if budget.steps is not None:
        return budget
    left = budget.minutes - used_seconds / 60
    if left <= 0:
        raise GenstratError(f"the auto-encoder took {used_seconds / 60:.1f} of the {budget.minutes} training minutes and left none "
                            f"for the prior; give a smaller --ae-minutes")
    return Budget(minutes=left)


def check_settings(out: Path, settings: dict, resume: bool, command: str = "") -> int:
    """Record this bench's settings; when resuming, refuse a folder measured under other settings.
    Returns how many times this bench has been resumed (0 for a fresh run, which also drops any kept rows)."""
    path = out / SETTINGS_FILE
    if not resume:  # nothing of an earlier run may be mistaken for this one's by a later resume
        for stale in ("rows", "checkpoints", "autoencoders"):
            shutil.rmtree(out / stale, ignore_errors=True)
        write_json(path, {"settings": settings, "resumed": 0, "command": command})
        return 0
    if not path.is_file():
        raise GenstratError(f"cannot resume: {out} holds no bench ({SETTINGS_FILE}); run without --resume first")
    saved = read_json(path, "bench settings")
    changed = sorted(k for k in set(settings) | set(saved.get("settings", {})) if settings.get(k) != saved.get("settings", {}).get(k))
    if changed:
        raise GenstratError(f"cannot resume {out}: it was measured with other settings ({', '.join(changed)}); "
                            f"repeat its command ({saved.get('command') or path}) or give a new --out")
    resumed = int(saved.get("resumed", 0)) + 1
    write_json(path, {**saved, "resumed": resumed})
    return resumed


def run_bench(data_name: str, strategies: list[str], steps: list[int], out: Path, *, budget: Budget,
              n: int | None = None, size: str = "small", batch_size: int = 128, lr: float = 2e-3, seed: int = 0,
              throughput_batch: int = 100, latency_repeats: int = 5, judge_steps: int = 2000,
              data_dir: str | None = None, image_size: int | None = None, channels: int | None = None,
              levels: int | None = None, overrides: dict | None = None, command: str = "", progress: bool = True,
              device: torch.device | None = None, ema: float | None = None, ae_budget: Budget | None = None,
              ae_batch_size: int = 128, resume: bool = False, precision: str = "fp32") -> list[dict]:
    if n is not None and n < 2:
        raise GenstratError(f"--n must be at least 2 (a Fréchet distance needs a covariance), got {n}")
    if any(s < 1 for s in steps):
        raise GenstratError(f"every --steps value must be at least 1, got {steps}")
    device = device or torch.device("cpu")
    chosen = [get_strategy(name) for name in strategies]  # unknown names fail before any training
    out = Path(out)
    data = load_dataset(data_name, data_dir=data_dir, image_size=image_size, channels=channels, levels=levels)
    kind = "text" if data.kind == "text" else "image"  # checked here too so a bad pick fails before any training
    for strategy in chosen:
        if kind not in strategy.modalities:
            raise GenstratError(f"strategy '{strategy.name}' generates {' or '.join(strategy.modalities)}, not {kind} "
                                f"({data.name}); drop it from --strategies")
    n = n or (6000 if data.kind == "text" else 1000)
    settings = {"data": {k: v for k, v in data.spec.items() if k != "data_dir"}, "strategies": strategies, "steps": steps, "budget": budget.__dict__, "n": n, "size": size,
                "batch_size": batch_size, "lr": lr, "seed": seed, "throughput_batch": throughput_batch,
                "latency_repeats": latency_repeats, "judge_steps": judge_steps, "overrides": overrides or {}, "ema": ema,
                "ae_budget": (ae_budget or budget).__dict__, "ae_batch_size": ae_batch_size, "device": device.type,
                "machine": platform.machine(), "threads": torch.get_num_threads(),
                **({"precision": precision} if precision != "fp32" else {})}  # absent for fp32: older runs still resume
    out.mkdir(parents=True, exist_ok=True)
    resumed = check_settings(out, json.loads(json.dumps(settings)), resume, command)
    evaluator = evaluator_for(data, out=out, n=n, seed=seed, judge_steps=judge_steps, size=size, progress=progress, device=device)
    gen = torch.Generator().manual_seed(seed)
    common = {"data": data.name, "n_test": evaluator.meta["n_test"]}
    rows = [{**common, **r} for r in evaluator.reference_rows(gen)]
    conditions = data.conditions(n, torch.Generator().manual_seed(seed + 2))
    strips, autoencoders = {}, {}
    for strategy in chosen:
        name = file_name(strategy.name)
        finished = out / "rows" / f"{name}.json"  # every row of this strategy and its version strip
        stage_one, strategy_budget = {}, budget
        done = resume and finished.is_file()
        if isinstance(strategy, TwoStage):  # train (once per kind) the auto-encoder; its time counts against this row
            quantizer = strategy.quantizer
            folder, known = out / "autoencoders" / quantizer, autoencoders.get(quantizer)
            if known is None or ("model" not in known and not done):  # not seen yet, or only its record was read
                record = folder / STAGE_ONE_FILE
                if known is None and done and record.is_file():  # every row that needs it is kept: the record will do
                    autoencoders[quantizer] = read_json(record, "auto-encoder record of the bench")
                else:
                    autoencoders[quantizer] = fit_stage_one(strategy, data, ae_budget or budget, folder, evaluator, resume=resume,
                                                            batch_size=ae_batch_size, lr=lr, seed=seed, progress=progress,
                                                            device=device)
                if known is None:  # the first row of this kind: its reconstruction row joins the table
                    rows.append({**common, **autoencoders[quantizer]["row"]})
        if done:
            kept = read_json(finished, "finished bench rows")
            rows += kept["rows"]
            strips[strategy.name] = kept["versions"]
            if progress:
                tqdm.write(f"{strategy.name:>14} kept {len(kept['rows'])} finished rows")
            continue
        if isinstance(strategy, TwoStage):
            stage = autoencoders[strategy.quantizer]
            strategy.attach(stage["model"], stage["encoded"])
            stage_one = {"ae_quantizer": strategy.quantizer, "ae_seconds": stage["seconds"], "ae_train_steps": stage["steps"]}
            strategy_budget = remaining_budget(budget, stage["seconds"])
        torch.manual_seed(seed)
        model = build_model(strategy, data.units, data.num_classes, size=size, context_len=data.context_len).to(device)
        base_options = options = strategy.sampling_defaults().merged(**(overrides or {}))
        ckpt = out / "checkpoints" / name
        if stage_one:
            copy_autoencoder(out / "autoencoders" / strategy.quantizer, ckpt)
        config = checkpoint_config(strategy, model, data, options, training={})
        summary = train(strategy, model, data, strategy_budget, batch_size=batch_size, lr=lr, seed=seed, out=ckpt, config=config,
                        progress=progress, desc=f"train {strategy.name}", ema=ema, resume=resume and (ckpt / STATE_FILE).is_file(),
                        precision=precision)
        likelihood = evaluator.own_likelihood(strategy, model, device)
        measured = []
        for k, override in strategy.sweep(data.units.seq_len, steps):
            row_name = "-".join([name, *map(str, override.values()), str(k)])
            row_file = out / "rows" / name / f"{row_name}.json"
            if resume and row_file.is_file():
                measured.append(read_json(row_file, "a measured bench row"))
                continue
            options = base_options.merged(**override)
            units, nfe, batch_seconds = sample_all(strategy, model, conditions, k, options, throughput_batch, seed + 1)
            quality = evaluator.score(units, conditions)
            one = conditions[:1].to(device)

            def single():
                strategy.generate(model, one, k, torch.Generator(device).manual_seed(0), options=options)
                synchronize(device)

            latency = median_seconds(single, repeats=latency_repeats)
            full = [s for s, b in zip(batch_seconds, conditions.split(throughput_batch)) if len(b) == throughput_batch] or batch_seconds
            throughput = throughput_batch / sorted(full)[len(full) // 2]
            row = {**common, "strategy": strategy.name, **override, "steps": k, "nfe": nfe, "latency_b1_s": round(latency, 5),
                   "throughput_per_s": round(throughput, 2), "throughput_batch": throughput_batch, **quality, "n": n,
                   "train_budget": budget.__dict__, "train_steps": summary["steps"], "train_seconds": summary["seconds"], **stage_one,
                   "train_loss": round(summary["loss"], 4), "ema": ema, "precision": precision, "params": model.num_params(), "model_size": size,
                   "sampling": options.to_dict(), **likelihood}
            shown = evaluator.show(units, conditions, out / "samples" / row_name)
            row["grid"] = str(shown.relative_to(out))
            write_json(row_file, row)
            measured.append(row)
            if progress:
                tqdm.write(f"{strategy.name:>14} steps={k:<4} nfe={nfe:<4} {evaluator.quality_key}={row[evaluator.quality_key]:.4g} "
                           + (f"agree={row['agree']:.3f} " if "agree" in row else f"valid={row['valid']:.3f} " if "valid" in row else "")
                           + f"latency_b1={latency * 1000:.1f} ms throughput={throughput:.1f}/s")
        strips[strategy.name] = str(evaluator.versions(strategy, model, base_options, out / "versions" / name, seed).relative_to(out))
        write_json(finished, {"rows": measured, "versions": strips[strategy.name]})
        rows += measured
    meta = {"versions": strips, "command": command, "date": time.strftime("%Y-%m-%d %H:%M"), "python": sys.version.split()[0],
            "torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(),
            "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""), "n": n,
            "data": data.name, "kind": data.kind, "quality_key": evaluator.quality_key, "quality_label": evaluator.quality_label,
            "resumed": resumed, **evaluator.meta}
    write_json(out / "meta.json", meta)
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    write_report(rows, meta, out)
    return rows
