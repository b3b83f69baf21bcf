"""k-diffusion's samplers over *our* trained denoiser: a second opinion on the ``diffusion`` strategy's solver rows.

Katherine Crowson's k-diffusion is where most Karras-style samplers people use come from. Its samplers take a
*denoiser* D(x; sigma) -> x_0 in the variance-exploding parametrisation x = x_0 + sigma n (Karras et al. 2022,
eq. 1 and sec. 2); our model predicts the velocity v at a discrete DDPM step t (Salimans & Ho 2022), with
sigma_t = sqrt((1 - abar_t) / abar_t). k-diffusion's own ``DiscreteVDDPMDenoiser`` does that conversion
(D = c_skip x + c_out v(c_in x, t), with c_skip = 1 / (sigma^2 + 1), c_out = -sigma / sqrt(sigma^2 + 1),
c_in = 1 / sqrt(sigma^2 + 1); Karras et al. table 1 with sigma_data = 1), given our ``alphas_cumprod``, with sigma
quantised to the nearest trained step. The small wrapper here only feeds its (x, t) to our backbone, with the
checkpoint's classifier-free guidance, patch layout and time features, exactly as our own sampler does.

Samplers (the issue's): ``sample_dpmpp_2m`` (DPM-Solver++(2M), Lu et al. 2022), ``sample_dpmpp_2m_sde`` (its SDE
variant, noise from a Brownian tree) and ``sample_euler_ancestral`` (Euler steps with ancestral noise), all over
Karras et al.'s schedule (eq. 5, rho = 7) from the model's own smallest sigma up to two tops: the model's own largest
(20,291 for the capped cosine schedule: at 4 steps the first step then only reaches sigma ~1,770, and most of a short
budget is spent where the image is still pure noise) and EDM's sigma_max = 80 (Karras et al. sec. 5 and table 1,
what k-diffusion's users pass), at 4, 8 and 20 steps, one network evaluation a step. Their noise comes from torch's
global generator, which ``generate`` seeds from the bench's generator, so a row is reproducible.
"""

from __future__ import annotations

import torch

from genstrat.peers.rows import measured_peer_row
from genstrat.strategies.base import Generation, SweepPoint
from genstrat.strategies.diffusion import from_slots, layout_of, time_features
from genstrat.strategies.sampling import guided_logits

PEER = "k-diffusion"
SAMPLERS = ("sample_dpmpp_2m", "sample_dpmpp_2m_sde", "sample_euler_ancestral")
STEPS = (4, 8, 20)
SIGMA_TOPS = (None, 80.0)  # None: the model's own largest sigma; 80: EDM's sigma_max (Karras et al. 2022, table 1)
RHO = 7.0  # Karras et al. 2022, eq. 5


class VelocityNetwork(torch.nn.Module):
    """Our backbone as k-diffusion's inner model: (x scaled by c_in, t) -> v, with our guidance and time features."""

    def __init__(self, model, cond: torch.Tensor, guidance: float):
        super().__init__()
        self.model, self.cond, self.guidance = model, cond, guidance

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        features = time_features(t.expand(x.shape[0]))
        return guided_logits(self.model, x, self.cond, self.guidance, latent=features)[:, 1:]


class KDiffusionPeer:
    """One of k-diffusion's samplers over our trained ``diffusion`` model, as a strategy ``benchmark.measure`` can
    time and judge (``name``, ``generate``)."""

    def __init__(self, strategy, guidance: float):
        self.name, self.strategy, self.guidance = PEER, strategy, guidance

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None) -> Generation:
        import k_diffusion

        torch.manual_seed(int(torch.randint(2 ** 62, (1,), generator=generator, device=generator.device)))
        denoiser = k_diffusion.external.DiscreteVDDPMDenoiser(
            VelocityNetwork(model, cond, self.guidance), self.strategy.alphas_cumprod.to(cond.device), quantize=True)
        top = denoiser.sigma_max.item() if options["sigma_max"] is None else min(options["sigma_max"],
                                                                                  denoiser.sigma_max.item())
        sigmas = k_diffusion.sampling.get_sigmas_karras(steps, denoiser.sigma_min.item(), top, rho=RHO,
                                                        device=cond.device)
        x = torch.randn(cond.shape[0], model.cfg.seq_len, model.cfg.slot_values, device=cond.device) * sigmas[0]
        x = getattr(k_diffusion.sampling, options["sampler"])(denoiser, x, sigmas, disable=True)
        p = layout_of(model.cfg, self.strategy.units)
        return Generation(units=self.strategy.to_units(from_slots(x, self.strategy.units, p)), nfe=steps)


def sweep() -> list[SweepPoint]:
    return [SweepPoint(steps=k, overrides={"sampler": s, "sigma_max": top},
                       series=f"{PEER} {s}" + ("" if top is None else f" sigma_max {top:g}"))
            for top in SIGMA_TOPS for s in SAMPLERS for k in STEPS]


def k_diffusion_rows(out, evaluator, conditions, config, store, progress: bool) -> list[dict]:
    """Every sampler of ``sweep`` over the bench's trained ``diffusion`` checkpoint, measured as our rows are; rows an
    interrupted run kept are reused."""
    from genstrat.benchmark.measure import Job
    from genstrat.training.model_io import load_model, saved_options
    from genstrat.strategies import SamplingOptions

    model, strategy, saved = load_model(out / "checkpoints" / "diffusion")
    model.to(config.device).eval()
    guidance = saved_options(strategy, saved).guidance
    rows = []
    for point in sweep():
        sampler, top = point.overrides["sampler"], point.overrides["sigma_max"]
        label = f"{PEER}-{sampler}-{point.steps}" + ("" if top is None else f"-sigma-max-{top:g}")
        row = store.kept_row(PEER, label)
        if row is None:
            job = Job(KDiffusionPeer(strategy, guidance), model, point,
                      SamplingOptions(sampler=sampler, sigma_max=top), label)
            sigmas = "the model's own sigma range" if top is None else f"sigma_max {top:g} (EDM)"
            row = measured_peer_row(job, PEER, evaluator, conditions, config, store, out, progress,
                                    strategy=f"{PEER}:{sampler}", over="genstrat diffusion", guidance=guidance,
                                    sigmas=f"Karras rho={RHO:g}, {sigmas}")
        rows.append(row)
    return rows
