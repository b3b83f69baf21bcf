"""Ship the demo's trained models in the package: a slim copy of each part of a ``genstrat demo --from-scratch`` run
(issue 37, "every strategy where it works").

    genstrat demo --from-scratch --out runs/demo-train
    python docs/experiments/ship_demo.py runs/demo-train --command "genstrat demo --from-scratch --out runs/demo-train"

Writes ``genstrat/pretrained/demo-<part>/`` for every part of ``genstrat.demo.PARTS``: what a bench needs to load
each trained model (``checkpoints/<strategy>/config.json`` and ``model.safetensors``, a student's rounds, the
auto-encoders a part trained with their records), with the weights' matrices stored in bf16 (vectors kept in fp32):
half the package, and the samples of a loaded model within their interval of the fp32 ones (``genstrat demo`` after
shipping measures them). A two-stage checkpoint over a stage one that is itself shipped (the speech codec) names it
instead of carrying a second copy. ``provenance.json`` records the command, the machine, the date, every file's
SHA-256 (checked before the folder is used) and each strategy's training updates and seconds.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from ship_codec import cpu_name

from genstrat.benchmark.store import file_name
from genstrat.training.checkpoint import read_json, write_json
from genstrat.demo import PARTS
from genstrat.training.model_io import SHIPPED_AUTOENCODER
from genstrat.pretrained import BENCH, HERE, PROVENANCE, file_sha256, shipped

WEIGHTS, CONFIG = "model.safetensors", "config.json"


def slim_weights(source: Path, target: Path) -> None:
    """Copy a safetensors file with its floating-point matrices in bf16 (biases, norms and scalars stay fp32)."""
    tensors = load_file(source)
    slim = {k: v.to(torch.bfloat16) if v.is_floating_point() and v.dim() >= 2 else v for k, v in tensors.items()}
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in slim.items()}, target)


def copy_model(source: Path, target: Path) -> None:
    """A checkpoint or auto-encoder folder's config and weights; a two-stage checkpoint's auto-encoder too, unless it
    is a shipped stage one (then the config names it)."""
    config = read_json(source / CONFIG, "checkpoint config")
    codec = source / "autoencoder"
    if codec.is_dir():
        digest = file_sha256(codec / WEIGHTS)
        named = [name for name, folder in shipped().items() if file_sha256(folder / WEIGHTS) == digest]
        if named:
            config[SHIPPED_AUTOENCODER] = named[0]
        else:
            copy_model(codec, target / "autoencoder")
    target.mkdir(parents=True, exist_ok=True)
    write_json(target / CONFIG, config)
    slim_weights(source / WEIGHTS, target / WEIGHTS)


def ship_part(run: Path, part, command: str, note: str | None = None) -> dict:
    source, target = run / part.folder, HERE / part.shipped
    shutil.rmtree(target, ignore_errors=True)
    trained = {}
    for name in part.strategies:
        folder = source / "checkpoints" / file_name(name)
        rounds = sorted(folder.glob("steps-*"))
        for model_folder in rounds or [folder]:
            copy_model(model_folder, target / model_folder.relative_to(source))
            training = read_json(model_folder / CONFIG, "checkpoint config").get("training", {})
            trained[str(model_folder.relative_to(source / "checkpoints"))] = {
                "train_steps": training.get("steps"), "train_seconds": training.get("seconds"),
                "precision": training.get("precision")}
    for kind_folder in sorted((source / "autoencoders").glob("*")):
        if (kind_folder / WEIGHTS).is_file():
            copy_model(kind_folder, target / "autoencoders" / kind_folder.name)
            record = "stage_one.json"
            shutil.copyfile(kind_folder / record, target / "autoencoders" / kind_folder.name / record)
    files = sorted(p for p in target.rglob("*") if p.is_file())
    record = {
        "name": part.shipped, "kind": BENCH,
        "what": f"the demo's {part.modality} part ({part.data}): {', '.join(part.strategies)}, trained by its "
                f"from-scratch run; matrices stored in bf16",
        "command": command, "machine": cpu_name(), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d"),
        "bench_command": read_json(source / "bench.json", "bench settings").get("command"),
        "trained": trained,
        **({"note": note} if note else {}),
        "sha256": {str(p.relative_to(target)): file_sha256(p) for p in files},
    }
    write_json(target / PROVENANCE, record)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="the OUT folder of `genstrat demo --from-scratch`")
    parser.add_argument("--command", required=True, help="the command that trained it, as run")
    parser.add_argument("--parts", default=None, help="ship only these parts (comma-separated folders)")
    parser.add_argument("--note", default=None, help="what a reader of the provenance should know of the run")
    args = parser.parse_args()
    for part in PARTS:
        if args.parts and part.folder not in args.parts.split(","):
            continue
        record = ship_part(args.run, part, args.command, args.note)
        size = sum((HERE / part.shipped / f).stat().st_size for f in record["sha256"]) / 2 ** 20
        print(f"{part.shipped}: {len(record['sha256'])} files, {size:.1f} MiB")


if __name__ == "__main__":
    main()
