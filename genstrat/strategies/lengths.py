"""Length prediction for NAR text: decide how many tokens first, then fill them in.

NAT (Gu et al. 2018, sec. 3.1) and Mask-Predict's CMLM (Ghazvininejad et al. 2019, sec. 3)
predict the target length from the source before decoding. Here a length head, a part that the
strategies predicting a length add to the trunk (``length_head``), reads the final hidden state of
the last condition slot of a pass over the condition alone (no canvas, so nothing about
the true length leaks into training); that pass is one extra sequential evaluation, counted
in NFE. Given a length n, the canvas holds MASK at positions 0..n-1, END at n and PAD after,
so every position knows where the text stops.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from genstrat.nn.adapters import init_weights


def length_head(cfg, units) -> dict[str, nn.Module]:
    """The part a length-predicting strategy adds to the trunk: d_model -> one logit per length 0 .. L - 1."""
    head = nn.Linear(cfg.d_model, units.seq_len)
    head.apply(init_weights)
    return {"length_head": head}


def length_logits(model, cond: torch.Tensor) -> torch.Tensor:
    """(B, seq_len) logits over lengths 0 .. seq_len - 1, from the condition alone."""
    empty = torch.zeros(cond.shape[0], 0, dtype=torch.long, device=cond.device)
    hidden_BSD = model(empty, cond, return_features=True)
    return model.length_head(hidden_BSD[:, model.cond_slots - 1])


def length_loss(model, cond: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(length_logits(model, cond), lengths)


def sample_lengths(model, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One length per row, drawn from the predicted distribution (at least 1 token)."""
    logits = length_logits(model, cond).float()
    logits[:, 0] = float("-inf")
    return torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)


def content_only(logits: torch.Tensor, units_space) -> torch.Tensor:
    """Logits inside a drawn length with END and PAD at -inf: the length is decided first (CMLM sec. 3.1), so the
    positions before it hold text tokens only. Training never shows END or PAD there, but an undertrained model
    still gives them mass, and one drawn would cut or hole the row."""
    logits = logits.clone()
    logits[..., [units_space.end_id, units_space.pad_id]] = float("-inf")
    return logits


def length_canvas(model, units_space, lengths: torch.Tensor) -> torch.Tensor:
    """(B, L): MASK before each row's length, END at it, PAD after."""
    position = torch.arange(units_space.seq_len, device=lengths.device)[None]
    canvas = torch.full((lengths.shape[0], units_space.seq_len), units_space.pad_id, dtype=torch.long,
                        device=lengths.device)
    canvas = canvas.masked_fill(position == lengths[:, None], units_space.end_id)
    return canvas.masked_fill(position < lengths[:, None], model.mask_id)
