"""Does the speech codec stay stable past a few thousand updates, and at which learning rate?

A GPU bench (docs/benchmarks.md, "fsdd on a lent GPU") trained the bench's codec (STFT encoder, one FSQ codebook,
Vocos-style magnitude + phase decoder, L1 + multi-resolution STFT loss, AdamW at the codec's lr 1e-3) for 5,408
updates: its loss fell to 0.76 by update 2,600, jumped to 1.19 near update 3,000 and ended at 0.90, and its
reconstructions scored STOI 0.55, where 688 CPU updates had reached 0.79. A CPU bench never gets that far, so this
only shows with more updates. Each variant here trains the same codec on the same clips for the same wall-clock
minutes with another learning rate (or with TF32 off on a GPU; its training loss is in the progress log), and
scores its reconstructions of the held-out clips by STOI (concatenated clips) and the L1 error of the waveform.
The bench's judge scores the saved codecs afterwards (``--judge``), on any machine.

    python docs/experiments/codec_stability.py --data fsdd --data-dir ../shared/data/fsdd --lr 5e-4 --minutes 2.3 \\
        --batch-size 64 --device cuda --work runs/codec-stability/lr5e-4 --out runs/codec-stability/lr5e-4.json
    python docs/experiments/codec_stability.py --judge runs/codec-stability/*.json --data fsdd \\
        --data-dir ../shared/data/fsdd --out docs/results/codec-stability.json
"""

from __future__ import annotations

import argparse
import json
import platform
from dataclasses import replace
from pathlib import Path

import torch

from genstrat.training.autoencoding import fit_autoencoder, load_autoencoder
from genstrat.data import load_dataset
from genstrat.modalities import modality_of
from genstrat.modalities.audio import intelligibility
from genstrat.training.loop import Budget


def train_variant(args) -> dict:
    if args.no_tf32:  # full fp32 products on an NVIDIA GPU (PyTorch lets cuDNN convolutions use TF32 by default)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    data = load_dataset(args.data, data_dir=args.data_dir)
    cfg = replace(modality_of(data.units).stage_one(data, "fsq", None), lr=args.lr)
    model, summary = fit_autoencoder(data, cfg, Budget(minutes=args.minutes), Path(args.work),
                                     batch_size=args.batch_size, seed=args.seed, progress=True, device=args.device)
    model = model.to("cpu")
    clean = data.units.decode(data.test_units.long())
    with torch.no_grad():
        rebuilt = torch.cat([model.from_codes(model.to_codes(chunk)) for chunk in clean.split(100)])
    return {"lr": args.lr, "tf32": not args.no_tf32 and args.device == "cuda", "minutes": args.minutes,
            "batch_size": args.batch_size, "device": args.device, "train_steps": summary["steps"],
            "train_loss": round(summary["loss"], 4), "l1": round(float((rebuilt - clean).abs().mean()), 4),
            "n": int(clean.shape[0]), **intelligibility(clean, rebuilt, data.units.sample_rate),
            "work": str(args.work)}


def judge_variants(args) -> list[dict]:
    """Each variant's codec judged by the bench's word-reading judge (agreement, Fréchet) with code usage."""
    data = load_dataset(args.data, data_dir=args.data_dir)
    evaluator = modality_of(data.units).evaluator(data, data.test_units.shape[0], args.seed, 2000, "small", False,
                                                  torch.device("cpu"))
    rows = []
    for path in args.judge:
        row = json.loads(Path(path).read_text())
        codec = load_autoencoder(Path(path).with_suffix(""))
        judged = evaluator.reconstruction(codec, torch.Generator().manual_seed(args.seed + 3))
        rows.append({**row, **judged, "judge_test_accuracy": round(evaluator.meta["judge_test_accuracy"], 4)})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="fsdd")
    parser.add_argument("--data-dir")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-tf32", action="store_true")
    parser.add_argument("--work", help="folder for the codec's checkpoint")
    parser.add_argument("--judge", nargs="+", help="variant JSON files (beside their --work folders) to judge")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.judge:
        result = {"machine": platform.processor() or platform.machine(), "rows": judge_variants(args)}
    else:
        result = train_variant(args)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(result, flush=True)


if __name__ == "__main__":
    main()
