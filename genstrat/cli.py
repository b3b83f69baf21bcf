"""The command line: `genstrat train | train-autoencoder | distill | sample | tune | bench | report | demo |
throughput`.

Every problem a user can cause (unknown names, bad numbers, missing or corrupt files) ends as
one line, ``genstrat: error: ...``, and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from genstrat.errors import GenstratError


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got '{text}'") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"steps must be whole numbers of at least 1, got '{text}'")
    return values


def name_list(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError("expected at least one name")
    return values


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present, else cpu)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_data(p: argparse.ArgumentParser) -> None:
    """--data, then one flag per option any registered loader reads (declared on the loader, ``data/options.py``)."""
    from genstrat.data import data_options, dataset_names

    p.add_argument("--data", default="digits", help=f"one of: {', '.join(dataset_names())} (default digits)")
    for option, readers in data_options().values():
        p.add_argument(option.flag, type=typed(option.type), default=None, choices=option.choices or None,
                       help=f"{', '.join(readers)}: {option.help}")


def typed(kind: type):
    """An argparse type for ``kind`` whose failure reads as one line (ranges are checked by the declaration)."""
    def convert(text: str):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got '{text}'") from None
    convert.__name__ = kind.__name__
    return convert


def add_sampling(p: argparse.ArgumentParser) -> None:
    """One flag per sampling option that any registered strategy reads (``Strategy.options``)."""
    from genstrat.strategies import STRATEGIES, all_options

    for option in all_options().values():
        users = [name for name, cls in STRATEGIES.items() if option in cls.options]
        where = "" if len(users) == len(STRATEGIES) else f"{', '.join(users)}: "
        flag = "--" + option.name.replace("_", "-")
        if option.switch:
            p.add_argument(flag, action="store_true", default=None, help=where + option.help)
        else:
            kind = positive_int if option.type is int else positive_float if option.name == "top_p" else option.type
            p.add_argument(flag, type=kind, default=None, choices=option.choices or None, help=where + option.help)


def add_training(p: argparse.ArgumentParser, command: str) -> None:
    """One flag per training option ``command`` takes, generated from ``TrainingOptions`` (training/options.py)."""
    import typing

    from genstrat.training.options import TrainingOptions, default_for, fields_for

    hints = typing.get_type_hints(TrainingOptions)
    for f in fields_for(command):
        flag, default = "--" + f.name.replace("_", "-"), default_for(f, command)
        if f.metadata.get("switch"):
            p.add_argument(flag, action="store_true", help=f.metadata["help"])
            continue
        kind = next(t for t in typing.get_args(hints[f.name]) or (hints[f.name],) if t is not type(None))
        shown = f.metadata.get("default_help", {}).get(command, default)
        p.add_argument(flag, type={int: positive_int, float: positive_float}.get(kind, kind), default=default,
                       choices=f.metadata.get("choices"),
                       help=f.metadata["help"] + ("" if shown is None else f" (default {shown})"))


def sampling_overrides(args) -> dict:
    from genstrat.strategies import all_options
    from genstrat.strategies.base import check_option_value

    for name in all_options():
        check_option_value(name, getattr(args, name, None))
    return {name: getattr(args, name) for name in all_options()}


def select_device(name: str | None):
    from genstrat.api import default_device

    return default_device(name)


def start_distributed(device):
    """Under torchrun (WORLD_SIZE > 1): join the process group (gloo on CPU, NCCL on CUDA)."""
    import torch
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return device, False
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device, True


def given(args, command: str) -> dict:
    from genstrat.training.options import given as training_given

    return training_given(args, command)


def data_options(args) -> dict:
    """The data options given on the command line (every declared one; None where not given)."""
    from genstrat.data import data_options as declared

    return {name: getattr(args, name) for name in declared()}


def cmd_train(args) -> int:
    import torch

    from genstrat import api
    from genstrat.training.loop import world

    if args.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS needs it before CUDA starts
        torch.use_deterministic_algorithms(True)
    device, distributed = start_distributed(select_device(args.device))
    try:
        summary = api.train(
            args.data,
            args.strategy,
            args.out,
            steps=args.steps,
            minutes=args.minutes,
            autoencoder=args.autoencoder,
            seed=args.seed,
            resume=args.resume,
            **{k: v for k, v in given(args, "train").items() if k != "deterministic"},
            sampling=sampling_overrides(args),
            data_options=data_options(args),
            device=device,
            progress=not args.no_progress,
        )
        if world()[0] == 0:
            print(
                f"trained {args.strategy} on {args.data}: {summary['steps']} steps in {summary['seconds']:.0f} s, "
                f"loss {summary['loss']:.4f}; checkpoint in {args.out}"
            )
        if distributed:  # leave together: without this barrier a rank could abort in gloo's teardown
            import torch.distributed as dist

            dist.barrier()
    finally:
        if distributed:
            import torch.distributed as dist

            dist.destroy_process_group()
    return 0


def cmd_distill(args) -> int:
    from genstrat import api

    rounds = api.distill(args.teacher, args.out, steps=args.steps, minutes=args.minutes, updates=args.updates,
                         teacher_steps=args.teacher_steps, seed=args.seed, resume=args.resume,
                         device=args.device, progress=not args.no_progress, **given(args, "distill"))
    for r in rounds:
        print(f"{r['student_steps']:>3}-step student: {r['updates']} updates in {r['seconds']:.0f} s, "
              f"loss {r['loss']:.4g} -> {r['folder']}")
    return 0


def cmd_sample(args) -> int:
    from genstrat import api
    from genstrat.training.checkpoint import ensure_writable
    from genstrat.modalities import modality_of

    if args.out is not None:
        ensure_writable(Path(args.out), "--out", is_file=True)
    generator = api.load(args.checkpoint, device=args.device)
    overrides = {k: v for k, v in sampling_overrides(args).items() if v is not None}
    out = api.sample(
        generator,
        label=args.label,
        prompt=args.prompt,
        n=args.n,
        steps=args.steps,
        seed=args.seed,
        options=overrides,
        versions=args.versions,
    )
    classes = generator.config["class_names"]
    what = f"prompt {args.prompt[-40:]!r}" if args.prompt is not None else f"label {args.label} ({classes[args.label]})"
    print(f"{generator.strategy.name}: {args.n} samples for {what} in {out.nfe} sequential network evaluations")
    for line in modality_of(generator.units).print_samples(generator.units, out.units, out.versions, args.out):
        print(line)
    return 0


def cmd_tune(args) -> int:
    import json

    from genstrat import api
    from genstrat.benchmark.tune import summary

    rows = api.tune(args.checkpoint, args.vary, args.out, steps=args.steps, n=args.n, seeds=args.seeds,
                    batch=args.batch, data_dir=args.data_dir, judge_steps=args.judge_steps, seed=args.seed,
                    device=args.device, resume=args.resume, progress=not args.no_progress)
    for line in summary(rows):
        print(f"{json.dumps(line['setting'])}: val_fd {line['val_fd']:.4g}, agree {line['agree']:.3f} "
              f"(mean of {line['seeds']} seeds)")
    print(f"-> {args.out}")
    return 0


def cmd_train_autoencoder(args) -> int:
    from genstrat import api

    metrics = api.train_autoencoder(
        args.data,
        args.out,
        quantizer=args.quantizer,
        steps=args.steps,
        minutes=args.minutes,
        factor=args.factor,
        latent_channels=args.latent_channels,
        codebooks=args.codebooks,
        base=args.base,
        scales=args.scales,
        split_from=args.split_from,
        **given(args, "train-autoencoder"),
        seed=args.seed,
        judge_steps=args.judge_steps,
        resume=args.resume,
        data_options=data_options(args),
        device=select_device(args.device),
        progress=not args.no_progress,
    )
    cfg = metrics.pop("config")
    print(
        f"auto-encoder ({cfg.quantizer}) on {args.data}: {cfg.describe()} of {code_description(cfg)}; "
        + ", ".join(f"{k} {v}" for k, v in metrics.items())
        + f"; checkpoint in {args.out}"
    )
    return 0


def code_description(cfg) -> str:
    """'1000 values' (discrete codes) or '4 channels' (continuous latents), for the one-line summary."""
    return f"{cfg.codebook_size} values" if cfg.codebook_size else f"{cfg.code_channels} channels"


def shipped_names(kind: str = "stage-one") -> str:
    from genstrat.pretrained import shipped

    return ", ".join(shipped(kind)) or "none yet"


def bench_autoencoder_budget(args):
    """The auto-encoder's share of a two-stage row's budget, when given: --ae-minutes or --ae-steps."""
    from genstrat.training.loop import Budget

    if args.ae_minutes is not None or args.ae_steps is not None:
        return Budget(minutes=args.ae_minutes, steps=args.ae_steps)
    return None


def bench_distill_budget(args):
    """What the distillation rounds of one distilled:* row take together, when given (else the training budget)."""
    from genstrat.training.loop import Budget

    if args.distill_minutes is not None or args.distill_updates is not None:
        return Budget(minutes=args.distill_minutes, steps=args.distill_updates)
    return None


def cmd_bench(args, command: str) -> int:
    from genstrat import api

    rows = api.bench(
        args.data,
        args.strategies,
        args.out,
        train_steps=args.train_steps,
        train_minutes=args.train_minutes,
        steps=args.steps,
        resume=args.resume,
        command=command,
        progress=not args.no_progress,
        device=args.device,
        n=args.n,
        **given(args, "bench"),
        seed=args.seed,
        throughput_batch=args.throughput_batch,
        latency_repeats=args.latency_repeats,
        judge_steps=args.judge_steps,
        judge_seed=args.judge_seed,
        overrides=sampling_overrides(args),
        ae_budget=bench_autoencoder_budget(args),
        ae_batch_size=args.ae_batch_size,
        distill_budget=bench_distill_budget(args),
        teacher_steps=args.teacher_steps,
        peers=False if args.peers is None else True if args.peers == "all" else tuple(args.peers.split(",")),
        autoencoder=args.autoencoder,
        trained=args.trained,
        data_options=data_options(args),
    )
    print(f"{len(rows)} rows -> {Path(args.out) / 'results.json'}; report: {Path(args.out) / 'report.md'}")
    return 0


def cmd_demo(args) -> int:
    from genstrat import api
    from genstrat.demo import print_claims

    page, claims = api.demo(args.out, seed=args.seed, device=args.device, progress=not args.no_progress,
                            resume=args.resume, from_scratch=args.from_scratch)
    print("the lecture's claims, read off the demo's rows:")
    print_claims(claims)
    print(f"demo done: open {page}")
    return 0


def cmd_decode_floor(args) -> int:
    from genstrat import api

    rows, bars = api.decode_floor(args.out, mnist_dir=args.mnist_dir, fsdd_dir=args.fsdd_dir, repeats=args.repeats,
                                  seed=args.seed, peers=not args.no_peers, progress=not args.no_progress)
    for key, value in bars.items():
        print(f"  {key}: {value}")
    print(f"{len(rows)} rows -> {args.out}; bars beside it (-bars.json)")
    return 0


def cmd_throughput(args) -> int:
    from genstrat import api

    rows = api.throughput(args.data, args.strategies, args.out, runs=args.runs, steps=args.train_steps,
                          **given(args, "throughput"), seed=args.seed, data_options=data_options(args),
                          device=args.device, progress=not args.no_progress)
    print(f"{len(rows)} rows -> {args.out}")
    return 0


def cmd_report(args) -> int:
    from genstrat import api

    print(f"report: {api.report(*args.folders, out=args.out)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from genstrat.data.options import DATA_DIR
    from genstrat.nn.autoencoder import QUANTIZERS
    from genstrat.strategies import STRATEGIES

    parser = argparse.ArgumentParser(
        prog="genstrat", description="Generation strategies, trained and measured side by side."
    )
    sub = parser.add_subparsers(
        dest="command", required=True,
        metavar="{train,train-autoencoder,distill,sample,bench,report,demo,throughput,decode-floor}"
    )

    p = sub.add_parser("train", help="train one strategy on one dataset")
    add_data(p)
    p.add_argument(
        "--strategy",
        required=True,
        help=f"{', '.join(STRATEGIES)}, or two-stage:<prior> (e.g. two-stage:ar, with --autoencoder)",
    )
    p.add_argument(
        "--autoencoder", default=None, help="two-stage strategies: the folder genstrat train-autoencoder wrote, or "
        f"a stage one shipped with genstrat by name ({shipped_names()})"
    )
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=positive_float)
    budget.add_argument("--steps", type=positive_int)
    p.add_argument("--out", required=True, help="checkpoint folder to write")
    p.add_argument("--resume", action="store_true", help="continue the training state saved in --out")
    add_training(p, "train")
    add_sampling(p)
    add_common(p)

    p = sub.add_parser(
        "train-autoencoder", help="train the image auto-encoder of two-stage generation and report its reconstructions"
    )
    add_data(p)
    p.add_argument(
        "--quantizer",
        choices=(*QUANTIZERS, "multiscale"),
        default="fsq",
        help="fsq: discrete codes (priors over symbols: ar, mask-predict, ...); continuous: latents for diffusion; "
        "multiscale: VAR's token maps of growing size over a trained fsq stage one (--base; for next-scale)",
    )
    p.add_argument(
        "--base",
        default=None,
        help="multiscale: the trained fsq stage one (a train-autoencoder folder) whose latent the quantizer splits; "
        "it stays frozen",
    )
    p.add_argument(
        "--scales",
        type=lambda text: [positive_int(x) for x in text.split(",") if x],
        default=None,
        help="multiscale: each token map's side (images) or frames (audio), coarsest first, the last the latent's "
        "own (default: sides doubling from 2 over an image grid, 2,4,7 over 7x7; fourfold from 1 over a codec's "
        "frames, 1,4,16,64,126)",
    )
    p.add_argument(
        "--split-from",
        type=lambda text: 0 if text.strip() == "0" else positive_int(text),
        default=None,
        help="multiscale: coarser maps of at least this side (frames) are drawn in two checkerboard halves too, like "
        "the finest, one pass more each (0: only the finest; default 0)",
    )
    p.add_argument(
        "--factor",
        type=positive_int,
        default=None,
        help="downsampling: per side for images (default 4 for 28x28 -> 7x7, 2 for 8x8); for audio the samples per "
        "code frame, the STFT hop (default 64)",
    )
    p.add_argument(
        "--latent-channels",
        type=positive_int,
        default=None,
        help="continuous: channels per latent position (default 4)",
    )
    p.add_argument(
        "--codebooks",
        type=positive_int,
        default=None,
        help="audio fsq: codes per frame, each from its own 1,000-code FSQ codebook (default 1; 2 reconstructs better "
        "but doubles the prior's sequence)",
    )
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=positive_float)
    budget.add_argument("--steps", type=positive_int)
    p.add_argument("--out", required=True, help="auto-encoder folder to write")
    p.add_argument("--resume", action="store_true", help="continue the training state saved in --out")
    add_training(p, "train-autoencoder")
    p.add_argument(
        "--judge-steps", type=positive_int, default=2000, help="training steps of the judge that scores reconstructions"
    )
    add_common(p)

    p = sub.add_parser("distill", help="progressive distillation of a diffusion checkpoint into few-step students")
    p.add_argument("teacher", help="a diffusion or two-stage:diffusion checkpoint folder")
    p.add_argument("--steps", type=int_list, default=[4, 2, 1],
                   help="the students' step counts to reach by halving (default 4,2,1); every round is kept")
    p.add_argument("--teacher-steps", type=positive_int, default=16,
                   help="the DDIM steps of the teacher the first student learns to match in half as many (default 16)")
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=positive_float, help="wall-clock for all the rounds, shared equally")
    budget.add_argument("--updates", type=positive_int, help="training updates of all the rounds, shared equally")
    p.add_argument("--out", required=True, help="folder for the students: OUT/steps-N, one checkpoint per round")
    p.add_argument("--resume", action="store_true",
                   help="keep finished rounds in --out and continue the interrupted one")
    add_training(p, "distill")
    add_common(p)

    p = sub.add_parser("sample", help="draw samples from a checkpoint into a PNG grid")
    p.add_argument("checkpoint")
    p.add_argument(
        "--label", type=int, default=None, help="the class to draw (labelled data: digits, mnist, probe, names, ...)"
    )
    p.add_argument(
        "--prompt", default=None, help="text to continue (context-window text data: shakespeare, textfile:PATH)"
    )
    p.add_argument(
        "--steps", type=positive_int, default=None, help="passes for iterative strategies (AR always takes L)"
    )
    p.add_argument("--n", type=positive_int, default=16)
    p.add_argument(
        "--out",
        default=None,
        help="image grid (PNG, default samples.png); text models print, and write a .txt here if named so",
    )
    p.add_argument("--versions", action="store_true", help="also write every intermediate version as a strip and a GIF")
    add_sampling(p)
    add_common(p)

    p = sub.add_parser("tune", help="choose a checkpoint's sampling settings on a validation reference (training "
                       "objects), not on the test split a bench reports")
    p.add_argument("checkpoint")
    p.add_argument("--vary", action="append", required=True, metavar="NAME=V1,V2",
                   help="a sampling option and its values (repeat for more; every combination is measured)")
    p.add_argument("--steps", type=positive_int, default=None, help="passes for iterative strategies")
    p.add_argument("--n", type=positive_int, default=None, help="samples per setting and seed (default: the bench's)")
    p.add_argument("--seeds", type=int_list, default=[100, 200], help="condition and sampling seeds (default 100,200)")
    p.add_argument("--batch", type=positive_int, default=250, help="samples drawn at once")
    p.add_argument(DATA_DIR.flag, default=None, help="the dataset's folder, if not where the checkpoint was trained")
    p.add_argument("--out", default="tune.json", help="the rows, written as they are measured")
    p.add_argument("--judge-steps", type=positive_int, default=2000,
                   help="the judge's training steps: the same as the bench's (default 2000) reuses its cached judge")
    p.add_argument("--resume", action="store_true", help="keep the rows already in --out")
    add_common(p)

    p = sub.add_parser("demo", help="the whole lecture on the embedded data: images, text and audio benches over "
                       "the shipped trained models, sampled, timed and judged live, then one index.html")
    p.add_argument("--out", default="runs/demo", help="folder for the three benches and index.html")
    p.add_argument("--resume", action="store_true", help="continue an interrupted demo in --out")
    p.add_argument("--from-scratch", action="store_true",
                   help="train every model here on the step budgets the shipped ones were trained on (about an hour "
                   "on 2 cores) instead of loading them")
    add_common(p)

    for name in ("bench",):
        p = sub.add_parser(name, help="train every strategy on one budget and measure them side by side")
        add_data(p)
        p.add_argument(
            "--strategies",
            type=name_list,
            default=["ar", "nar", "mask-predict"],
            help=f"comma-separated: {', '.join(STRATEGIES)}, two-stage:<prior>, distilled:<diffusion teacher> "
            "(after its teacher)",
        )
        p.add_argument("--steps", type=int_list, default=[1, 4, 8, 16], help="step counts for iterative strategies")
        budget = p.add_mutually_exclusive_group(required=True)
        budget.add_argument("--train-minutes", type=positive_float, default=None)
        budget.add_argument("--train-steps", type=positive_int, default=None)
        p.add_argument("--out", required=True)
        p.add_argument("--n", type=positive_int, default=None,
                       help="samples per row (default 1000 images, 6000 texts, 500 clips)")
        add_training(p, "bench")
        p.add_argument("--throughput-batch", type=positive_int, default=100)
        p.add_argument("--latency-repeats", type=positive_int, default=5,
                       help="timed batch-1 generations per row, at least (their median is the latency; one warm-up "
                            "before; calls are repeated for about a second, up to 4x as many)")
        p.add_argument(
            "--judge-steps",
            type=positive_int,
            default=2000,
            help="training steps of the judge (images) or reference AR (text)",
        )
        p.add_argument("--judge-seed", type=int, default=0,
                       help="the judge's (text: the reference AR's) training seed, apart from --seed: benches of "
                            "several --seed values are judged by one judge (default 0)")
        ae = p.add_mutually_exclusive_group()
        ae.add_argument(
            "--ae-minutes",
            type=positive_float,
            default=None,
            help="two-stage rows: the auto-encoder's share of --train-minutes (default 30%%); the prior gets the rest",
        )
        ae.add_argument(
            "--ae-steps",
            type=positive_int,
            default=None,
            help="two-stage rows with --train-steps: auto-encoder steps (default the same)",
        )
        p.add_argument(
            "--ae-batch-size", type=positive_int, default=128, help="two-stage rows: the auto-encoder's batch size"
        )
        students = p.add_mutually_exclusive_group()
        students.add_argument("--distill-minutes", type=positive_float, default=None,
                              help="distilled:<teacher> rows: minutes for all the rounds of one student together "
                              "(default: the training budget)")
        students.add_argument("--distill-updates", type=positive_int, default=None,
                              help="distilled:<teacher> rows: updates for all the rounds together")
        p.add_argument("--teacher-steps", type=positive_int, default=16,
                       help="distilled:<teacher> rows: the teacher's DDIM steps the first student matches in half as "
                       "many; students are measured at every halving down to the fewest --steps")
        p.add_argument(
            "--autoencoder",
            default=None,
            help="two-stage rows: a trained stage one (the folder genstrat train-autoencoder wrote, or one shipped "
            f"with genstrat by name: {shipped_names()}) instead of training one in the bench; its training is not "
            "charged to the priors (its steps and seconds are recorded)",
        )
        p.add_argument(
            "--trained",
            default=None,
            help="an earlier bench folder on the same data (or a shipped one by name: "
            f"{shipped_names('bench')}) whose trained models are loaded instead of trained; strategies with no "
            "checkpoint there are trained here; every row says which",
        )
        p.add_argument(
            "--peers",
            nargs="?",
            const="all",
            default=None,
            metavar="NAMES",
            help="also measure the peer libraries beside ours in this run (pip install -e '.[peers]'; genstrat/peers/):"
            " all of them, or the comma-separated NAMES of transformers:gpt2, diffusers:unet2d, k-diffusion,"
            " muse-maskgit",
        )
        p.add_argument(
            "--resume",
            action="store_true",
            help="continue an interrupted bench in --out with the same settings: keep its measured rows, "
            "resume its trainings",
        )
        add_sampling(p)
        add_common(p)

    p = sub.add_parser("report", help="rewrite report.md of bench folders and write one self-contained index.html")
    p.add_argument("folders", nargs="+", metavar="FOLDER")
    p.add_argument("--out", default=None, help="the page (default FOLDER/index.html for one folder, else ./index.html)")

    p = sub.add_parser("throughput", help="updates/s and GFLOP/s of each strategy's training step, per precision")
    add_data(p)
    p.add_argument(
        "--strategies", type=name_list, default=["ar", "mask-predict", "diffusion", "coarse-to-fine", "two-stage:ar"]
    )
    p.add_argument("--train-steps", type=positive_int, default=10, help="training steps timed per row")
    add_training(p, "throughput")
    p.add_argument(
        "--runs",
        type=name_list,
        default=["fp32:plain", "fp32:fused", "bf16:fused", "auto:fused"],
        help="precision:optimizer pairs to time; plain = AdamW's loop over the parameters (training's default), "
        "fused = one kernel for all of them",
    )
    p.add_argument("--out", required=True, help="JSON file for the rows")
    add_common(p)

    p = sub.add_parser("decode-floor", help="each sequential sampler's batch-1 step against its compute floor, eager "
                                            "and compiled, and transformers' decoding at its best")
    p.add_argument("--mnist-dir", default="../shared/data/mnist")
    p.add_argument("--fsdd-dir", default="../shared/data/fsdd")
    p.add_argument("--repeats", type=positive_int, default=3, help="timed generations per row (median), after one")
    p.add_argument("--no-peers", action="store_true", help="leave out transformers' rows")
    p.add_argument("--out", required=True, help="JSON file for the rows")
    add_common(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    command = "genstrat " + " ".join(shlex.quote(a) for a in argv)
    try:
        if args.command == "train":
            return cmd_train(args)
        if args.command == "train-autoencoder":
            return cmd_train_autoencoder(args)
        if args.command == "sample":
            return cmd_sample(args)
        if args.command == "distill":
            return cmd_distill(args)
        if args.command == "bench":
            return cmd_bench(args, command)
        if args.command == "demo":
            return cmd_demo(args)
        if args.command == "tune":
            return cmd_tune(args)
        if args.command == "report":
            return cmd_report(args)
        if args.command == "throughput":
            return cmd_throughput(args)
        if args.command == "decode-floor":
            return cmd_decode_floor(args)
    except GenstratError as e:
        print(f"genstrat: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genstrat: interrupted", file=sys.stderr)
        return 130
    return 1
