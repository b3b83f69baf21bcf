"""`distilled:<teacher>`: a diffusion model distilled into a student that samples in N deterministic steps.

Progressive distillation (Salimans & Ho 2022, "Progressive Distillation for Fast Sampling of Diffusion Models",
Algorithm 2). The student starts as a copy of the teacher and learns to take in **one** DDIM step what the teacher
takes in **two**; the student then becomes the teacher of the next round and N halves (16 teacher steps -> 8 -> 4
-> 2 -> 1). The rounds are run by ``distillation.py``; this file holds one round's loss and the student's sampler.

Notation (the paper's, sec. 2): z_t = alpha_t x + sigma_t eps with alpha_t^2 = abar_t (the teacher's cosine schedule,
``diffusion.py``) and sigma_t^2 = 1 - abar_t. The network predicts the velocity v (the teacher's ``v_prediction``),
so x_hat = alpha_t z_t - sigma_t v_hat. A DDIM step (Song et al. 2021, eq. 12, eta = 0) from t to s is
z_s = alpha_s x_hat + (sigma_s / sigma_t) (z_t - alpha_t x_hat), with x_hat clipped to [-1, 1] as the teacher's own
DDIM sampler clips it.

Time grid: N steps visit the integer timesteps round(-1 + k T / N) for k = N ... 0, where T = 1000 and timestep -1
means clean data (alpha = 1, sigma = 0). The grid of 2N steps holds every point of the grid of N, so the teacher's two
steps land exactly where the student's one step does (tested). At the first point, 999, alpha is about 5e-5 (abar
2.4e-9): pure noise for every practical purpose, so sampling starts from z ~ N(0, I), as the teacher's own samplers
do. A student asked for another step count runs the same DDIM sampler on that count's grid, off what it learned.

One training example (Algorithm 2): draw x from the data, k in {1 .. N}, eps; t = grid_N[k], t' = grid_2N[2k - 1],
t'' = grid_N[k - 1]; z_t = alpha_t x + sigma_t eps; two teacher DDIM steps t -> t' -> t'' give z_t''; the target is
the x~ that one DDIM step t -> t'' must predict to land on z_t'':

    x~ = (z_t'' - (sigma_t'' / sigma_t) z_t) / (alpha_t'' - (sigma_t'' / sigma_t) alpha_t)

and the student regresses onto it in v-space, v~ = (alpha_t z_t - x~) / sigma_t: the squared error in v is the
paper's "SNR + 1" weighting of the error in x (sec. 4, eq. 9 with w = 1 + SNR).

Guidance is distilled away (Meng et al. 2023, "On Distillation of Guided Diffusion Models", stage one with a fixed
w): the first round's teacher is the diffusion model at its own classifier-free guidance scale, and the student
learns the guided prediction directly, so a student samples with one network evaluation per step and no guidance.
Later rounds distil the previous student as it is. The teacher is frozen and runs in fp32 outside the autocast of
the student's forward pass: the targets are what the student regresses onto, so they are computed at full precision.

The teacher lives on the strategy (``attach_teacher``), not in the student's network, so a student's checkpoint holds
only the student and samples without its teacher; ``restore`` reads its step count back from its config.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genstrat.errors import GenstratError
from genstrat.strategies.base import Generation, Strategy, SweepPoint
from genstrat.strategies.diffusion import TRAIN_STEPS, Diffusion, from_slots, layout_of, time_features, to_slots
from genstrat.strategies.sampling import guided_logits
from genstrat.strategies.spec import parse_spec

from genstrat.strategies.spec import DISTILLED as PREFIX  # the one spelling of the prefix (spec.py)
MAX_STEPS = TRAIN_STEPS  # the finest grid with distinct integer timesteps


def teacher_name(name: str) -> str:
    """``distilled:<teacher>`` -> ``<teacher>`` (``spec.py`` reads the name)."""
    return parse_spec(name).teacher or name


def time_grid(steps: int) -> list[int]:
    """The integer timesteps N steps visit, from pure noise (T - 1) down to clean data (-1): N + 1 points."""
    return [round(-1 + k * TRAIN_STEPS / steps) for k in range(steps, -1, -1)]


def alpha_sigma(alphas_cumprod: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(alpha_t, sigma_t) as (B, 1, 1) for integer timesteps ``t`` (B,), timestep -1 being clean data."""
    abar = torch.where(t < 0, torch.ones_like(t, dtype=alphas_cumprod.dtype), alphas_cumprod[t.clamp(min=0)])
    return abar.sqrt().view(-1, 1, 1), (1 - abar).clamp(min=0).sqrt().view(-1, 1, 1)


def ddim_step(z: torch.Tensor, v: torch.Tensor, t: torch.Tensor, s: torch.Tensor, alphas_cumprod: torch.Tensor):
    """One deterministic DDIM step (Song et al. 2021, eq. 12, eta = 0) from timestep t to s given the predicted
    velocity: returns (z_s, x_hat), x_hat = alpha_t z_t - sigma_t v clipped to [-1, 1]."""
    alpha_t, sigma_t = alpha_sigma(alphas_cumprod, t)
    alpha_s, sigma_s = alpha_sigma(alphas_cumprod, s)
    x_hat = (alpha_t * z - sigma_t * v).clamp(-1, 1)
    return alpha_s * x_hat + sigma_s / sigma_t * (z - alpha_t * x_hat), x_hat


def target_velocity(z_t: torch.Tensor, z_end: torch.Tensor, t: torch.Tensor, t_end: torch.Tensor,
                    alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """The velocity with which one unclipped DDIM step from (z_t, t) lands on z_end at t_end (Algorithm 2's target
    x~ = (z_t'' - (sigma_t'' / sigma_t) z_t) / (alpha_t'' - (sigma_t'' / sigma_t) alpha_t), read as
    v~ = (alpha_t z_t - x~) / sigma_t)."""
    alpha_t, sigma_t = alpha_sigma(alphas_cumprod, t)
    alpha_end, sigma_end = alpha_sigma(alphas_cumprod, t_end)
    ratio = sigma_end / sigma_t
    x_target = (z_end - ratio * z_t) / (alpha_end - ratio * alpha_t)
    return (alpha_t * z_t - x_target) / sigma_t


def diffusion_of(teacher: Strategy) -> Diffusion:
    """The diffusion process inside a teacher: the strategy itself, or the prior of ``two-stage:diffusion``."""
    inner = getattr(teacher, "prior", teacher)
    if not isinstance(inner, Diffusion):
        raise GenstratError(f"distillation needs a diffusion teacher (diffusion or two-stage:diffusion), "
                            f"not '{teacher.name}'")
    return inner


def check_teacher_model(model) -> None:
    """One line for a teacher network whose output is not the velocity the targets are computed from."""
    if model.cfg.prediction != "v_prediction":
        raise GenstratError("distillation needs a teacher that predicts the velocity (v_prediction); this one "
                            f"predicts '{model.cfg.prediction}': train it again with this genstrat")


class Distilled(Strategy):
    """A few-step student of a diffusion teacher strategy (``diffusion`` or ``two-stage:diffusion``): built from the
    teacher's strategy object; its step count comes from ``restore`` (a checkpoint) or ``attach_teacher`` (a round)."""

    lecture_part = "iterative"
    modalities = ("image", "audio")
    causal = False
    continuous = True
    code_prior = False
    options = ()
    defaults = {}
    modality_defaults = {}

    def __init__(self, teacher: Strategy):
        super().__init__(teacher.units)
        self.teacher = teacher
        self.diffusion = diffusion_of(teacher)
        self.name = PREFIX + teacher.name
        self.student_steps = 1
        self.teacher_model, self.teacher_guidance = None, 1.0

    # the student is the teacher's network: same unit space, same trunk, same training data
    @property
    def model_units(self):
        return self.teacher.model_units

    def training_data(self, data):
        return self.teacher.training_data(data)

    def backbone_options(self):
        return self.teacher.backbone_options()

    def attach_teacher(self, model, student_steps: int, guidance: float) -> None:
        """The frozen network this round distils (sampled at ``guidance``), and the student's step count N."""
        check_teacher_model(model)
        self.teacher_model = model.eval().requires_grad_(False)
        self.student_steps, self.teacher_guidance = student_steps, guidance

    def restore(self, config: dict) -> None:
        steps = config.get("distillation", {}).get("student_steps", 1)
        if not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
            raise ValueError(f"distillation.student_steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}")
        self.student_steps = steps

    def steps_for(self, requested):
        return self.student_steps if requested is None else requested

    def sweep(self, steps):
        """A student is measured at the step count it was distilled for."""
        return [SweepPoint(self.student_steps, {}, self.name)]

    def loss(self, model, units, cond):
        """The squared velocity error against the target of two teacher DDIM steps (Algorithm 2, see above)."""
        if self.teacher_model is None:
            raise GenstratError(f"{self.name} trains beside its teacher: use genstrat distill, not genstrat train")
        n, alphas = self.student_steps, self.diffusion.alphas_cumprod.to(units.device)
        p = layout_of(model.cfg, self.diffusion.units)
        x = to_slots(self.diffusion.to_values(units), self.diffusion.units, p)  # (B, slots, values)
        k = torch.randint(1, n + 1, (x.shape[0],), device=x.device)
        fine = torch.tensor(time_grid(2 * n), device=x.device).flip(0)  # fine[j] = grid point j (0 = clean)
        t, t_mid, t_end = fine[2 * k], fine[2 * k - 1], fine[2 * k - 2]
        alpha_t, sigma_t = alpha_sigma(alphas, t)
        z_t = alpha_t * x + sigma_t * torch.randn_like(x)
        with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
            z_mid, _ = ddim_step(z_t, self.teacher_velocity(z_t, cond, t), t, t_mid, alphas)
            z_end, _ = ddim_step(z_mid, self.teacher_velocity(z_mid, cond, t_mid), t_mid, t_end, alphas)
            v_target = target_velocity(z_t, z_end, t, t_end, alphas)
        v = model(z_t, cond, latent=time_features(t))[:, 1:]
        return F.mse_loss(v.float(), v_target)

    def teacher_velocity(self, z, cond, t):
        """The frozen teacher's velocity at (z, t), classifier-free guided at its scale (round one) or plain."""
        return guided_logits(self.teacher_model, z, cond, self.teacher_guidance, latent=time_features(t))[:, 1:].float()

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None):
        """N deterministic DDIM steps of the student from z ~ N(0, I); one network evaluation each, no guidance."""
        steps = self.steps_for(steps)
        alphas = self.diffusion.alphas_cumprod.to(cond.device)
        z = torch.randn(cond.shape[0], model.cfg.seq_len, model.cfg.slot_values, generator=generator,
                        device=cond.device)
        grid = time_grid(steps)
        for i in range(steps):
            t = torch.full((cond.shape[0],), grid[i], device=cond.device)
            s = torch.full_like(t, grid[i + 1])
            z, _ = ddim_step(z, model(z, cond, latent=time_features(t))[:, 1:].float(), t, s, alphas)
            if on_version is not None:
                on_version(i + 1, self.to_units(z, model))
        return Generation(units=self.to_units(z, model), nfe=steps)

    def to_units(self, z: torch.Tensor, model) -> torch.Tensor:
        """Slots of values -> the data's units (two-stage: codes, decoded to pixels or samples)."""
        diffusion = self.diffusion
        units = diffusion.to_units(from_slots(z, diffusion.units, layout_of(model.cfg, diffusion.units)))
        return self.teacher.to_pixels(units) if diffusion is not self.teacher else units
