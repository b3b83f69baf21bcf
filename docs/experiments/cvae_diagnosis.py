"""What the trained CVAE (`latent`) does with its random vector: the ELBO's two terms on held-out data, how many of
z's dimensions carry information (active units, Burda et al. 2016, sec. 5.2: Cov_x(E_q[z_d]) > 0.01), and how much
the decoder's mode changes when only z changes (the fraction of pixels whose most likely level differs between two
draws of z for the same label).

    python docs/experiments/cvae_diagnosis.py runs/random-vector-mnist/checkpoints/latent \
        --data mnist --data-dir ../shared/data/mnist --out docs/results/cvae-diagnosis-mnist.json
"""

from __future__ import annotations

import argparse
import json

import torch

from genstrat.data import load_dataset
from genstrat.training.model_io import load_model


@torch.no_grad()
def diagnose(model, strategy, units: torch.Tensor, labels: torch.Tensor) -> dict:
    torch.manual_seed(0)
    mean, log_var = model.posterior(units, labels)
    kl_per_dim = (-0.5 * (1 + log_var - mean.pow(2) - log_var.exp())).mean(0)  # nats, averaged over images
    z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
    blank = strategy.blank(model, units.shape[0], units.device)
    logits = model(blank, labels, latent=z)[:, model.cond_slots:]
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), units, reduction="none").sum(1).mean()
    active = int((mean.var(0) > 0.01).sum())
    # the decoder's mode under two prior draws of z, same labels
    z1, z2 = torch.randn_like(mean), torch.randn_like(mean)
    mode1 = model(blank, labels, latent=z1)[:, model.cond_slots:].argmax(-1)
    mode2 = model(blank, labels, latent=z2)[:, model.cond_slots:].argmax(-1)
    mode0 = model(blank, labels, latent=torch.zeros_like(mean))[:, model.cond_slots:].argmax(-1)
    return {
        "images": int(units.shape[0]),
        "reconstruction_nats_per_image": round(float(nll), 2),
        "kl_nats_per_image": round(float(kl_per_dim.sum()), 2),
        "kl_nats_per_dim": [round(float(v), 3) for v in kl_per_dim],
        "latent_dims": int(mean.shape[1]),
        "active_units": active,
        "mode_pixels_changed_by_z": round(float((mode1 != mode2).float().mean()), 4),
        "mode_pixels_changed_from_z0": round(float((mode1 != mode0).float().mean()), 4),
        "nonzero_pixels_of_mode": round(float((mode1 > 0).float().mean()), 4),
        "nonzero_pixels_of_data": round(float((units > 0).float().mean()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--data-dir")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--out")
    args = parser.parse_args()
    model, strategy, config = load_model(args.checkpoint)
    data = load_dataset(args.data, **({"data_dir": args.data_dir} if args.data_dir else {}))
    report = {"checkpoint": args.checkpoint, "train_steps": config["training"].get("steps"),
              **diagnose(model, strategy, data.test_units[:args.n].long(), data.test_labels[:args.n].long())}
    print(json.dumps({k: v for k, v in report.items() if k != "kl_nats_per_dim"}, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
