"""The networks' contracts, typed: what the strategies and the two-stage pipeline may call.

Two kinds of network stand behind a strategy: the **trunk** (``Network``: the Transformer of ``backbone.py``, or for
``ar`` over audio samples the WaveNet of ``wavenet.py``), and a **stage one** (``StageOne``: the image auto-encoder
of ``autoencoder.py``, the audio codec of ``codec.py``) that two-stage strategies generate the codes of. A network
that also answers ``FastStep`` lets ``ar`` run its steps compiled (``decode.py``). ``tests/test_shape.py`` checks
every network genstrat builds against these, so a new one learns here what it must answer.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

import torch


@runtime_checkable
class Network(Protocol):
    """A strategy's trunk. ``forward(tokens, cond, cache=None, latent=None, attn_mask=None)`` returns one row of
    logits (or values) per slot: the condition slots first without a cache, the new tokens only with one."""

    cfg: Any

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor, cache=None, latent: torch.Tensor | None = None,
                attn_mask: torch.Tensor | None = None) -> torch.Tensor: ...

    def new_cache(self, batch: int) -> Any: ...

    def null_condition(self, cond: torch.Tensor) -> torch.Tensor: ...

    def num_params(self) -> int: ...

    @property
    def mask_id(self) -> int: ...

    @property
    def cond_slots(self) -> int: ...


@runtime_checkable
class FastStep(Protocol):
    """A causal network whose one step can run at a fixed shape: its cache as tensors, and the step as pure tensor
    code with the sampler's ``draw(logits, u)`` inside (``nn/decode.py``); ``guided``: the rows run twice,
    conditional then unconditional, for the draw to combine (classifier-free guidance)."""

    def decode_state(self, cache) -> list[torch.Tensor]: ...

    def decode_step(self, guided: bool, draw: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                    ) -> Callable[..., torch.Tensor]: ...


@runtime_checkable
class StageOne(Protocol):
    """A learned compressor two-stage strategies generate the codes of. Its ``cfg`` says ``grid`` (the code grid),
    ``quantizer`` (``fsq``: discrete codes; ``continuous``: bounded latents; ``multiscale``: VAR's token maps of growing
    size over an fsq one, ``multiscale.py``), ``codebook_size`` and ``data_shape``."""

    cfg: Any

    def loss(self, data: torch.Tensor) -> torch.Tensor: ...

    def to_codes(self, data: torch.Tensor) -> torch.Tensor: ...

    def from_codes(self, units: torch.Tensor) -> torch.Tensor: ...

    def decode(self, z: torch.Tensor) -> torch.Tensor: ...

    def null_condition(self, cond: torch.Tensor) -> torch.Tensor: ...
