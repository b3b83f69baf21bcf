"""Helpers every sampler shares: guided logits, filtered sampling, Gumbel noise."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genstrat.strategies.base import SamplingOptions


def guided_logits(model, tokens: torch.Tensor, cond: torch.Tensor, guidance: float, cache=None, latent=None,
                  attn_mask=None) -> torch.Tensor:
    """Classifier-free guidance (Ho & Salimans 2022, eq. 6, on logits):
    l = l_uncond + w * (l_cond - l_uncond); w = 1 is the plain conditional model.

    Conditional and unconditional rows run as one batch (one sequential evaluation). A cache
    used with w != 1 must have been made for 2 * batch rows.
    """
    if guidance == 1.0:
        return model(tokens, cond, cache, latent=latent, attn_mask=attn_mask)
    null = model.null_condition(cond)
    both = model(torch.cat([tokens, tokens]), torch.cat([cond, null]), cache,
                 latent=None if latent is None else torch.cat([latent, latent]), attn_mask=attn_mask)
    return combine_guidance(both, guidance)


def combine_guidance(both: torch.Tensor, guidance: float) -> torch.Tensor:
    """Eq. 6 on logits whose first half of rows is conditional and second half unconditional (``guided_logits``'
    batch); at w = 1 the rows are the conditional ones alone and pass through."""
    if guidance == 1.0:
        return both
    conditional, unconditional = both.chunk(2)
    return unconditional + guidance * (conditional - unconditional)


def filter_logits(logits: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Set logits outside the top-k values (Fan et al. 2018) / the top-p nucleus (Holtzman et al. 2020) to -inf
    (last dim)."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop_sorted = cumulative - sorted_logits.softmax(-1) >= top_p  # keep the first token always
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def draw_categorical(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One index per row of ``probs`` (R, V) by inverse-transform sampling: the first index whose cumulative
    probability exceeds u * total, u ~ Uniform(0, 1) (Devroye 1986, ch. II.2; the rows need not be normalised).

    Exact like ``torch.multinomial``, but it draws one uniform per row where multinomial draws one exponential per
    value: over 1,000 codes that was about 2.5 ms of an 8.6 ms mask-predict pass at batch 1 on a 2-core CPU
    (docs/benchmarks.md, "Batch-1 latency of a code prior on this CPU"). A value of probability 0 is never drawn:
    its cumulative sum equals its predecessor's, which is reached first."""
    u = torch.rand(probs.shape[0], 1, generator=generator, device=probs.device, dtype=probs.dtype)
    return draw_with_uniform(probs, u)


def draw_with_uniform(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``draw_categorical`` given its uniforms u (R, 1): the first index whose cumulative probability exceeds
    u * total. Pure, so a compiled decode step (``nn/decode.py``) draws with the uniforms the eager loop would."""
    cumulative = probs.cumsum(-1)
    index = torch.searchsorted(cumulative, u.to(cumulative.dtype) * cumulative[:, -1:], right=True)
    return index.squeeze(-1).clamp(max=probs.shape[-1] - 1)


def draw_units(logits: torch.Tensor, options: SamplingOptions, u: torch.Tensor) -> torch.Tensor:
    """``sample_units``'s values for (R, V) logits, given one uniform per row (R, 1) (unused when greedy)."""
    flat = logits.float()
    if options.temperature <= 0:
        return flat.argmax(-1)
    flat = filter_logits(flat / options.temperature, options.top_k, options.top_p)
    return draw_with_uniform(F.log_softmax(flat, -1).exp(), u)


def sample_units(logits: torch.Tensor, options: SamplingOptions,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw one value per position from softmax(filtered logits / T).

    Returns (values, log-probabilities of the drawn values under the tempered distribution).
    A temperature of 0 means greedy (argmax).
    """
    shape = logits.shape[:-1]
    flat = logits.reshape(-1, logits.shape[-1]).float()
    if options.temperature <= 0:
        values = flat.argmax(-1)
        logp = F.log_softmax(flat, -1)
    else:
        flat = filter_logits(flat / options.temperature, options.top_k, options.top_p)
        logp = F.log_softmax(flat, -1)
        values = draw_categorical(logp.exp(), generator)
    chosen = logp.gather(-1, values[:, None]).squeeze(-1)
    return values.reshape(shape), chosen.reshape(shape)


def gumbel_noise(shape, generator: torch.Generator, device=None) -> torch.Tensor:
    """Standard Gumbel samples -log(-log U), U ~ Uniform(0, 1) (the Gumbel-max trick; Maddison et al. 2014)."""
    u = torch.rand(shape, generator=generator, device=device).clamp_(1e-10, 1 - 1e-10)
    return -torch.log(-torch.log(u))
