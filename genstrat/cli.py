"""The command line: `genstrat train | sample | bench | report | demo`.

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
    p.add_argument("--data", default="digits", help="images: digits (embedded), mnist, imagefolder:PATH; "
                   "text: probe, names (embedded), shakespeare, textfile:PATH")
    p.add_argument("--data-dir", default=None, help="folder with the dataset's files (else $GENSTRAT_DATA, then the cache)")
    p.add_argument("--image-size", type=positive_int, default=None, help="imagefolder: resize images to this square size")
    p.add_argument("--channels", type=int, choices=(1, 3), default=None, help="imagefolder: 1 = grey, 3 = colour")
    p.add_argument("--levels", type=positive_int, default=None, help="quantise pixels to this many levels")


def add_sampling(p: argparse.ArgumentParser) -> None:
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--top-k", type=positive_int, default=None)
    p.add_argument("--top-p", type=positive_float, default=None)
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale (1 = none)")
    p.add_argument("--noise", type=float, default=None, help="mask-predict: Gumbel noise on confidences, annealed to 0")
    p.add_argument("--revise", action="store_true", default=None, help="mask-predict: decided tokens may be re-masked too")
    p.add_argument("--sampler", choices=("ddpm", "ddim", "dpm-solver", "dpm-solver-sde"), default=None, help="diffusion: which scheduler samples")


def sampling_overrides(args) -> dict:
    if args.top_p is not None and args.top_p > 1:
        raise GenstratError(f"--top-p must be in (0, 1], got {args.top_p}")
    if args.temperature is not None and args.temperature < 0:
        raise GenstratError(f"--temperature must be at least 0, got {args.temperature}")
    return {"temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p, "guidance": args.guidance, "noise": args.noise,
            "revise": args.revise, "sampler": args.sampler}


def select_device(name: str | None):
    import torch

    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GenstratError(f"--device {name} asked for, but no CUDA device is available; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise GenstratError(f"unknown device '{name}'; use cpu or cuda") from None


def start_distributed(device):
    """Under torchrun (WORLD_SIZE > 1): join the process group (gloo on CPU, NCCL on CUDA)."""
    import os

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


def cmd_train(args) -> int:
    import torch

    from genstrat.data import load_dataset
    from genstrat.model_io import build_model, checkpoint_config
    from genstrat.strategies import TwoStage, get_strategy
    from genstrat.train import Budget, train, world

    strategy = get_strategy(args.strategy)
    budget = Budget(steps=args.steps, minutes=args.minutes)
    if args.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # what deterministic cuBLAS needs (set before CUDA starts)
        torch.use_deterministic_algorithms(True)
    device, distributed = start_distributed(select_device(args.device))
    try:
        data = load_dataset(args.data, data_dir=args.data_dir, image_size=args.image_size, channels=args.channels, levels=args.levels)
        torch.manual_seed(args.seed)
        out = Path(args.out)
        if isinstance(strategy, TwoStage):
            from genstrat.autoencoding import copy_autoencoder, load_autoencoder

            if args.autoencoder is None:
                raise GenstratError(f"{strategy.name} needs --autoencoder DIR (made by genstrat train-autoencoder)")
            strategy.attach(load_autoencoder(args.autoencoder))
            if world()[0] == 0:
                copy_autoencoder(Path(args.autoencoder), out)
        model = build_model(strategy, data.units, data.num_classes, size=args.size, context_len=data.context_len).to(device)
        options = strategy.sampling_defaults().merged(**sampling_overrides(args))
        config = checkpoint_config(strategy, model, data, options, training={})
        summary = train(strategy, model, data, budget, batch_size=args.batch_size, lr=args.lr, seed=args.seed, out=out,
                        config=config, save_every_s=args.save_every_minutes * 60, save_every_steps=args.save_every_steps,
                        resume=args.resume, progress=not args.no_progress, ema=args.ema, precision=args.precision)
        if world()[0] == 0:
            print(f"trained {strategy.name} on {data.name}: {summary['steps']} steps in {summary['seconds']:.0f} s, "
                  f"loss {summary['loss']:.4f}; checkpoint in {out}")
        if distributed:  # leave together: without this barrier a rank could abort in gloo's teardown (2 of 68 runs; 0 of 60 with it)
            import torch.distributed as dist

            dist.barrier()
    finally:
        if distributed:
            import torch.distributed as dist

            dist.destroy_process_group()
    return 0


def sample_condition(args, config: dict, units_space, device):
    """The condition tensor for `genstrat sample`: --label for labelled data, --prompt for context-window text."""
    import torch

    context_len = config["backbone"].get("context_len", 0)
    if context_len:
        if args.prompt is None:
            raise GenstratError("this model continues text: give --prompt 'some text' (its last tokens are the context)")
        try:
            ids = units_space.tokenize([args.prompt])[0][-context_len:]
        except ValueError as e:
            raise GenstratError(f"--prompt: {e}") from None
        row = [units_space.pad_id] * (context_len - len(ids)) + ids
        return torch.tensor([row] * args.n, dtype=torch.long, device=device), f"prompt {args.prompt[-40:]!r}"
    classes = config["class_names"]
    if args.label is None:
        raise GenstratError(f"give --label: this model knows labels 0..{len(classes) - 1} ({', '.join(classes)})")
    if not 0 <= args.label < len(classes):
        raise GenstratError(f"--label {args.label} is out of range; this model knows labels 0..{len(classes) - 1} ({', '.join(classes)})")
    return torch.full((args.n,), args.label, dtype=torch.long, device=device), f"label {args.label} ({classes[args.label]})"


def cmd_sample(args) -> int:
    import torch

    from genstrat.model_io import load_model
    from genstrat.strategies import SamplingOptions
    from genstrat.units import units_from_dict

    model, strategy, config = load_model(args.checkpoint)
    device = select_device(args.device)
    model.to(device)
    options = SamplingOptions(**config.get("sampling", {})).merged(**sampling_overrides(args))
    units_space = units_from_dict(config["units"])
    cond, what = sample_condition(args, config, units_space, device)
    versions = []
    on_version = (lambda i, u: versions.append(u.cpu())) if args.versions else None
    result = strategy.generate(model, cond, args.steps, torch.Generator(device).manual_seed(args.seed), on_version=on_version, options=options)
    if units_space.variable_length:  # text: print the samples (and write them when --out names a .txt file)
        texts = units_space.decode(result.units.cpu())
        print(f"{strategy.name}: {args.n} samples for {what} in {result.nfe} sequential network evaluations")
        for text in texts:
            print(f"  {text}")
        for i, v in enumerate(versions, 1):
            print(f"  version {i}: {units_space.decode(v[:1])[0]}")
        if args.out.endswith(".txt"):
            from genstrat.checkpoint import atomic_write

            atomic_write(Path(args.out), ("\n".join(texts) + "\n").encode())
            print(f"-> {args.out}")
        return 0
    from genstrat.report.grid import save_grid

    images = units_space.decode(result.units.cpu())
    out = save_grid(images, Path(args.out), columns=min(args.n, 8))
    print(f"{strategy.name}: {args.n} samples of {what} in {result.nfe} sequential network evaluations -> {out}")
    if versions:
        from genstrat.report.versions import save_versions

        strip, gif = save_versions([units_space.decode(v[:1]) for v in versions], Path(args.out))
        print(f"versions 1..{len(versions)}: {strip} and {gif}")
    return 0


def cmd_train_autoencoder(args) -> int:
    import torch

    from genstrat.autoencoding import autoencoder_config, fit_autoencoder
    from genstrat.checkpoint import write_json
    from genstrat.data import load_dataset
    from genstrat.eval.judging import fit_judge, real_images
    from genstrat.eval.reconstruction import reconstruction_metrics
    from genstrat.nn.judge import judge_outputs
    from genstrat.train import Budget

    budget = Budget(steps=args.steps, minutes=args.minutes)
    data = load_dataset(args.data, data_dir=args.data_dir, image_size=args.image_size, channels=args.channels, levels=args.levels)
    if args.latent_channels and args.quantizer != "continuous":
        raise GenstratError("--latent-channels sets continuous latents; add --quantizer continuous, or drop it for fsq codes")
    cfg = autoencoder_config(data, args.quantizer, args.factor, **({"latent_channels": args.latent_channels} if args.latent_channels else {}))
    out = Path(args.out)
    model, summary = fit_autoencoder(data, cfg, budget, out, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                                     resume=args.resume, progress=not args.no_progress, device=select_device(args.device))
    judge, accuracy = fit_judge(data, steps=args.judge_steps, seed=args.seed, cache=out.parent / "judge", progress=not args.no_progress)
    reference, _ = judge_outputs(judge, real_images(data, "test")[0])
    metrics = reconstruction_metrics(model, data, judge, reference, min(1000, data.test_units.shape[0]), torch.Generator().manual_seed(args.seed))
    metrics.update(judge_test_accuracy=round(accuracy, 4), train_steps=summary["steps"], train_seconds=summary["seconds"])
    write_json(out / "metrics.json", metrics)  # atomic, like every file a command writes
    h, w = cfg.grid
    print(f"auto-encoder ({cfg.quantizer}) on {data.name}: {data.units.seq_len} pixels -> {h}x{w}x{code_description(cfg)} codes; "
          f"{summary['steps']} steps in {summary['seconds']:.0f} s; " + ", ".join(f"{k} {v}" for k, v in metrics.items()) + f"; checkpoint in {out}")
    return 0


def code_description(cfg) -> str:
    """'1000 values' (discrete codes) or '4 channels' (continuous latents), for the one-line summary."""
    return f"{cfg.codebook_size} values" if cfg.codebook_size else f"{cfg.code_channels} channels"


def bench_autoencoder_budget(args, budget):
    """The auto-encoder's share of a two-stage row's budget: --ae-minutes / --ae-steps, else 30% of the minutes or the same steps."""
    from genstrat.train import Budget

    if args.ae_minutes is not None or args.ae_steps is not None:
        return Budget(minutes=args.ae_minutes, steps=args.ae_steps)
    return Budget(minutes=0.3 * budget.minutes) if budget.minutes is not None else Budget(steps=budget.steps)


def cmd_bench(args, command: str) -> int:
    from genstrat.bench.run import run_bench
    from genstrat.train import Budget

    budget = Budget(steps=args.train_steps, minutes=args.train_minutes)
    rows = run_bench(args.data, args.strategies, args.steps, Path(args.out), budget=budget, n=args.n, size=args.size,
                     batch_size=args.batch_size, lr=args.lr, seed=args.seed, throughput_batch=args.throughput_batch,
                     judge_steps=args.judge_steps, data_dir=args.data_dir, image_size=args.image_size, channels=args.channels,
                     levels=args.levels, overrides=sampling_overrides(args), command=command, progress=not args.no_progress, ema=args.ema,
                     device=select_device(args.device), ae_budget=bench_autoencoder_budget(args, budget),
                     ae_batch_size=args.ae_batch_size, resume=args.resume, precision=args.precision)
    print(f"{len(rows)} rows -> {Path(args.out) / 'results.json'}; report: {Path(args.out) / 'report.md'}")
    return 0


def cmd_report(args) -> int:
    from genstrat.checkpoint import read_json
    from genstrat.report.markdown import write_report

    folder = Path(args.folder)
    import json

    try:
        rows = json.loads((folder / "results.json").read_text())
    except (OSError, ValueError) as e:
        raise GenstratError(f"cannot read {folder / 'results.json'} ({e.__class__.__name__}); run `genstrat bench --out {folder}` first") from None
    meta = read_json(folder / "meta.json", "bench metadata")
    print(f"report: {write_report(rows, meta, folder)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from genstrat.model_io import SIZES

    parser = argparse.ArgumentParser(prog="genstrat", description="Generation strategies, trained and measured side by side.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,train-autoencoder,sample,bench,report,demo}")

    p = sub.add_parser("train", help="train one strategy on one dataset")
    add_data(p)
    p.add_argument("--strategy", required=True, help="ar, nar (= nar-end), nar-length, mask-predict, latent, coarse-to-fine, diffusion, "
                   "or two-stage:<prior> (e.g. two-stage:ar, with --autoencoder)")
    p.add_argument("--autoencoder", default=None, help="two-stage strategies: the folder genstrat train-autoencoder wrote")
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=positive_float)
    budget.add_argument("--steps", type=positive_int)
    p.add_argument("--out", required=True, help="checkpoint folder to write")
    p.add_argument("--resume", action="store_true", help="continue the training state saved in --out")
    p.add_argument("--size", choices=sorted(SIZES), default="small", help="backbone size")
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--lr", type=positive_float, default=2e-3)
    p.add_argument("--save-every-minutes", type=positive_float, default=5.0, help="write the training state this often")
    p.add_argument("--save-every-steps", type=positive_int, default=None, help="... and/or every this many steps")
    p.add_argument("--deterministic", action="store_true", help="torch.use_deterministic_algorithms(True)")
    p.add_argument("--ema", type=positive_float, default=None, help="keep an exponential moving average of the weights (e.g. 0.999) and save it")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="bf16: forward pass under bfloat16 autocast (weights stay fp32)")
    add_sampling(p)
    add_common(p)

    p = sub.add_parser("train-autoencoder", help="train the image auto-encoder of two-stage generation and report its reconstructions")
    add_data(p)
    p.add_argument("--quantizer", choices=("fsq", "continuous"), default="fsq",
                   help="fsq: discrete codes (priors ar, mask-predict, nar, latent); continuous: latents for diffusion")
    p.add_argument("--factor", type=positive_int, default=None, help="downsampling per side (default 4 for 28x28 -> 7x7, 2 for 8x8)")
    p.add_argument("--latent-channels", type=positive_int, default=None, help="continuous: channels per latent position (default 4)")
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=positive_float)
    budget.add_argument("--steps", type=positive_int)
    p.add_argument("--out", required=True, help="auto-encoder folder to write")
    p.add_argument("--resume", action="store_true", help="continue the training state saved in --out")
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--lr", type=positive_float, default=2e-3)
    p.add_argument("--judge-steps", type=positive_int, default=2000, help="training steps of the judge that scores reconstructions")
    add_common(p)

    p = sub.add_parser("sample", help="draw samples from a checkpoint into a PNG grid")
    p.add_argument("checkpoint")
    p.add_argument("--label", type=int, default=None, help="the class to draw (labelled data: digits, mnist, probe, names, ...)")
    p.add_argument("--prompt", default=None, help="text to continue (context-window text data: shakespeare, textfile:PATH)")
    p.add_argument("--steps", type=positive_int, default=None, help="passes for iterative strategies (AR always takes L)")
    p.add_argument("--n", type=positive_int, default=16)
    p.add_argument("--out", default="samples.png", help="image grid (PNG); text models print and write a .txt here if named so")
    p.add_argument("--versions", action="store_true", help="also write every intermediate version as a strip and a GIF")
    add_sampling(p)
    add_common(p)

    for name in ("bench", "demo"):
        p = sub.add_parser(name, help="train every strategy on one budget and measure them side by side" if name == "bench"
                           else "the bench on digits, 3 minutes per strategy (about 10 minutes on 2 cores)")
        if name == "bench":
            add_data(p)
        p.add_argument("--strategies", type=name_list, default=["ar", "nar", "mask-predict"])
        p.add_argument("--steps", type=int_list, default=[1, 4, 8, 16], help="step counts for iterative strategies")
        budget = p.add_mutually_exclusive_group(required=(name == "bench"))
        budget.add_argument("--train-minutes", type=positive_float, default=None)
        budget.add_argument("--train-steps", type=positive_int, default=None)
        p.add_argument("--out", default="runs/demo" if name == "demo" else None, required=(name == "bench"))
        p.add_argument("--n", type=positive_int, default=None, help="samples per row (default 1000 images, 6000 texts)")
        p.add_argument("--size", choices=sorted(SIZES), default="small")
        p.add_argument("--batch-size", type=positive_int, default=128)
        p.add_argument("--lr", type=positive_float, default=2e-3)
        p.add_argument("--throughput-batch", type=positive_int, default=100)
        p.add_argument("--ema", type=positive_float, default=None, help="train with an exponential moving average of the weights (e.g. 0.999)")
        p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="bf16: train under bfloat16 autocast (weights stay fp32)")
        p.add_argument("--judge-steps", type=positive_int, default=2000, help="training steps of the judge (images) or reference AR (text)")
        ae = p.add_mutually_exclusive_group()
        ae.add_argument("--ae-minutes", type=positive_float, default=None,
                        help="two-stage rows: the auto-encoder's share of --train-minutes (default 30%%); the prior gets the rest")
        ae.add_argument("--ae-steps", type=positive_int, default=None, help="two-stage rows with --train-steps: auto-encoder steps (default the same)")
        p.add_argument("--ae-batch-size", type=positive_int, default=128, help="two-stage rows: the auto-encoder's batch size")
        p.add_argument("--resume", action="store_true",
                       help="continue an interrupted bench in --out with the same settings: keep its measured rows, resume its trainings")
        add_sampling(p)
        add_common(p)

    p = sub.add_parser("report", help="rewrite report.md from a bench folder's results.json")
    p.add_argument("folder")
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
        if args.command == "bench":
            return cmd_bench(args, command)
        if args.command == "demo":
            args.data, args.data_dir, args.image_size, args.channels, args.levels = "digits", None, None, None, None
            if args.train_minutes is None and args.train_steps is None:
                args.train_minutes = 3.0
            cmd_bench(args, command)
            print(f"demo done: open {Path(args.out) / 'report.md'}")
            return 0
        if args.command == "report":
            return cmd_report(args)
    except GenstratError as e:
        print(f"genstrat: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genstrat: interrupted", file=sys.stderr)
        return 130
    return 1
