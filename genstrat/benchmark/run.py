"""`genstrat bench`: train every strategy with the same backbone size and the same budget, sample n objects from
each at each step count, judge them, time them, write the results.

The parts: a frozen :class:`~genstrat.benchmark.config.BenchConfig` (its fields are the settings file), the modality's
evaluator (judge cached by fingerprint outside the bench folder, ``cache.py``), the stage-one cache
(``stage_one.py``), a plan of rows per strategy (its ``sweep``), ``measure(job) -> row`` (``measure.py``) and the row
store that owns resume (``store.py``). Two reference rows, ``real`` and ``independent``, are measured with the same
judge and n.

An interrupted bench loses at most the row it was measuring and the training since its last checkpoint: every
measured row is written the moment it is measured, every training writes its resumable state. ``resume=True`` with
the same settings keeps every finished row, continues an interrupted training, and measures only what is missing (with
other step counts too: ``store.py``).
Rows kept from an earlier process were timed on the same kind of machine but not in the same process; ``resumed`` in
``meta.json`` counts the resumes.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from genstrat.benchmark.config import BenchConfig
from genstrat.benchmark.measure import Job, measure
from genstrat.benchmark.stage_one import StageOneCache, check_given, given_kind, remaining_budget, shown_path
from genstrat.benchmark.store import REFERENCES, RowStore, file_name
from genstrat.benchmark.students import bench_students, check_teachers
from genstrat.benchmark.trained import TrainedModels, loaded_record
from genstrat.training.checkpoint import ensure_writable, write_json
from genstrat.data import load_dataset
from genstrat.eval.row import BenchRow
from genstrat.training.memory import check_fits
from genstrat.modalities import modality_of
from genstrat.training.model_io import build_model, checkpoint_config, load_model
from genstrat.pretrained import stage_one_folder
from genstrat.reporting.html import write_html
from genstrat.reporting.markdown import write_report
from genstrat.strategies import check_strategy, get_strategy, stage_one_kind
from genstrat.strategies.spec import parse_spec
from genstrat.training.loop import STATE_FILE, train


def row_name(strategy_name: str, point) -> str:
    return "-".join([file_name(strategy_name), *map(str, point.overrides.values()), str(point.steps)])


def user_sweep(strategy, steps: list[int], fixed: dict) -> list:
    """The strategy's sweep at ``steps``, less the points that set an option the user fixed to another value
    (``bench --sampler dpm-solver`` measures that sampler alone, not DDPM-200 and DDIM-50 beside it)."""
    return [p for p in strategy.sweep(steps) if all(fixed.get(k, v) == v for k, v in p.overrides.items())]


def run_bench(
    config: BenchConfig, out: Path, *, command: str = "", resume: bool = False, progress: bool = True,
    on_strategy=None,
) -> list[BenchRow]:
    """Run (or resume) the bench of ``config`` into ``out``; returns its rows (also in ``out/results.json``).
    ``on_strategy``: (started, finished), two callables told each strategy's name as its work begins and ends."""
    started, finished = on_strategy or (lambda name: None, lambda name: None)
    device = torch.device(config.device)
    data = load_dataset(config.data, **config.data_options)
    for name in config.strategies:  # unknown or unfit names fail before any training
        check_strategy(name, data.units)
    check_teachers(config)  # and a distilled row whose teacher is not benched before it, or whose rounds cannot run
    given = stage_one_folder(config.autoencoder)  # a folder, or a stage one shipped by name (its hashes checked)
    if given is not None:  # and a given stage one that does not fit the data or the strategies
        check_given(given, data, config.strategies)
    trained = TrainedModels(config.trained) if config.trained is not None else None  # models loaded, not trained
    if trained is not None:
        trained.check(data, config.strategies)
    stage_ones = {**(trained.stage_ones() if trained else {}), **({given_kind(given): given} if given else {})}
    for name in config.strategies:  # and so does a batch whose training step cannot fit in memory
        if stage_one_kind(name) is None and not (trained and trained.checkpoint(name)):
            strategy = get_strategy(name, data.units)
            check_fits(build_model(strategy, data.num_classes, size=config.size, context_len=data.context_len),
                       config.batch_size, device)
    out = ensure_writable(Path(out), "--out")
    modality = modality_of(data.units)
    evaluator_class = modality.evaluator
    n = config.n or evaluator_class.default_n
    store = RowStore(out, json.loads(json.dumps(config.settings(n, data.spec))), resume, command)
    evaluator = evaluator_class(
        data,
        n=n,
        seed=config.judge_seed,  # the judge's own: a bench's --seed changes what is trained and drawn, not the judge
        judge_steps=config.judge_steps,
        size=config.size,
        progress=progress,
        device=device,
        limit_minutes=config.budget.minutes,
    )
    common = {"data": data.name, "n_test": evaluator.meta["n_test"]}
    kept_references = store.finished(REFERENCES)
    if kept_references is None:  # kept on disk at once, so a bench stopped later still has them
        references = evaluator.reference_rows(torch.Generator().manual_seed(config.seed))
        store.finish(REFERENCES, references, "")
    else:
        references = kept_references["rows"]
    rows = [{**common, **r} for r in references]
    conditions = data.conditions(n, torch.Generator().manual_seed(config.seed + 2))
    stage_one = StageOneCache(
        out,
        data,
        evaluator,
        config.stage_one_budget(),
        resume,
        given=stage_ones,
        batch_size=config.ae_batch_size,
        lr=config.lr,
        seed=config.seed,
        progress=progress,
        device=device,
    )
    strips, seen_kinds = {}, set()
    for name in config.strategies:
        started(name)
        kind = stage_one_kind(name)
        for under in stage_one.judged(kind) if kind is not None else []:
            if under not in seen_kinds:  # the first row of this kind: its reconstruction row (and its base's) joins
                seen_kinds.add(under)
                rows.append({**common, **stage_one.record(under)["row"]})
        kept = store.finished(name)
        if kept is not None:
            rows += [{**common, **r} for r in kept["rows"]]
            strips[name] = kept["versions"]
            if progress:
                tqdm.write(f"{name:>14} kept {len(kept['rows'])} finished rows")
            finished(name)
            continue
        loaded = trained.checkpoint(name) if trained is not None else None
        if parse_spec(name).student:
            measured, strips[name] = bench_students(name, config, data, evaluator, conditions, store, out, progress,
                                                    loaded=loaded)
        else:
            measured, strips[name] = bench_strategy(
                name, kind, config, data, evaluator, conditions, stage_one, store, out, progress, loaded=loaded
            )
        rows += [{**common, **r} for r in measured]
        finished(name)
    if config.peers:
        from genstrat.benchmark.beside import peer_rows

        rows += [{**common, **r} for r in peer_rows(data, out, config, evaluator, conditions, store, progress)]
    meta = {
        "versions": strips,
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "n": n,
        "data": data.name,
        "modality": data.units.modality,
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "quality_key": evaluator.quality_key,
        "quality_label": evaluator.quality_label,
        "resumed": store.resumed,
        **evaluator.meta,
    }
    write_json(out / "meta.json", meta)
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    write_report(rows, meta, out)
    write_html([out], out / "index.html")
    return rows


def bench_strategy(
    name: str,
    kind: str | None,
    config: BenchConfig,
    data,
    evaluator,
    conditions,
    stage_one,
    store,
    out: Path,
    progress: bool,
    loaded: Path | None = None,
) -> tuple[list[BenchRow], str]:
    """Train one strategy within its budget (or load it, trained, from ``loaded``), then measure every row of its
    sweep; returns (rows, version strip)."""
    budget, trained_with = config.budget_for(name), {}
    autoencoder = encoded = None
    if loaded is not None:
        return measure_strategy(name, *load_model(loaded)[:2], config, evaluator, conditions, store, out, progress,
                                {"train_budget": None, **loaded_record(loaded), "model_size": config.size,
                                 "loaded_from": shown_path(loaded)})
    if kind is not None:  # two-stage: the auto-encoder's time counts against the prior's budget
        autoencoder, encoded = stage_one.model(kind)
        record = stage_one.record(kind)
        trained_with = {"ae_quantizer": kind, "ae_seconds": record["seconds"], "ae_train_steps": record["steps"]}
        budget = remaining_budget(budget, record["seconds"])
    strategy = get_strategy(name, data.units, autoencoder, encoded)
    torch.manual_seed(config.seed)
    model = build_model(strategy, data.num_classes, size=config.size, context_len=data.context_len).to(config.device)
    defaults = strategy.sampling_defaults()
    base_options = defaults.merged(**defaults.known(config.overrides))
    ckpt = out / "checkpoints" / file_name(name)
    if kind is not None:
        stage_one.copy_into(kind, ckpt)
    summary = train(
        strategy,
        model,
        data,
        budget,
        batch_size=config.batch_size,
        lr=config.lr,
        seed=config.seed,
        out=ckpt,
        config=checkpoint_config(strategy, model, data, base_options, training={}),
        progress=progress,
        desc=f"train {name}",
        ema=config.ema,
        precision=config.precision,
        resume=store.resume and (ckpt / STATE_FILE).is_file(),
    )
    training = {
        "trained": "here",
        "train_budget": config.budget_for(name).to_dict(),
        "train_steps": summary["steps"],
        "train_seconds": summary["seconds"],
        **trained_with,
        "train_loss": round(summary["loss"], 4),
        "ema": config.ema,
        "precision": summary["precision"],
        "precision_reason": summary["reason"],
        "updates_per_s": summary["updates_per_s"],
        "step_gflop": summary["step_gflop"],
        "gflops_per_s": summary["gflops_per_s"],
        "model_size": config.size,
    }
    return measure_strategy(name, model, strategy, config, evaluator, conditions, store, out, progress, training)


def measure_strategy(name: str, model, strategy, config: BenchConfig, evaluator, conditions, store, out: Path,
                     progress: bool, training: dict) -> tuple[list[BenchRow], str]:
    """Measure every row of a trained strategy's sweep (``training``: what its rows say of its training)."""
    model = model.to(config.device)
    defaults = strategy.sampling_defaults()
    base_options = defaults.merged(**defaults.known(config.overrides))
    training = {**training, "params": model.num_params()}
    likelihood = None  # computed for the first row measured here (a resume that keeps every row needs none)
    measured = []
    for point in user_sweep(strategy, list(config.steps), defaults.known(config.overrides)):
        label = row_name(name, point)
        row = store.kept_row(name, label)
        if row is None:
            options = base_options.merged(**point.overrides)
            job = Job(strategy, model, point, options, label)
            row, units = measure(
                job,
                evaluator,
                conditions,
                throughput_batch=config.throughput_batch,
                latency_repeats=config.latency_repeats,
                seed=config.seed,
            )
            if likelihood is None:
                likelihood = evaluator.own_likelihood(strategy, model, torch.device(config.device))
            row.update(n=len(conditions), **training, sampling=options.to_dict(), **likelihood)
            row["grid"] = str(evaluator.show(units, conditions, out / "samples" / label).relative_to(out))
            store.keep(name, label, row)
            if progress:
                tqdm.write(
                    f"{point.series:>22} steps={point.steps:<4} nfe={row['nfe']:<4} "
                    f"{evaluator.quality_key}={row[evaluator.quality_key]:.4g} "
                    f"latency_b1={row['latency_b1_s'] * 1000:.1f} ms throughput={row['throughput_per_s']:.1f}/s"
                )
        measured.append(row)
    strip = evaluator.versions(strategy, model, base_options, out / "versions" / file_name(name), config.seed)
    store.finish(name, measured, str(strip.relative_to(out)))
    return measured, str(strip.relative_to(out))
