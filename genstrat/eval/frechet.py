"""Fréchet distance between two Gaussians fitted to feature sets (FID's formula).

d^2 = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2})   (Heusel et al. 2017, eq. 6;
Dowson & Landau 1982). The value depends on the number of samples (it is biased upward for
small n), so every caller fixes n and reports it.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    a = a.double().cpu().numpy()
    b = b.double().cpu().numpy()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():  # near-singular product: regularise both sides slightly
        eps = np.eye(cov_a.shape[0]) * 1e-6
        root = scipy.linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    root = root.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root))
