"""Pixel diffusion beside Hugging Face diffusers: a class-conditional ``UNet2DModel`` trained and sampled their way.

What a diffusers user would run on the same data for the same minutes, judged by the same judge:

- **Network**: ``UNet2DModel`` (Ronneberger et al. 2015's U-Net as DDPM uses it, Ho et al. 2020 sec. 4) with a class
  embedding added to the time embedding (``num_class_embeds``). Two sizes: ``matched``, whose widths are scaled
  until its parameter count is nearest our diffusion backbone's; and ``course``, the network of Hugging Face's
  diffusion course for 28 x 28 digits (block widths 32-64-64, two ResNet layers per block, attention in the two
  lower resolutions), the one a diffusers user would pick for MNIST.
- **Training** as diffusers' ``train_unconditional.py`` example does: ``DDPMScheduler`` (1,000 steps, linear betas),
  the loss ||eps - eps_theta(x_t, t, c)||^2 (Ho et al. 2020, eq. 14), AdamW (lr 1e-4, betas 0.95 / 0.999, weight
  decay 1e-6), 500 warm-up steps then a cosine decay over the steps the budget is expected to buy (estimated from
  the first steps' time), an EMA of the weights (``EMAModel``, power 3/4, at most 0.9999), images in [-1, 1].
- **Sampling** through diffusers' schedulers: DDPM at 200 steps, DDIM at 50 (Song et al. 2021), DPM-Solver++(2M)
  (Lu et al. 2022, ``DPMSolverMultistepScheduler``) at 4, 8 and 20. The loop is the pipeline's (``DDPMPipeline``),
  written out so that the class labels reach the U-Net.

``UNetPeer`` answers the strategy interface ``benchmark.measure`` times and judges (``name``, ``generate``), so its
rows are measured exactly as ours are.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from genstrat.peers.rows import measured_peer_row
from genstrat.strategies.base import Generation, SweepPoint

PEER = "diffusers:unet2d"
SAMPLERS = {"ddpm": (200,), "ddim": (50,), "dpm-solver++": (4, 8, 20)}
WARMUP_STEPS, LR, EMA_MAX = 500, 1e-4, 0.9999
ESTIMATE_AFTER = 20  # steps timed before a minute budget is turned into the cosine's length


def unet(size: str, image_shape: tuple[int, int, int], num_classes: int, width: int = 32):
    """A class-conditional ``UNet2DModel``; ``course`` is the diffusion course's, ``matched`` has widths
    (w, 2w, 2w) and no attention (the caller picks w for the parameter count)."""
    from diffusers import UNet2DModel

    channels, height, _ = image_shape
    if size == "course":
        return UNet2DModel(sample_size=height, in_channels=channels, out_channels=channels, layers_per_block=2,
                           block_out_channels=(32, 64, 64), num_class_embeds=num_classes,
                           down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
                           up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"))
    return UNet2DModel(sample_size=height, in_channels=channels, out_channels=channels, layers_per_block=2,
                       block_out_channels=(width, 2 * width, 2 * width), num_class_embeds=num_classes,
                       norm_num_groups=min(8, width), down_block_types=("DownBlock2D",) * 3,
                       up_block_types=("UpBlock2D",) * 3)


def matched_width(target_params: int, image_shape, num_classes: int) -> int:
    """The width (a multiple of 8) whose ``matched`` U-Net has the parameter count nearest ``target_params`` (the
    count grows with the width, so the search stops at the first one above)."""
    best, best_gap = 8, None
    for width in range(8, 513, 8):
        count = unet("matched", image_shape, num_classes, width).num_parameters()  # diffusers' ModelMixin count
        gap = abs(count - target_params)
        if best_gap is None or gap < best_gap:
            best, best_gap = width, gap
        if count > target_params:
            break
    return best


def cosine_with_warmup(step: int, total: int) -> float:
    """The learning-rate factor of diffusers' ``get_cosine_schedule_with_warmup`` (half a cosine after a linear
    warm-up), with the total read at each step: under a wall-clock budget it is known only after the first steps."""
    if step < WARMUP_STEPS:
        return step / WARMUP_STEPS
    progress = min(1.0, (step - WARMUP_STEPS) / max(1, total - WARMUP_STEPS))
    return 0.5 * (1 + math.cos(math.pi * progress))


def train_unet(model, images: torch.Tensor, labels: torch.Tensor, minutes: float | None, steps: int | None,
               batch_size: int, seed: int, progress=None) -> dict:
    """The diffusers example's loop for a wall-clock (or step) budget; leaves the EMA weights in ``model`` and
    returns what it cost."""
    from diffusers import DDPMScheduler
    from diffusers.training_utils import EMAModel

    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.95, 0.999), weight_decay=1e-6, eps=1e-8)
    total = [steps or 10 ** 9]  # minutes: set from the first ESTIMATE_AFTER steps' pace
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: cosine_with_warmup(s, total[0]))
    ema = EMAModel(model.parameters(), decay=EMA_MAX, use_ema_warmup=True, inv_gamma=1.0, power=3 / 4)
    step, start, loss_value = 0, time.perf_counter(), float("nan")
    model.train()
    while True:
        elapsed = time.perf_counter() - start
        if (steps is not None and step >= steps) or (minutes is not None and elapsed >= 60 * minutes):
            break
        if minutes is not None and step == ESTIMATE_AFTER:
            total[0] = max(WARMUP_STEPS + 1, int(60 * minutes * step / elapsed))
        idx = torch.randint(0, images.shape[0], (batch_size,), generator=rng)
        x0 = images[idx] * 2 - 1
        noise = torch.randn(x0.shape, generator=rng)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (batch_size,), generator=rng)
        loss = F.mse_loss(model(scheduler.add_noise(x0, noise, t), t, class_labels=labels[idx]).sample, noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        ema.step(model.parameters())
        step, loss_value = step + 1, loss.item()
        if progress is not None:
            progress.set_postfix(step=step, loss=f"{loss_value:.4f}", refresh=False)
            progress.update(1)
    seconds = time.perf_counter() - start
    ema.copy_to(model.parameters())
    model.eval()
    return {"train_steps": step, "train_seconds": round(seconds, 1), "train_loss": round(loss_value, 4),
            "updates_per_s": round(step / max(seconds, 1e-9), 3)}


def make_scheduler(sampler: str):
    from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

    base = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    if sampler == "ddpm":
        return base
    if sampler == "ddim":
        return DDIMScheduler.from_config(base.config)
    return DPMSolverMultistepScheduler.from_config(base.config, algorithm_type="dpmsolver++", solver_order=2)


class UNetPeer:
    """A trained peer U-Net as a strategy ``benchmark.measure`` can time and judge: ``generate`` runs the chosen
    diffusers scheduler for ``steps`` steps and returns the images as our pixel units."""

    def __init__(self, name: str, units):
        self.name, self.units = name, units

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None) -> Generation:
        scheduler = make_scheduler(options["sampler"])
        scheduler.set_timesteps(steps)
        x = torch.randn((cond.shape[0], *self.units.shape), generator=generator, device=cond.device)
        for t in scheduler.timesteps:
            eps = model(x, t, class_labels=cond).sample
            x = scheduler.step(eps, t, x, generator=generator).prev_sample
        return Generation(units=self.units.encode(((x + 1) / 2).clamp(0, 1)), nfe=len(scheduler.timesteps))


def sweep(size: str) -> list[SweepPoint]:
    """One row per sampler and step count; the series names the U-Net's size too (two lines per sampler)."""
    return [SweepPoint(steps=k, overrides={"sampler": s}, series=f"{size} {s}") for s, ks in SAMPLERS.items()
            for k in ks]


def unet_rows(data, evaluator, conditions, config, store, out, progress: bool) -> list[dict]:
    """Both U-Nets trained for the bench's per-strategy budget and measured at every sampler of ``sweep``; rows an
    interrupted run kept are reused (``RowStore``), a U-Net whose rows are all kept is not trained again."""
    from tqdm.auto import tqdm

    from genstrat.benchmark.measure import Job
    from genstrat.training.model_io import build_model
    from genstrat.strategies import SamplingOptions, get_strategy

    shape = data.units.shape
    ours = build_model(get_strategy("diffusion", data.units), data.num_classes, size=config.size,
                       context_len=data.context_len).num_params()
    images = data.units.decode(data.train_units)
    labels = data.train_labels.long()
    rows = []
    for size in ("matched", "course"):
        name = f"{PEER}-{size}"
        points = sweep(size)
        kept = [store.kept_row(name, f"{name}-{p.overrides['sampler']}-{p.steps}") for p in points]
        if all(kept):
            rows += kept
            continue
        torch.manual_seed(config.seed)
        model = unet(size, shape, data.num_classes, matched_width(ours, shape, data.num_classes))
        with tqdm(desc=f"train {name}", disable=not progress, leave=False) as bar:
            training = train_unet(model, images, labels, config.budget.minutes, config.budget.steps,
                                  config.batch_size, config.seed, bar)
        widths = "-".join(str(c) for c in model.config.block_out_channels)
        attention = any("Attn" in b for b in model.config.down_block_types)
        training.update(params=model.num_parameters(), ours_params=ours, widths=widths, attention=attention,
                        train_budget=config.budget.to_dict(), recipe="diffusers train_unconditional.py")
        for point, row in zip(points, kept):
            sampler = point.overrides["sampler"]
            label = f"{name}-{sampler}-{point.steps}"
            if row is None:
                job = Job(UNetPeer(PEER, data.units), model, point, SamplingOptions(sampler=sampler), label)
                row = measured_peer_row(job, name, evaluator, conditions, config, store, out, progress, size=size,
                                        **training)
            rows.append(row)
    return rows
