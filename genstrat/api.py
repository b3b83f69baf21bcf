"""The Python API: what the command line does, callable from a notebook or a script.

    import genstrat
    genstrat.train("digits", "mask-predict", "ckpt/mp", steps=300)
    generator = genstrat.load("ckpt/mp")
    out = genstrat.sample(generator, label=3, n=16, steps=8)      # out.objects: images (N, C, H, W) or strings
    rows = genstrat.bench("digits", ["ar", "nar"], "runs/digits", train_steps=300)

Every function checks its inputs and output paths before any long work and raises
:class:`~genstrat.errors.GenstratError` with a one-line message; ``cli.py`` is a thin shell over these.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import torch

import genstrat.peers  # noqa: F401 - the peers register themselves with the bench (benchmark/beside.py)
from genstrat.training.checkpoint import ensure_writable
from genstrat.errors import GenstratError
from genstrat.training.loop import Budget


def default_device(name: str | None = None) -> torch.device:
    """CUDA when present, else the CPU; a named device is checked."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GenstratError(f"device {name} asked for, but no CUDA device is available; use cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise GenstratError(f"unknown device '{name}'; use cpu or cuda") from None


@dataclass
class Generator:
    """A trained strategy ready to sample: its network, its strategy (bound to its unit space) and its config."""

    model: torch.nn.Module
    strategy: Any
    config: dict
    options: Any  # the sampling options it was saved with

    @property
    def units(self):
        return self.strategy.units


@dataclass
class Samples:
    units: torch.Tensor  # (N, L) generated units
    objects: Any  # what the unit space decodes them to: images (N, C, H, W) or strings
    nfe: int  # sequential network evaluations
    versions: list = field(default_factory=list)  # every intermediate version (N, L) when asked for


def train(
    data: str,
    strategy: str,
    out: str | Path,
    *,
    steps: int | None = None,
    minutes: float | None = None,
    autoencoder: str | Path | None = None,
    size: str = "small",
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    ema: float | None = None,
    precision: str = "auto",
    resume: bool = False,
    save_every_minutes: float = 5.0,
    save_every_steps: int | None = None,
    sampling: dict | None = None,
    data_options: dict | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> dict:
    """Train ``strategy`` on ``data`` for ``steps`` or ``minutes``; the checkpoint goes to ``out``.
    Returns the training summary (steps, seconds, loss). ``two-stage:<prior>`` needs ``autoencoder``, a folder
    written by :func:`train_autoencoder`."""
    from genstrat.training.autoencoding import check_units, copy_autoencoder, load_autoencoder
    from genstrat.pretrained import stage_one_folder
    from genstrat.data import load_dataset
    from genstrat.training.model_io import build_model, checkpoint_config
    from genstrat.strategies import Distilled, check_strategy, get_strategy, stage_one_kind, strategy_class
    from genstrat.strategies.distilled import teacher_name
    from genstrat.training.loop import train as train_loop
    from genstrat.training.loop import world

    budget = Budget(steps=steps, minutes=minutes)
    device = device if isinstance(device, torch.device) else default_device(device)
    loaded = load_dataset(data, **(data_options or {}))
    check_strategy(strategy, loaded.units)
    if strategy_class(strategy) is Distilled:
        raise GenstratError(f"{strategy} trains beside its teacher: train {teacher_name(strategy)} first, then "
                            f"genstrat distill its checkpoint")
    out = ensure_writable(Path(out), "--out")
    ae = None
    if stage_one_kind(strategy):
        if autoencoder is None:
            raise GenstratError(f"{strategy} needs --autoencoder DIR (made by genstrat train-autoencoder)")
        autoencoder = stage_one_folder(autoencoder)  # a folder, or a stage one shipped by name (hashes checked)
        ae = load_autoencoder(autoencoder)
        check_units(autoencoder, loaded)
    bound = get_strategy(strategy, loaded.units, ae)
    if ae is not None and world()[0] == 0:
        copy_autoencoder(Path(autoencoder), out)
    torch.manual_seed(seed)
    model = build_model(bound, loaded.num_classes, size=size, context_len=loaded.context_len).to(device)
    options = bound.sampling_defaults().merged(**(sampling or {}))
    config = checkpoint_config(bound, model, loaded, options, training={})
    return train_loop(
        bound,
        model,
        loaded,
        budget,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        out=out,
        config=config,
        save_every_s=save_every_minutes * 60,
        save_every_steps=save_every_steps,
        resume=resume,
        progress=progress,
        ema=ema,
        precision=precision,
    )


def distill(
    teacher: str | Path,
    out: str | Path,
    *,
    steps: Sequence[int] = (4, 2, 1),
    minutes: float | None = None,
    updates: int | None = None,
    teacher_steps: int = 16,
    batch_size: int = 128,
    lr: float | None = None,
    seed: int = 0,
    ema: float | None = None,
    precision: str = "auto",
    resume: bool = False,
    save_every_steps: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> list[dict]:
    """Progressive distillation of the diffusion checkpoint ``teacher`` (``diffusion`` or ``two-stage:diffusion``):
    students of ``teacher_steps`` / 2, / 4, ... steps down to ``min(steps)``, each a checkpoint in ``out/steps-N``.
    The budget is ``minutes`` or ``updates`` for all the rounds together, shared equally. Returns one
    summary per round (``distillation.py``)."""
    from genstrat.training.distillation import LR, round_steps, split_budget
    from genstrat.training.distillation import distill as distill_rounds

    steps = [int(s) for s in steps]
    if not steps or min(steps) < 1:
        raise GenstratError(f"--steps must be whole numbers of at least 1, got {steps}")
    rounds = len(round_steps(teacher_steps, min(steps)))
    if (minutes is None) == (updates is None):
        raise GenstratError("give exactly one distillation budget: --minutes M or --updates N (all rounds together)")
    budget = split_budget(Budget(minutes=minutes, steps=updates), rounds)
    device = device if isinstance(device, torch.device) else default_device(device)
    return distill_rounds(teacher, out, steps=steps, budget=budget, teacher_steps=teacher_steps,
                          batch_size=batch_size, lr=LR if lr is None else lr, seed=seed, ema=ema, precision=precision,
                          resume=resume, save_every_steps=save_every_steps, progress=progress, device=device)


def load(path: str | Path, device: str | torch.device | None = None) -> Generator:
    """A checkpoint folder written by :func:`train` (or ``genstrat train``), ready to sample."""
    from genstrat.training.model_io import load_model, saved_options

    model, strategy, config = load_model(path)
    model.to(device if isinstance(device, torch.device) else default_device(device))
    return Generator(model, strategy, config, saved_options(strategy, config))


def conditions(generator: Generator, n: int, label: int | None = None, prompt: str | None = None) -> torch.Tensor:
    """The condition tensor for n samples: a class label, or for context-window text the prompt's last tokens."""
    config, units = generator.config, generator.units
    context_len = config["backbone"].get("context_len", 0)
    if context_len:
        if prompt is None:
            raise GenstratError(
                "this model continues text: give --prompt 'some text' (its last tokens are the context)"
            )
        try:
            ids = units.tokenize([prompt])[0][-context_len:]
        except ValueError as e:
            raise GenstratError(f"--prompt: {e}") from None
        return torch.tensor([[units.pad_id] * (context_len - len(ids)) + ids] * n, dtype=torch.long)
    classes = config["class_names"]
    if label is None:
        raise GenstratError(f"give --label: this model knows labels 0..{len(classes) - 1} ({', '.join(classes)})")
    if not 0 <= label < len(classes):
        raise GenstratError(
            f"--label {label} is out of range; this model knows labels 0..{len(classes) - 1} ({', '.join(classes)})"
        )
    return torch.full((n,), label, dtype=torch.long)


def sample(
    generator: Generator | str | Path,
    *,
    label: int | None = None,
    prompt: str | None = None,
    n: int = 16,
    steps: int | None = None,
    seed: int = 0,
    options: dict | None = None,
    versions: bool = False,
) -> Samples:
    """n samples for one condition (``label``, or ``prompt`` for context-window text); ``steps`` passes for the
    iterative strategies; ``options`` override the saved sampling options (e.g. ``{"guidance": 1.0}``)."""
    if not isinstance(generator, Generator):
        generator = load(generator)
    if n < 1:
        raise GenstratError(f"n must be at least 1, got {n}")
    device = next(generator.model.parameters()).device
    cond = conditions(generator, n, label, prompt).to(device)
    chosen = generator.options.merged(**(options or {}))
    kept: list[torch.Tensor] = []
    on_version = (lambda i, u: kept.append(u.cpu())) if versions else None
    result = generator.strategy.generate(
        generator.model, cond, steps, torch.Generator(device).manual_seed(seed), on_version=on_version, options=chosen
    )
    units = result.units.cpu()
    return Samples(units=units, objects=generator.units.decode(units), nfe=result.nfe, versions=kept)


def train_autoencoder(
    data: str,
    out: str | Path,
    *,
    quantizer: str = "fsq",
    steps: int | None = None,
    minutes: float | None = None,
    factor: int | None = None,
    latent_channels: int | None = None,
    codebooks: int | None = None,
    base: str | Path | None = None,
    scales: list[int] | None = None,
    split_from: int | None = None,
    batch_size: int = 128,
    lr: float | None = None,
    seed: int = 0,
    judge_steps: int = 2000,
    resume: bool = False,
    data_options: dict | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> dict:
    """Train the stage one of two-stage generation on ``data`` and judge its reconstructions (``out/metrics.json``).
    ``lr``: the peak learning rate; by default the stage one's own (2e-3 for the image auto-encoder, the codec's
    ``CodecConfig.lr``). Returns the metrics with the training steps and seconds."""
    from genstrat.training.autoencoding import fit_autoencoder
    from genstrat.training.autoencoding import load_base as load_given_base
    from genstrat.pretrained import stage_one_folder
    from genstrat.training.checkpoint import write_json
    from genstrat.data import load_dataset
    from genstrat.modalities import modality_of
    from genstrat.nn.multiscale import multiscale_over

    budget = Budget(steps=steps, minutes=minutes)
    loaded = load_dataset(data, **(data_options or {}))
    stage_one = modality_of(loaded.units).stage_one
    if stage_one is None:
        raise GenstratError(f"{loaded.name} is {loaded.units.modality}; no auto-encoder is registered for it")
    if latent_channels and quantizer != "continuous":
        raise GenstratError("--latent-channels sets continuous latents; add --quantizer continuous, or drop it")
    if (base is None) != (quantizer != "multiscale") or ((scales or split_from is not None)
                                                         and quantizer != "multiscale"):
        raise GenstratError("--quantizer multiscale goes with --base DIR (a trained fsq stage one) and may take "
                            "--scales and --split-from; the other quantizers take none of them")
    out = ensure_writable(Path(out), "--out")
    base_model = None
    if quantizer == "multiscale":
        base_model = load_given_base(stage_one_folder(base), loaded)
        cfg = multiscale_over(base_model.cfg, scales, split_from)
    else:
        cfg = stage_one(loaded, quantizer, factor, **({"latent_channels": latent_channels} if latent_channels else {}))
    if codebooks:  # only a stage one with several codes a position has the field (the audio codec's fsq)
        if quantizer != "fsq" or not hasattr(cfg, "codebooks"):
            raise GenstratError(f"--codebooks sets the codes a frame of an fsq codec; {loaded.name}'s stage one "
                                f"({quantizer}) writes one code a position: drop --codebooks")
        cfg = replace(cfg, codebooks=codebooks)
    if lr is not None and hasattr(cfg, "lr"):  # a stage one that carries its own learning rate (the codec) takes it
        cfg = replace(cfg, lr=lr)
    device = device if isinstance(device, torch.device) else default_device(device)
    model, summary = fit_autoencoder(
        loaded,
        cfg,
        budget,
        out,
        batch_size=batch_size,
        **({"lr": lr} if lr is not None else {}),
        seed=seed,
        resume=resume,
        progress=progress,
        device=device,
        base=base_model,
    )
    evaluator = modality_of(loaded.units).evaluator(loaded, min(1000, loaded.test_units.shape[0]), seed, judge_steps,
                                                    "small", progress, device)
    metrics = evaluator.reconstruction(model, torch.Generator().manual_seed(seed))
    accuracy = evaluator.meta["judge_test_accuracy"]
    metrics.update(
        judge_test_accuracy=round(accuracy, 4), train_steps=summary["steps"], train_seconds=summary["seconds"]
    )
    write_json(out / "metrics.json", metrics)
    return {**metrics, "config": cfg}


def bench(
    data: str,
    strategies: Sequence[str],
    out: str | Path,
    *,
    train_steps: int | None = None,
    train_minutes: float | None = None,
    steps: Sequence[int] = (1, 4, 8, 16),
    resume: bool = False,
    command: str = "",
    progress: bool = True,
    device: str | torch.device | None = None,
    on_strategy=None,
    **settings: Any,
) -> list[dict]:
    """Train every strategy on one budget and measure them side by side into ``out`` (``results.json``,
    ``report.md``). ``settings`` are :class:`~genstrat.benchmark.config.BenchConfig`'s other fields (``n``, ``size``,
    ``batch_size``, ``ema``, ``overrides``, ``ae_budget``, ``data_options``, ...; a data option such as
    ``data_dir`` may also be given by its own name); ``on_strategy``, a pair of callables (started,
    finished), hears each strategy's name as its work begins and ends (a progress display). Returns the rows."""
    from genstrat.benchmark.config import BenchConfig
    from genstrat.benchmark.run import run_bench
    from genstrat.data import data_options

    device = device if isinstance(device, torch.device) else default_device(device)
    declared = data_options()  # a data option may also be given by name (data_dir="...", seconds=0.5)
    given = {k: settings.pop(k) for k in list(settings) if k in declared}
    if given:
        settings["data_options"] = {**settings.get("data_options", {}), **given}
    try:
        config = BenchConfig(
            data=data,
            strategies=tuple(strategies),
            steps=tuple(steps),
            device=device.type,
            budget=Budget(steps=train_steps, minutes=train_minutes),
            **settings,
        )
    except TypeError as e:
        raise GenstratError(f"bench: {e}") from None
    return run_bench(config, Path(out), command=command, resume=resume, progress=progress, on_strategy=on_strategy)


def demo(out: str | Path = "runs/demo", *, from_scratch: bool = False, trained: str | Path | None = None,
         resume: bool = False, seed: int = 0, device: str | torch.device | None = None,
         progress: bool = True) -> tuple[Path, list[dict]]:
    """The whole lecture on the embedded data (``genstrat/demo.py``): three benches over the shipped trained models
    (or ``trained``, an earlier demo's folder; or ``from_scratch``, every model trained here), the lecture's claims
    read off their rows, one page. Returns (page, claims: each {"id", "claim", "holds"})."""
    from genstrat.demo import run_demo

    device = device if isinstance(device, torch.device) else default_device(device)
    return run_demo(out, seed=seed, device=device.type, progress=progress, resume=resume, from_scratch=from_scratch,
                    trained=trained)


def report(*folders: str | Path, out: str | Path | None = None) -> Path:
    """Rewrite ``report.md`` of each bench folder from its ``results.json`` and ``meta.json``, and write one
    self-contained ``index.html`` of them all: ``FOLDER/index.html`` for one folder, ``out`` (default
    ``index.html`` here) for several. Returns the page's path."""
    import json

    from genstrat.training.checkpoint import read_json
    from genstrat.reporting.html import write_html
    from genstrat.reporting.markdown import write_report

    if not folders:
        raise GenstratError("give at least one bench folder")
    folders = tuple(Path(f) for f in folders)
    page = Path(out) if out is not None else (folders[0] / "index.html" if len(folders) == 1 else Path("index.html"))
    ensure_writable(page, "--out", is_file=True)
    for folder in folders:
        try:
            rows = json.loads((folder / "results.json").read_text())
        except (OSError, ValueError) as e:
            raise GenstratError(
                f"cannot read {folder / 'results.json'} ({e.__class__.__name__}); run `genstrat bench --out {folder}` "
                f"first"
            ) from None
        write_report(rows, read_json(folder / "meta.json", "bench metadata"), folder)
    return write_html(list(folders), page)


def tune(checkpoint: str | Path, vary: Sequence[str], out: str | Path = "tune.json", *, steps: int | None = None,
         n: int | None = None, seeds: Sequence[int] = (100, 200), batch: int = 250, data_dir: str | None = None,
         judge_steps: int = 2000, seed: int = 0, device: str | None = None, resume: bool = False,
         progress: bool = True) -> list[dict]:
    """Judge every combination of ``vary`` (``NAME=V1,V2`` each) for one checkpoint against a validation reference
    (``benchmark/tune.py``); rows written to ``out`` as they are measured."""
    import dataclasses

    from genstrat.benchmark.config import BenchConfig
    from genstrat.benchmark.tune import check_judged, parse_vary
    from genstrat.benchmark.tune import tune as run_tune
    from genstrat.data import load_from_spec
    from genstrat.modalities import modality_of

    out = ensure_writable(Path(out), "--out", is_file=True)
    if n is not None and n < 2:
        raise GenstratError(f"--n must be at least 2 (a Fréchet distance needs a covariance), got {n}")
    generator = load(checkpoint, device=device)
    grid = parse_vary(list(vary), generator.options)
    spec = dict(generator.config["data"], **({"data_dir": data_dir} if data_dir else {}))
    data = load_from_spec(spec)
    evaluator_class = modality_of(data.units).evaluator
    check_judged(evaluator_class, data)
    size = next(f.default for f in dataclasses.fields(BenchConfig) if f.name == "size")  # the bench's judge
    n, model_device = n or evaluator_class.default_n, next(generator.model.parameters()).device
    evaluator = evaluator_class(data, n=n, seed=seed, judge_steps=judge_steps, size=size, progress=progress,
                                device=model_device)
    return run_tune(generator, data, evaluator, grid, steps=steps, n=n, seeds=list(seeds), batch=batch, out=out,
                    checkpoint=str(checkpoint), resume=resume)


def throughput(data: str, strategies: Sequence[str], out: str | Path, *, runs: Sequence[str] = (
        "fp32:plain", "fp32:fused", "bf16:fused", "auto:fused"), steps: int = 10, batch_size: int = 32,
        size: str = "small", seed: int = 0, data_options: dict | None = None, device: str | None = None,
        progress: bool = True) -> list[dict]:
    """Updates per second and GFLOP/s of each strategy's training step per ``precision:optimizer`` run
    (``benchmark/throughput.py``), written to ``out``."""
    import json

    from genstrat.benchmark.throughput import measure_throughput
    from genstrat.training.checkpoint import atomic_write
    from genstrat.training.precision import CHOICES

    pairs = [tuple(run.split(":", 1)) for run in runs]
    bad = [":".join(r) for r in pairs if len(r) != 2 or r[0] not in CHOICES or r[1] not in ("fused", "plain")]
    if bad:
        raise GenstratError(f"--runs: cannot read {', '.join(bad)}; give precision:optimizer pairs such as "
                            f"fp32:plain, with a precision from {', '.join(CHOICES)} and fused or plain")
    out = ensure_writable(Path(out), "--out", is_file=True)
    rows = measure_throughput(data, list(strategies), steps=steps, batch_size=batch_size, size=size, seed=seed,
                              runs=tuple(pairs), data_options=data_options, device=default_device(device),
                              progress=progress)
    atomic_write(out, (json.dumps(rows, indent=2) + "\n").encode())
    return rows


def decode_floor(out: str | Path, *, mnist_dir: str = "../shared/data/mnist", fsdd_dir: str = "../shared/data/fsdd",
                 repeats: int = 3, seed: int = 0, peers: bool = True, progress: bool = True) -> tuple[list, dict]:
    """Each sequential sampler's batch-1 step against its floor, eager and compiled, beside transformers' paths
    (``benchmark/decode_floor.py``): (rows, bars), written to ``out`` and ``out``'s ``-bars.json`` sibling."""
    import json

    from genstrat.benchmark.decode_floor import decode_floor_bars, decode_floor_rows
    from genstrat.training.checkpoint import atomic_write
    from genstrat.peers import PEERS, missing
    from genstrat.peers.gpt2_decoding import their_rows

    out = ensure_writable(Path(out), "--out", is_file=True)
    for flag, folder in (("--mnist-dir", mnist_dir), ("--fsdd-dir", fsdd_dir)):
        if not Path(folder).is_dir():
            raise GenstratError(f"{flag} {folder} is not a folder; point it at the data (see ../shared/data/README.md)")
    if peers and missing(PEERS["transformers:gpt2"]):
        raise GenstratError(f"{missing(PEERS['transformers:gpt2'])}, or pass --no-peers")
    rows = decode_floor_rows({"mnist": mnist_dir, "fsdd": fsdd_dir}, repeats=repeats, seed=seed,
                             peer_rows=their_rows if peers else None, progress=progress)
    bars = decode_floor_bars(rows)
    atomic_write(out, (json.dumps(rows, indent=2) + "\n").encode())
    atomic_write(out.with_name(out.stem + "-bars.json"), (json.dumps(bars, indent=2) + "\n").encode())
    return rows, bars

