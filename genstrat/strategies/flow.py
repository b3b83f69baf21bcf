"""`flow`: a normalizing flow on the shared trunk, a Transformer autoregressive flow (TarFlow, Zhai et al. 2024).

The random-vector family's member with an exact likelihood. An invertible map f takes an image x to a Gaussian
vector z = f(x) of the same size; p(x | c) = N(f(x); 0, I) |det df/dx| (change of variables, Dinh et al. 2017
eq. 1 and 2), so training maximises the exact log-likelihood and sampling draws z ~ N(0, I) and inverts f.

f is ``FLOW_BLOCKS`` affine autoregressive transforms (Kingma et al. 2016, IAF; Papamakarios et al. 2017, MAF),
each a causal Transformer over the image's patch slots: block t reads slots in its own order (odd blocks reversed,
as TarFlow does) and maps

    z_i = (x_i - mu_i(x_<i, c)) * exp(-alpha_i(x_<i, c))          log|det| = -sum_i alpha_i

where mu and alpha (one per value of a slot) come from the slots strictly before i: the trunk is causal with the
condition in slot 0, read as AR reads it (the condition slot gives slot 0's parameters, slot i - 1's output slot
i's), so the Jacobian is triangular (a self-inclusive mask would break it). The first block is the shared trunk
itself (``model``); the others are trunks of the same configuration, this strategy's own part
(``model.flow_blocks``); each block's affine output layer (``model.flow_affine``) starts at zero, so the flow starts
as the identity (TarFlow; Glow's zero-initialised last layer, Kingma & Dhariwal 2018). alpha passes through a soft
clamp, 2 tanh(alpha / 2), a reparameterisation that keeps an early exp(alpha) from overflowing.

Units are uniformly dequantized (Theis et al. 2016; ``dequantization.py``), so ``bits_per_unit`` is a true bound on
the discrete negative log-likelihood, in the same column as AR's: E_u[-log2 p(x)] / L + log2(V / 2).

Sampling inverts the blocks in reverse order, each slot by slot with the trunk's KV cache:
x_i = z_i exp(alpha_i) + mu_i. The random vector comes in, but the work inside is sequential: NFE = FLOW_BLOCKS x
slots (MNIST: 4 x 49 = 196), which the bench reports. ``temperature`` scales z (Glow, Kingma & Dhariwal 2018: a reduced
temperature trades diversity for cleaner samples); ``guidance`` applies classifier-free guidance to mu and alpha (as
TarFlow guides its flow).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from genstrat.nn.backbone import Backbone
from genstrat.strategies.base import GUIDANCE, TEMPERATURE, Generation, Strategy, SweepPoint
from genstrat.strategies.dequantization import bin_bits, dequantize, quantize, slot_options
from genstrat.strategies.diffusion import MAX_SLOTS, from_slots, layout_of, to_slots

FLOW_BLOCKS = 4
# the guidance the bench sweeps: chosen on the validation split of the MNIST random-vector run's flow with
# `genstrat tune CKPT --vary guidance=1,2,3,4,5,6 --vary temperature=0.5,0.7,0.85,1` (2 seeds x 500): 3 gave the
# lowest validation Frechet at temperatures 0.5-0.85 (docs/results/flow-guidance-tune-mnist.json)
SWEEP_GUIDANCE = 3.0
LOG_2PI = math.log(2 * math.pi)


class FlowParts(nn.Module):
    """The flow's blocks beyond the trunk and every block's zero-initialised affine output (mu, alpha per value)."""

    def __init__(self, cfg, blocks: int = FLOW_BLOCKS):
        super().__init__()
        self.blocks = nn.ModuleList(Backbone(cfg) for _ in range(blocks - 1))
        self.affine = nn.ModuleList(nn.Linear(cfg.d_model, 2 * cfg.slot_values) for _ in range(blocks))
        for layer in self.affine:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)


def soft_clamp(alpha: torch.Tensor) -> torch.Tensor:
    return 2 * torch.tanh(alpha / 2)


class Flow(Strategy):
    name = "flow"
    lecture_part = "latent"
    modalities = ("image",)
    causal = True
    continuous = True
    through_ddp = False  # its loss runs every block: the step averages gradients itself under torchrun
    options = (TEMPERATURE, GUIDANCE)
    defaults = {"guidance": 1.0}
    modality_defaults: dict = {}
    sweep_keys = ("temperature",)

    def backbone_options(self):
        return {**slot_options(self.units, MAX_SLOTS), "prediction": "affine"}

    def parts(self, cfg):
        return {"flow": FlowParts(cfg)}

    def steps_for(self, requested):
        return FLOW_BLOCKS * self._slots()

    def _slots(self) -> int:
        return slot_options(self.units, MAX_SLOTS)["seq_len"]

    def sweep(self, steps):
        """The flow as trained (temperature 1, no guidance) and at 0.7 (Glow's reduced temperature), then guided at
        ``SWEEP_GUIDANCE`` (TarFlow guides its class-conditional flow) at temperatures 1, 0.7 and 0.5."""
        k, g = self.steps_for(None), SWEEP_GUIDANCE
        return [SweepPoint(k, {}, self.name), SweepPoint(k, {"temperature": 0.7}, f"{self.name} t0.7"),
                *(SweepPoint(k, {"guidance": g, **({"temperature": t} if t != 1.0 else {})},
                             f"{self.name} g{g:g}" + (f" t{t:g}" if t != 1.0 else "")) for t in (1.0, 0.7, 0.5))]

    def blocks(self, model) -> list[nn.Module]:
        return [model, *model.flow.blocks]

    def affine(self, model, block: int, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features (B, S, d) -> (mu, alpha), each (B, S, slot_values), alpha soft-clamped."""
        mu, alpha = model.flow.affine[block](features).float().chunk(2, dim=-1)
        return mu, soft_clamp(alpha)

    def forward_flow(self, model, x: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, S, D) slots -> (z, log|det df/dx| per row (B,)): every block in order, odd blocks over reversed
        slots."""
        logdet = torch.zeros(x.shape[0], device=x.device)
        for t, block in enumerate(self.blocks(model)):
            y = x.flip(1) if t % 2 else x
            features = block(y[:, :-1], cond, return_features=True)  # (B, S, d): slot i from y_<i and c
            mu, alpha = self.affine(model, t, features)
            y = (y - mu) * torch.exp(-alpha)
            logdet = logdet - alpha.flatten(1).sum(1)
            x = y.flip(1) if t % 2 else y
        return x, logdet

    def nll_nats(self, model, units: torch.Tensor, cond: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """-log p(x | c) per row (B,) in nats of the dequantized values x (change of variables)."""
        p = layout_of(model.cfg, self.units)
        x = to_slots(dequantize(units, self.units.vocab_size, generator), self.units, p)
        z, logdet = self.forward_flow(model, x, cond)
        return 0.5 * (z.float() ** 2 + LOG_2PI).flatten(1).sum(1) - logdet

    def loss(self, model, units, cond):
        """Negative log-likelihood per unit, in nats (the exact density of the dequantized values)."""
        return self.nll_nats(model, units, cond).mean() / units.shape[1]

    @torch.no_grad()
    def bits_per_unit(self, model, units, cond, batch_size: int = 500) -> float:
        """E_u[-log2 p(x | c)] / L + log2(V / 2): a bound on the discrete NLL in bits per unit (one dequantization
        draw per test object, from a fixed seed)."""
        generator = torch.Generator(units.device).manual_seed(0)
        total = sum(float(self.nll_nats(model, u.long(), c.long(), generator).sum())
                    for u, c in zip(units.split(batch_size), cond.split(batch_size)))
        return total / (units.shape[0] * units.shape[1] * math.log(2)) + bin_bits(self.units.vocab_size)

    def invert_block(self, model, t: int, z: torch.Tensor, cond: torch.Tensor, guidance: float,
                     on_slot=None) -> torch.Tensor:
        """Block t's inverse, slot by slot with a KV cache: y_i = z_i exp(alpha_i) + mu_i (z, y in the block's own
        slot order). Guidance runs conditional and unconditional rows as one batch (one evaluation per slot).
        ``on_slot(y)`` sees the block's state after each slot: slots inverted so far, the rest still its input."""
        block, (_, slots, values) = self.blocks(model)[t], z.shape
        guided = guidance != 1.0
        rows = torch.cat([cond, model.null_condition(cond)]) if guided else cond
        cache = block.new_cache(rows.shape[0])
        y = z.clone()
        step_in = z.new_zeros(rows.shape[0], 0, values)
        for i in range(slots):
            mu, alpha = self.affine(model, t, block(step_in, rows, cache, return_features=True)[:, -1:])
            if guided:
                (mu_c, mu_u), (alpha_c, alpha_u) = mu.chunk(2), alpha.chunk(2)
                mu, alpha = mu_u + guidance * (mu_c - mu_u), alpha_u + guidance * (alpha_c - alpha_u)
            y[:, i:i + 1] = z[:, i:i + 1] * torch.exp(alpha) + mu
            if on_slot is not None:
                on_slot(y)
            step_in = torch.cat([y[:, i:i + 1]] * 2) if guided else y[:, i:i + 1]
        return y

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None):
        opts = options or self.sampling_defaults()
        cfg, p = model.cfg, layout_of(model.cfg, self.units)
        x = torch.randn(cond.shape[0], cfg.seq_len, cfg.slot_values, generator=generator,
                        device=cond.device) * opts.temperature
        blocks, count = len(self.blocks(model)), [0]

        def version(t: int):  # every slot of every block is a version: the image as it stands
            def show(y: torch.Tensor):
                count[0] += 1
                on_version(count[0], quantize(from_slots(y.flip(1) if t % 2 else y, self.units, p),
                                              self.units.vocab_size))
            return show if on_version is not None else None

        for t in reversed(range(blocks)):
            y = self.invert_block(model, t, x.flip(1) if t % 2 else x, cond, opts.guidance, version(t))
            x = y.flip(1) if t % 2 else y
        units = quantize(from_slots(x, self.units, p), self.units.vocab_size)
        return Generation(units=units, nfe=blocks * cfg.seq_len)
