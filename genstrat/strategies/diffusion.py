"""`diffusion`: Gaussian diffusion over continuous pixel values, noisy version to clean version.

Forward process (Ho et al. 2020, DDPM): pixels x_0 in [-1, 1]; draw t ~ U{0, ..., T-1} and
eps ~ N(0, I); x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps (eq. 4). Noise schedule: the
cosine schedule of Nichol & Dhariwal 2021 (eq. 17), T = 1000. The backbone is fed the noisy
values in its slots and sinusoidal features of t (through adaLN-Zero, below).

Slots are patches (``units/patches.py``; DiT, Peebles & Xie 2023 sec. 3.1; U-ViT, Bao et al.
2023): a slot holds a p x p block of pixels with all its channels, p the smallest side dividing
the image that leaves at most ``MAX_SLOTS`` (64) slots, DiT's p = 4 on small images. Digits
(8 x 8) keep one pixel per slot; MNIST (28 x 28) gets 4 x 4 patches, 49 slots of 16 values; a
latent grid (7 x 7 x 4) gets one slot per position holding all its channels, as latent
diffusion's Transformers read latents. Attention is quadratic in slots, so 49 slots instead of
2 x 2 patches' 196 buy many more updates in the same training time, and with them the samples
(docs/benchmarks.md, the all-strategy MNIST section). Checkpoints written with other patches or
before patches (``slot_values`` = 1) sample with the layout they were trained with (``layout_of``).

The noise level and the label reach every block through adaLN-Zero (DiT sec. 3.2; the
backbone's ``adaln``): an MLP of the sinusoidal time features plus the label's embedding sets
each block's LayerNorm shift and scale and a zero-initialised gate on its residual branches.
Checkpoints from before it (time features added to the input slots) load and sample as before.

What it predicts (``PREDICTION``): the velocity v = sqrt(abar_t) eps - sqrt(1 - abar_t) x_0
(Salimans & Ho 2022, sec. 4 and appendix D), with the Min-SNR-gamma loss weight
min(SNR_t, gamma) / (SNR_t + 1), SNR_t = abar_t / (1 - abar_t), gamma = 5 (Hang et al. 2023,
sec. 3.4: the weighting that equals min(SNR, gamma) on the x_0 error). It replaced noise
prediction because at the bench's short training budgets it samples far better from the same
seed (docs/history.md, "diffusion learning the velocity"). Checkpoints trained on the noise
(``prediction = "epsilon"`` in their backbone config) still load and sample as they were
trained. Labels are dropped 10% of the time so sampling can use classifier-free guidance
(Ho & Salimans 2022, eq. 6, applied to the model output), at w = 1.2 by default: with
adaLN-Zero the model follows its label closely and the other strategies' 1.5 over-sharpens it
(the sweep over pixels and latents: docs/history.md, "guidance over codes").

Sampling uses diffusers' schedulers (one ``set_timesteps`` / ``step`` interface each, told the
prediction type): ``ddpm`` (ancestral, DDPM eq. 11), ``ddim`` (eta = 0, Song et al. 2021
eq. 12, its noise re-derived from the clipped x_0), ``dpm-solver`` (DPM-Solver++(2M), Lu et al.
2022, data-prediction multistep, with dynamic thresholding of the predicted x_0 to [-1, 1]; DDPM
and DDIM clip it) and ``dpm-solver-sde`` (SDE-DPM-Solver++(2M), the same second-order multistep
solver applied to the reverse SDE, Lu et al. 2022 as diffusers implements it: fresh noise at
every step). NFE = the number of scheduler steps. The ODE solvers follow the model's flow
exactly, so a model that is still rough at this budget carries its early errors to the end; the
stochastic samplers (DDPM, the SDE solver) partly forget them (Karras et al. 2022 sec. 4), which
is why on our CPU-trained pixel models DDPM-200 still beats DPM-Solver++ 20 (docs/benchmarks.md,
the all-strategy MNIST section). Other 20-step high-order solvers (the third-order
SDE-DPM-Solver++(3M); SA-Solver, Xue et al. 2023, orders 2/2 and 3/4;
``docs/experiments/diffusion_solvers.py``) did not beat DDPM-200 on a second MNIST model either
(docs/history.md, "pixel diffusion trained again on a slower machine"), so they did not join
``SAMPLERS``. The final values are quantised back to the unit levels.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from genstrat.errors import GenstratError
from genstrat.strategies.base import GUIDANCE, Generation, Option, Strategy, SweepPoint
from genstrat.strategies.sampling import guided_logits
from genstrat.units import patches
from genstrat.units.patches import patch_side

SAMPLERS = ("ddpm", "ddim", "dpm-solver", "dpm-solver-sde")
TRAIN_STEPS = 1000
TIME_FEATURES = 64
PREDICTIONS = ("epsilon", "v_prediction")
PREDICTION = "v_prediction"  # what new models learn to predict; "epsilon" checkpoints still sample
SNR_GAMMA = 5.0              # Min-SNR-gamma loss weighting (Hang et al. 2023)
MAX_SLOTS = 64               # patch the image until it fits in this many slots (MNIST: 4 x 4 patches, 49 slots)


def layout_of(cfg, units) -> int:
    """The patch side p of a backbone config whose slots hold ``slot_values`` reals (p * p * channels = slot_values);
    0 for one value per slot (checkpoints written before patches)."""
    layout = patches.layout_of(units)
    channels, dims = layout[0], len(layout) - 1
    p = 0 if cfg.slot_values == 1 and channels > 1 else round((cfg.slot_values // channels) ** (1 / dims))
    fits = cfg.slot_values == 1 or (patches.units_per_slot(layout, p) == cfg.slot_values
                                    and all(side % p == 0 for side in layout[1:]))
    if not fits or cfg.seq_len * cfg.slot_values != units.seq_len:
        raise GenstratError(f"the model's {cfg.seq_len} slots of {cfg.slot_values} values do not tile units of shape "
                            f"{'x'.join(map(str, units.shape))}; the checkpoint belongs to other data")
    return p


def to_slots(values: torch.Tensor, units, p: int) -> torch.Tensor:
    """(B, L) values in the units' raster order (channels innermost) -> (B, slots, units per slot) patches."""
    return values[..., None] if p == 0 else patches.to_slots(values, patches.layout_of(units), p)


def from_slots(slots: torch.Tensor, units, p: int) -> torch.Tensor:
    """The inverse of :func:`to_slots`: (B, slots, units per slot) -> (B, L)."""
    return slots[..., 0] if p == 0 else patches.from_slots(slots, patches.layout_of(units), p)


def check_prediction(prediction: str) -> None:
    """One clear line for a model config whose continuous head predicts something this file cannot read."""
    if prediction not in PREDICTIONS:
        raise GenstratError(f"unknown diffusion prediction '{prediction}' in the model config; expected one of: "
                            f"{', '.join(PREDICTIONS)}")


def make_scheduler(name: str, prediction: str = PREDICTION):
    """A diffusers scheduler for ``name`` reading model outputs as ``prediction``, all sharing the training schedule."""
    from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

    check_prediction(prediction)
    common = dict(num_train_timesteps=TRAIN_STEPS, beta_schedule="squaredcos_cap_v2", prediction_type=prediction)
    if name == "ddpm":
        return DDPMScheduler(**common, clip_sample=True)
    if name == "ddim":
        scheduler = DDIMScheduler(**common, clip_sample=True, set_alpha_to_one=True)
        # the noise DDIM steps with (eq. 12) is re-derived from the clipped x_0, as GLIDE does; diffusers' default keeps
        # the model's own, which disagrees with x_0 whenever x_0 is clipped, so each step mixes two inconsistent
        # estimates (docs/benchmarks.md, the all-strategy MNIST section, "DDIM was mis-wired")
        scheduler.step = functools.partial(scheduler.step, use_clipped_model_output=True)
        return scheduler
    if name == "dpm-solver":
        # dynamic thresholding of the data prediction (Saharia et al. 2022 sec. 2.3), as Lu et al. advise for
        # pixel-space DPM-Solver++ (their sec. 5): without it a poor early noise estimate leaves [-1, 1] and compounds
        return DPMSolverMultistepScheduler(**common, algorithm_type="dpmsolver++", solver_order=2, thresholding=True,
                                           sample_max_value=1.0)
    if name == "dpm-solver-sde":
        # the same data-prediction multistep solver for the reverse SDE instead of the ODE: each step re-injects
        # fresh noise, which washes out part of an imperfect model's earlier error (Karras et al. 2022 sec. 4)
        return DPMSolverMultistepScheduler(**common, algorithm_type="sde-dpmsolver++", solver_order=2,
                                           thresholding=True, sample_max_value=1.0)
    raise GenstratError(f"unknown diffusion sampler '{name}'; choose one of: {', '.join(SAMPLERS)}")


def time_features(t: torch.Tensor, dim: int = TIME_FEATURES) -> torch.Tensor:
    """Sinusoidal features of the timestep (Vaswani et al. 2017 sec. 3.5, as DDPM uses them)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def weighted_error(predicted: torch.Tensor, x0: torch.Tensor, eps: torch.Tensor, abar: torch.Tensor,
                   prediction: str) -> torch.Tensor:
    """The training loss for a (B, L) prediction of ``prediction`` at noise levels ``abar`` (B,).

    ``epsilon``: L_simple, the plain mean squared noise error (DDPM eq. 14), as earlier checkpoints were trained.
    ``v_prediction``: the squared velocity error (Salimans & Ho 2022, sec. 4) weighted min(SNR, gamma) / (SNR + 1)
    (Min-SNR-gamma, Hang et al. 2023, sec. 3.4)."""
    if prediction == "epsilon":
        return F.mse_loss(predicted, eps)
    check_prediction(prediction)
    v = abar.sqrt()[:, None] * eps - (1 - abar).sqrt()[:, None] * x0
    snr = abar / (1 - abar)
    weight = snr.clamp(max=SNR_GAMMA) / (snr + 1)
    return (weight * ((predicted - v) ** 2).mean(1)).mean()


class Diffusion(Strategy):
    name = "diffusion"
    lecture_part = "iterative"
    modalities = ("image", "audio")
    causal = False
    continuous = True
    options = (GUIDANCE, Option("sampler", "dpm-solver", "which diffusers scheduler samples", str, choices=SAMPLERS))
    defaults = {"guidance": 1.2}
    sweep_keys = ("sampler",)

    def __init__(self, units):
        super().__init__(units)
        self.alphas_cumprod = make_scheduler("ddpm").alphas_cumprod

    def backbone_options(self):
        p = patch_side(self.units, MAX_SLOTS)
        per_slot = patches.units_per_slot(patches.layout_of(self.units), p)
        return {"continuous": True, "latent_dim": TIME_FEATURES, "prediction": PREDICTION, "adaln": True,
                "seq_len": self.units.seq_len // per_slot, "slot_values": per_slot}

    def steps_for(self, requested):
        return 20 if requested is None else requested

    def sweep(self, steps):
        """Each sampler at its customary budget (DDPM 200, DDIM 50, DPM-Solver++ 20) plus DPM-Solver++, ODE and SDE,
        at every requested count."""
        counts = sorted(set(steps) | {20})
        plan = [(200, "ddpm"), (50, "ddim")] + [(k, name) for name in ("dpm-solver", "dpm-solver-sde") for k in counts]
        return [SweepPoint(k, {"sampler": name}, f"{self.name} {name}") for k, name in plan]

    def to_values(self, units: torch.Tensor) -> torch.Tensor:
        return units.float() / (self.units.vocab_size - 1) * 2 - 1

    def to_units(self, values: torch.Tensor) -> torch.Tensor:
        return ((values.clamp(-1, 1) + 1) / 2 * (self.units.vocab_size - 1)).round().long()

    def loss(self, model, units, cond):
        p = layout_of(model.cfg, self.units)
        x0 = to_slots(self.to_values(units), self.units, p).flatten(1)  # patch order: noise and loss per value
        t = torch.randint(0, TRAIN_STEPS, (units.shape[0],), device=units.device)
        eps = torch.randn_like(x0)
        abar = self.alphas_cumprod.to(units.device)[t][:, None]
        xt = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
        predicted = model(xt.view(len(xt), -1, model.cfg.slot_values), cond, latent=time_features(t))[:, 1:]
        return weighted_error(predicted.flatten(1), x0, eps, abar[:, 0], model.cfg.prediction)

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None):
        opts = options or self.sampling_defaults()
        steps = self.steps_for(steps)
        scheduler = make_scheduler(opts.sampler or "dpm-solver", model.cfg.prediction)
        scheduler.set_timesteps(steps, device=cond.device)
        p = layout_of(model.cfg, self.units)
        x = torch.randn(cond.shape[0], model.cfg.seq_len, model.cfg.slot_values, generator=generator,
                        device=cond.device)
        for i, t in enumerate(scheduler.timesteps):
            features = time_features(t.expand(cond.shape[0]))
            output = guided_logits(model, x, cond, opts.guidance, latent=features)[:, 1:]
            # schedulers take (batch, ...) tensors; dynamic thresholding takes its quantile over each sample's values
            x = scheduler.step(output, t, x, generator=generator).prev_sample
            if on_version is not None:
                on_version(i + 1, self.to_units(from_slots(x, self.units, p)))
        return Generation(units=self.to_units(from_slots(x, self.units, p)), nfe=len(scheduler.timesteps))
