"""Train every one-loss strategy for a fixed number of steps and fingerprint the weights it ends with.

Run on two commits (before and after a change to the training loop) and compare the two JSON files: equal
``weights_sha256`` means bit-for-bit the same trained model, so every row a bench would measure is the same.

    python docs/experiments/training_identity.py --steps 60 --out before.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import subprocess

import torch

from genstrat.data import load_dataset
from genstrat.training.model_io import build_model
from genstrat.strategies import get_strategy
from genstrat.training.loop import Budget, train

PLAN = (("digits", ("ar", "nar", "latent", "mask-predict", "diffusion", "coarse-to-fine")),
        ("probe", ("nar-length",)))


def fingerprint(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    rows = []
    for data_name, names in PLAN:
        data = load_dataset(data_name)
        for name in names:
            strategy = get_strategy(name, data.units)
            torch.manual_seed(0)
            model = build_model(strategy, data.num_classes, size="small", context_len=data.context_len)
            summary = train(strategy, model, data, Budget(steps=args.steps), batch_size=32, seed=0, progress=False,
                            save_every_s=None, ema=0.99, precision="fp32")
            rows.append({"data": data_name, "strategy": name, "steps": summary["steps"], "loss": summary["loss"],
                         "weights_sha256": fingerprint(model)})
            print(rows[-1], flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    with open(args.out, "w") as f:
        json.dump({"commit": commit, "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
                   "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
