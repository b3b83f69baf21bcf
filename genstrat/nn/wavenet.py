"""A WaveNet: the causal network of sample-level audio AR, in place of the Transformer trunk.

van den Oord et al. 2016, "WaveNet": a stack of dilated causal convolutions (kernel 2, dilations 1, 2, 4, ..., 512,
repeated), each followed by the gated activation z = tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h) (eq. 2; with
global conditioning h, the class label's embedding, eq. 3), a 1x1 residual connection and a 1x1 skip connection;
the skips are summed, and ReLU -> 1x1 -> ReLU -> 1x1 gives a softmax over the 256 mu-law levels (sec. 2.2).

Generation keeps, for each layer, a queue of its last ``dilation`` inputs (Fast WaveNet, Paine et al. 2016), so a
new sample costs one kernel-2 step per layer, whatever the receptive field: the same O(1)-per-unit cost the
Transformer's KV cache buys, without attending over the 8,000 samples of a second of 8 kHz audio.

The network answers the Transformer trunk's interface for a causal strategy (``ar``, unchanged): ``forward(tokens,
cond, cache)`` returns logits for the start slot and every token (S = T + 1; with a cache, for the new tokens only),
``new_cache``, ``mask_id`` (the start symbol), ``cond_slots``, ``null_condition``. Which network runs is a field of
the config (``network``); sample-level audio picks this one (``units/audio.py``): at equal minutes against the
Transformer with a KV cache (``docs/experiments/sample_ar_network.py``, FSDD) it made 5x the updates, reached a lower
held-out negative log-likelihood and sampled twice as fast (``docs/benchmarks.md``, "sample-level AR: WaveNet or
Transformer").
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

DILATION_CYCLE = 10  # dilations 1 .. 512 per cycle: a receptive field of 1,024 samples per cycle


def wavenet_shape(cfg) -> tuple[int, int]:
    """(channels, layers) for a backbone size: half the Transformer's width (the convolutions run at every sample),
    and half a dilation cycle per Transformer block (small: 64 channels, 20 layers, receptive field 2,047)."""
    return max(16, cfg.d_model // 2), max(1, cfg.n_layers // 2) * DILATION_CYCLE


class QueueCache:
    """Per layer, a ring of its last ``dilation`` inputs (dilation, B, C): Fast WaveNet's queues, slot-major so the
    input from ``dilation`` steps ago is one contiguous (B, C) row; and the layers' weights as matrices for one
    position (``step_weights``), taken once per generation."""

    def __init__(self, model: "WaveNet", batch: int):
        device = model.start.weight.device
        self.queues = [torch.zeros(d, batch, model.channels, device=device) for d in model.dilations]
        self.weights = model.step_weights()
        self.length = 0
        self.cond, self.biases = None, None  # the labels these per-layer biases (filter + V h, (B, 2C)) were made for


class WaveNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.channels, layers = wavenet_shape(cfg)
        c = self.channels
        self.dilations = [2 ** (i % DILATION_CYCLE) for i in range(layers)]
        self.start = nn.Embedding(cfg.vocab_size + 1, c)  # the previous sample's level; vocab_size = the start symbol
        self.cond_emb = nn.Embedding(cfg.num_classes + 1, c)  # + the null label of classifier-free guidance
        self.filters = nn.ModuleList(nn.Conv1d(c, 2 * c, 2, dilation=d) for d in self.dilations)
        self.conditions = nn.ModuleList(nn.Linear(c, 2 * c, bias=False) for _ in self.dilations)  # V_f, V_g
        self.residuals = nn.ModuleList(nn.Conv1d(c, c, 1) for _ in self.dilations)
        self.skips = nn.ModuleList(nn.Conv1d(c, cfg.d_model, 1) for _ in self.dilations)
        self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(cfg.d_model, cfg.d_model, 1), nn.ReLU(),
                                  nn.Conv1d(cfg.d_model, cfg.vocab_size, 1))

    @property
    def mask_id(self) -> int:
        return self.cfg.vocab_size

    @property
    def null_label(self) -> int:
        return self.cfg.num_classes

    @property
    def cond_slots(self) -> int:
        return 1

    def null_condition(self, cond: torch.Tensor) -> torch.Tensor:
        return torch.full_like(cond, self.null_label)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def activation_bytes(self, batch: int) -> int:
        """An estimate of what one training step over ``batch`` whole clips holds (``memory.check_fits``): per
        position and layer, the tensors autograd keeps for the backward pass (the padded input, tanh and sigmoid
        outputs and their product: 4C floats) and the layer's skip output (D), in fp32."""
        positions = self.cfg.seq_len + 1
        return 4 * batch * positions * len(self.dilations) * (4 * self.channels + self.cfg.d_model)

    def new_cache(self, batch: int) -> QueueCache:
        return QueueCache(self, batch)

    def gate(self, layer: int, filtered: torch.Tensor, cond_bias: torch.Tensor) -> torch.Tensor:
        """eq. 2-3: tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h)."""
        f, g = (filtered + cond_bias[layer]).chunk(2, dim=1)
        return torch.tanh(f) * torch.sigmoid(g)

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor, cache: QueueCache | None = None,
                latent: torch.Tensor | None = None, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """tokens (B, T) levels, cond (B,) labels -> logits (B, S, vocab): S = T + 1 (the start slot first) without a
        cache or with an empty one; S = T with a cache that holds the prefix. (``latent`` and ``attn_mask`` are the
        Transformer's; a causal convolution takes neither.)"""
        if latent is not None or attn_mask is not None:
            raise ValueError("a wavenet takes no latent vector and no attention mask")
        if cache is None or cache.length == 0:
            start = torch.full_like(tokens[:, :1], self.mask_id) if tokens.numel() else \
                torch.full((cond.shape[0], 1), self.mask_id, dtype=torch.long, device=cond.device)
            tokens = torch.cat([start, tokens.long()], dim=1)
        x = self.start(tokens.long()).transpose(1, 2)  # (B, C, S)
        if cache is None:
            h = self.cond_emb(cond)
            skip = self.run_stack(x, [proj(h)[:, :, None] for proj in self.conditions])  # V h: (B, 2C, 1) per layer
        else:
            if cache.cond is None or not torch.equal(cache.cond, cond):  # the same labels every step: made once
                h = self.cond_emb(cond)
                cache.cond = cond.clone()
                cache.biases = [b + proj(h) for proj, (_, b, _, _) in zip(self.conditions, cache.weights)]
            skip = torch.cat([self.step(x[:, :, t:t + 1], cache) for t in range(x.shape[2])], dim=2)
        return self.head(skip).transpose(1, 2)

    def run_stack(self, x: torch.Tensor, cond_bias: list) -> torch.Tensor:
        """Teacher-forced: every position at once, each layer's input padded by its dilation on the left (causal)."""
        skip = 0
        for i, d in enumerate(self.dilations):
            z = self.gate(i, self.filters[i](F.pad(x, (d, 0))), cond_bias)
            skip = skip + self.skips[i](z)
            x = x + self.residuals[i](z)
        return skip

    @torch.no_grad()
    def step_weights(self) -> list[tuple[torch.Tensor, ...]]:
        """Per layer, the weights for one position as plain matrices: the kernel-2 filter as (2C, 2C) acting on
        [x(t - d); x(t)] (tap 0 reads the past), and the 1x1 skip and residual maps stacked into one (D + C, C)."""
        layers = []
        for conv, skip, residual in zip(self.filters, self.skips, self.residuals):
            filter_w = torch.cat([conv.weight[:, :, 0], conv.weight[:, :, 1]], dim=1)  # (2C, 2C)
            out_w = torch.cat([skip.weight[:, :, 0], residual.weight[:, :, 0]])  # (D + C, C)
            layers.append((filter_w.t().contiguous(), conv.bias, out_w.t().contiguous(),
                           torch.cat([skip.bias, residual.bias])))
        return layers

    def decode_state(self, cache: QueueCache) -> list[torch.Tensor]:
        """A cache past its first step as the fixed-shape state of ``decode_step`` (``nn/decode.py``): the time as a
        1-element tensor, each layer's label bias (rows, 2C), then each layer's queue (dilation, rows, C)."""
        time = torch.tensor([cache.length], device=cache.queues[0].device)
        return [time, *(b.clone() for b in cache.biases), *(q.clone() for q in cache.queues)]

    def decode_step(self, guided: bool, draw):
        """One sample at a fixed shape: ``step(value (B,), u (B, 1), time, *biases, *queues) -> next value (B,)``:
        ``step`` and the head, then the sampler's ``draw(logits, u)`` (``guided``: every row twice, the draw combines).
        Each layer's queue slot is ``time % dilation``, a tensor, so every step has the same shapes; ``time`` moves on
        by one. (Gathering every layer's past input at once and applying the past taps in one batched product, Paine et
        al.'s queues flattened, was measured slower here: inductor then left the current taps to the library's small
        products.)"""
        layers, width = len(self.dilations), self.cfg.d_model
        head_in, head_out = self.head[1], self.head[3]

        def step(value, u, time, *state):
            biases, queues = state[:layers], state[layers:]
            x = self.start(torch.cat([value, value]) if guided else value)
            skip = 0
            for i, (dilation, bias, queue) in enumerate(zip(self.dilations, biases, queues)):
                slot = time % dilation
                kernel = self.filters[i].weight
                filter_w = torch.cat([kernel[:, :, 0], kernel[:, :, 1]], dim=1).t()  # [x(t - d); x(t)] -> 2C
                filtered = torch.addmm(bias, torch.cat([queue.index_select(0, slot)[0], x], dim=1), filter_w)
                queue.index_copy_(0, slot, x[None])  # read first: the slot now holds x(t)
                f, g = filtered.chunk(2, dim=1)
                out_w = torch.cat([self.skips[i].weight[:, :, 0], self.residuals[i].weight[:, :, 0]]).t()
                out_b = torch.cat([self.skips[i].bias, self.residuals[i].bias])
                skip_and_residual = torch.addmm(out_b, torch.tanh(f) * torch.sigmoid(g), out_w)  # eq. 2-3, 1x1s
                skip = skip + skip_and_residual[:, :width]
                x = x + skip_and_residual[:, width:]
            hidden = F.linear(torch.relu(skip), head_in.weight[:, :, 0], head_in.bias)
            logits = F.linear(torch.relu(hidden), head_out.weight[:, :, 0], head_out.bias)
            time.add_(1)
            return draw(logits, u)

        return step

    def step(self, x: torch.Tensor, cache: QueueCache) -> torch.Tensor:
        """One new position (B, C, 1): each layer reads its input from ``dilation`` steps ago off its queue, and
        pushes the current one (Paine et al. 2016). The same layers as ``run_stack``, written as matrix products on
        (B, C) rows, the label's V h folded into the filter's bias (``cache.biases``): sampling makes one small step
        per sample, so the number of calls per step is its cost."""
        skip, t, x = 0, cache.length, x[:, :, 0]
        for i, (queue, bias, (filter_w, _, out_w, out_b)) in enumerate(zip(cache.queues, cache.biases,
                                                                           cache.weights)):
            slot = t % self.dilations[i]
            filtered = torch.addmm(bias, torch.cat([queue[slot], x], dim=1), filter_w)  # (B, 2C): W*x + b + V h
            queue[slot] = x  # read first: the slot now holds x(t), to be read at t + dilation
            f, g = filtered.chunk(2, dim=1)
            skip_and_residual = torch.addmm(out_b, torch.tanh(f) * torch.sigmoid(g), out_w)  # eq. 2-3, then 1x1s
            skip = skip + skip_and_residual[:, : self.cfg.d_model]
            x = x + skip_and_residual[:, self.cfg.d_model:]
        cache.length += 1
        return skip[:, :, None]
