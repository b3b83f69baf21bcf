"""How well an auto-encoder compresses: what two-stage generation can at best reach.

- PSNR = 10 log10(1 / MSE) over held-out images in [0, 1], averaged per image;
- the judge's agreement and Fréchet distance on the reconstructions (the floor of every
  two-stage row: a prior that generated perfect codes would score this);
- codebook usage over the held-out codes (discrete codes only): perplexity exp(H) of the code
  histogram (Razavi et al. 2019 report the same) and dead codes (never used).
"""

from __future__ import annotations

import math

import torch

from genstrat.eval.judging import score


@torch.no_grad()
def reconstruction_metrics(autoencoder, data, judge, reference_features: torch.Tensor, n: int,
                           generator: torch.Generator) -> dict:
    autoencoder = autoencoder.eval().to("cpu")
    pick = torch.randperm(data.test_units.shape[0], generator=generator)[:n]
    images, labels = data.units.decode(data.test_units[pick].long()), data.test_labels[pick].long()
    codes = torch.cat([autoencoder.to_codes(chunk) for chunk in images.split(500)])
    rebuilt = torch.cat([autoencoder.from_codes(chunk) for chunk in codes.split(500)])
    mse = ((rebuilt - images) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    row = {"psnr": round(float((10 * torch.log10(1 / mse)).mean()), 3),
           **score(judge, rebuilt, labels, reference_features)}
    row.update(code_usage(codes, autoencoder.cfg.codebook_size), n=len(pick))  # n: at most the held-out split
    return row


def code_usage(codes: torch.Tensor, codebook_size: int) -> dict:
    """Perplexity of the code histogram and the codes never used, for discrete codes (continuous latents: none)."""
    if not codebook_size:
        return {}
    counts = torch.bincount(codes.flatten(), minlength=codebook_size).float()
    p = counts[counts > 0] / counts.sum()
    return {"code_perplexity": round(math.exp(float(-(p * p.log()).sum())), 2), "dead_codes": int((counts == 0).sum()),
            "codebook_size": codebook_size}
