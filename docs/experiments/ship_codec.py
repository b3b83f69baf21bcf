"""Ship a trained stage one in the package by name: copy what inference needs, hash it, and measure its
reconstructions on speech it was not trained on (issue 37, "a speech codec people can start from").

    genstrat train-autoencoder --data fsdd --data-dir ../shared/data/fsdd --quantizer fsq --steps 4000 \
        --batch-size 64 --out runs/speech-codec
    python docs/experiments/ship_codec.py runs/speech-codec --name speech-codec-8k \
        --command "genstrat train-autoencoder ..." --fsdd-dir ../shared/data/fsdd --out docs/results/speech-codec.json

Writes ``genstrat/pretrained/<name>/`` (``config.json``, ``model.safetensors``, ``provenance.json``) and the same
record to ``--out``. The reconstructions are judged as a bench judges a stage one (``evaluator.reconstruction``: the
audio judge's agreement and Fréchet, STOI and PESQ of the clips joined, code usage) on fsdd's held-out recordings
(recordings 0-4 of every speaker and digit; the codec trained on 5-49) and on the embedded ``spoken`` digits' test
split (eSpeak NG voices held out of that set, and a synthetic voice the codec never heard at all), both at the
codec's 8 kHz and 1 s.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from pathlib import Path

import torch

from genstrat.training.autoencoding import check_units, load_autoencoder
from genstrat.training.checkpoint import read_json, write_json
from genstrat.data import load_dataset
from genstrat.modalities import modality_of
from genstrat.training.precision import cpu_flags
from genstrat.pretrained import HERE, PROVENANCE, SHIPPED_FILES, file_sha256


def cpu_name() -> str:
    """The CPU's model name, the matrix features that matter here (flags read by ``precision.cpu_flags``), threads."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    name = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
                platform.processor() or platform.machine())
    extras = [f for f in ("avx512f", "avx512_bf16", "amx_tile") if f in cpu_flags()]
    return f"{name} ({', '.join(extras) or 'no AVX-512'}), {torch.get_num_threads()} threads"


def judged(folder: Path, data_name: str, data_dir: str | None, judge_steps: int, seed: int) -> dict:
    data = load_dataset(data_name, data_dir=data_dir)
    check_units(folder, data)
    evaluator = modality_of(data.units).evaluator(data, n=10_000, seed=seed, judge_steps=judge_steps, size="small",
                                                  progress=False, device=torch.device("cpu"))
    row = evaluator.reconstruction(load_autoencoder(folder), torch.Generator().manual_seed(seed + 3))
    return {"data": data_name, "split": "test", "judge_test_accuracy": round(evaluator.meta["judge_test_accuracy"], 4),
            **row}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trained", type=Path, help="the genstrat train-autoencoder folder")
    parser.add_argument("--name", required=True)
    parser.add_argument("--command", required=True, help="the command that trained it, as run")
    parser.add_argument("--fsdd-dir", default="../shared/data/fsdd")
    parser.add_argument("--judge-steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    config = read_json(args.trained / "config.json", "auto-encoder config")
    training = config["training"]
    rows = [judged(args.trained, "fsdd", args.fsdd_dir, args.judge_steps, args.seed),
            judged(args.trained, "spoken", None, args.judge_steps, args.seed)]
    target = HERE / args.name
    target.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED_FILES:
        shutil.copyfile(args.trained / name, target / name)
    record = {
        "name": args.name,
        "what": f"the speech codec of two-stage audio ({config['autoencoder']['type']}, "
                f"{config['autoencoder']['quantizer']} levels {config['autoencoder'].get('fsq_levels')}, "
                f"{config['units']['sample_rate']} Hz, {config['units']['samples']} samples a clip)",
        "trained_on": f"{config['data']['name']}: its training split (recordings 5-49 of each speaker and digit)",
        "command": args.command,
        "machine": cpu_name(),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "train_steps": training["steps"],
        "train_seconds": training["seconds"],
        "batch_size": training["batch_size"],
        "sha256": {name: file_sha256(target / name) for name in SHIPPED_FILES},
        "reconstruction": rows,
    }
    write_json(target / PROVENANCE, record)
    write_json(args.out, record)
    print(json.dumps({r["data"]: {k: r.get(k) for k in ("n", "agree", "agree_ci", "fd", "stoi", "pesq")}
                      for r in rows}, indent=1))


if __name__ == "__main__":
    main()
