"""MaskGIT beside ``two-stage:mask-predict``: lucidrains' ``muse-maskgit-pytorch`` trained over our FSQ codes.

The question it answers (issue 20): is our two-stage mask-predict's gap to two-stage AR the strategy's, or our
backbone's and recipe's? The peer is the most used MaskGIT implementation on PyPI (Chang et al. 2022, as Muse,
Chang et al. 2023, builds on it), given the same codes, budget and judge:

- **Network**: its ``MaskGitTransformer`` at our prior's depth, width and heads (pre-norm blocks of self-attention,
  cross-attention to the condition and a GEGLU feed-forward; queries and keys l2-normalised). The condition reaches
  it the way its text does, as the cross-attention context: a learned embedding per class stands where its T5
  text embedding would (a ``T5Config`` of our width is registered under a local name, so nothing is fetched).
- **Training**: its own ``MaskGit.forward`` loss (cosine-scheduled masking, MaskGIT eq. 3; cross-entropy on the
  masked codes; the condition dropped half the time for guidance, its default ``cond_drop_prob = 0.5``), for the
  seconds (or, in a step budget, the updates) our prior trained. The package gives no optimiser recipe, so it gets
  ours (``training.make_optimizer`` and ``learning_rate``): the comparison is of the network, masking and sampling.
- **Sampling**: its own ``MaskGit.generate`` at 8 passes (``timesteps``) with its defaults: guidance scale 3
  (conditional and unconditional as two forward passes), top-10% logit filtering, Gumbel sampling at a temperature
  annealed to 0, re-masking the least confident codes by the cosine schedule. The codes go through our codec's
  decoder, as ours do. The same trained peer is measured a second time at our prior's guidance and without top-k
  filtering (``SETTINGS``), which tells its sampler's defaults apart from its network and training.

``MaskGit`` wants a VQGAN-VAE to read the grid's size and decode; ``CodeGrid`` is one that only answers those two
questions over codes already made (our auto-encoder does the rest). ``generate`` reads square grids only (MNIST's
7 x 7 codes); other grids get a reason row.
"""

from __future__ import annotations

import math
import time

import torch

from genstrat.peers.rows import measured_peer_row
from genstrat.strategies.base import Generation, SweepPoint

PEER = "muse-maskgit"
PASSES = 8
# (label suffix, guidance scale, top-k filter threshold: keep the top ceil((1 - thres) * values) logits; 0 keeps all)
SETTINGS = (("", 3.0, 0.9), ("-ours", None, 0.0))  # its defaults; our prior's guidance (None: read from it), no top-k
CONTEXT_NAME = "genstrat-class-embedding"  # the T5 name the class embedding stands in for: never fetched


def grid_side(seq_len: int) -> int | None:
    side = math.isqrt(seq_len)
    return side if side * side == seq_len else None


def build(vocab_size: int, seq_len: int, num_classes: int, dim: int, depth: int, heads: int):
    """(MaskGit, class embedding) for codes of ``vocab_size`` values on a square grid of ``seq_len``."""
    from muse_maskgit_pytorch import MaskGit, MaskGitTransformer, VQGanVAE
    from muse_maskgit_pytorch import t5 as muse_t5
    from transformers import T5Config

    class CodeGrid(VQGanVAE):
        """The two questions ``MaskGit`` asks its VQGAN-VAE, answered for codes already made."""

        def __init__(self, codebook_size: int, side: int):
            torch.nn.Module.__init__(self)
            self.codebook_size, self.side = codebook_size, side

        def copy_for_eval(self):
            return self

        def get_encoded_fmap_size(self, image_size):
            return self.side

        def decode_from_ids(self, ids):
            return ids

    muse_t5.T5_CONFIGS.setdefault(CONTEXT_NAME, {"config": T5Config(d_model=dim)})
    transformer = MaskGitTransformer(num_tokens=vocab_size, seq_len=seq_len, dim=dim, depth=depth, heads=heads,
                                     dim_head=dim // heads, t5_name=CONTEXT_NAME)
    embedding = torch.nn.Embedding(num_classes, dim)
    transformer.encode_text = lambda texts: embedding(torch.tensor([int(t) for t in texts],
                                                                   device=embedding.weight.device))[:, None]
    maskgit = MaskGit(image_size=grid_side(seq_len), transformer=transformer,
                      vae=CodeGrid(vocab_size, grid_side(seq_len)))
    maskgit.class_embedding = embedding  # a submodule, so its weights train, move and count with the rest
    return maskgit


def train_maskgit(maskgit, codes: torch.Tensor, labels: torch.Tensor, seconds: float | None, steps: int | None,
                  batch_size: int, lr: float, seed: int, progress=None) -> dict:
    """MaskGit's own loss under our optimiser and schedule, for ``seconds`` of wall clock or ``steps`` updates."""
    from genstrat.training.loop import learning_rate, make_optimizer

    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    optimizer = make_optimizer(maskgit, lr)
    step, start, loss_value = 0, time.perf_counter(), float("nan")
    maskgit.train()
    while True:
        elapsed = time.perf_counter() - start
        done = step / steps if steps is not None else elapsed / seconds
        if done >= 1:
            break
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(lr, step, done)
        idx = torch.randint(0, codes.shape[0], (batch_size,), generator=rng)
        loss = maskgit(codes[idx].long(), text_embeds=maskgit.class_embedding(labels[idx].long())[:, None])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(maskgit.parameters(), 1.0)
        optimizer.step()
        step, loss_value = step + 1, loss.item()
        if progress is not None:
            progress.set_postfix(step=step, loss=f"{loss_value:.4f}", refresh=False)
            progress.update(1)
    seconds_used = time.perf_counter() - start
    maskgit.eval()
    return {"train_steps": step, "train_seconds": round(seconds_used, 1), "train_loss": round(loss_value, 4),
            "updates_per_s": round(step / max(seconds_used, 1e-9), 3),
            "params": sum(p.numel() for p in maskgit.parameters())}


class MaskGitPeer:
    """The trained peer as a strategy ``benchmark.measure`` times and judges: its ``generate``, then our decoder."""

    def __init__(self, two_stage, guidance: float = 3.0, topk_filter_thres: float = 0.9):
        self.name, self.two_stage = PEER, two_stage
        self.guidance, self.topk_filter_thres = guidance, topk_filter_thres

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None) -> Generation:
        torch.manual_seed(int(torch.randint(2 ** 62, (1,), generator=generator, device=generator.device)))
        ids = model.generate([str(int(c)) for c in cond], timesteps=steps, cond_scale=self.guidance,
                             topk_filter_thres=self.topk_filter_thres)  # (its loop draws a progress bar)
        return Generation(units=self.two_stage.to_pixels(ids.flatten(1)), nfe=steps)


def maskgit_rows(data, out, evaluator, conditions, config, store, progress: bool) -> list[dict]:
    """The peer trained over the codes of this bench's ``two-stage:mask-predict`` (its auto-encoder, its budget)
    and measured at 8 passes; a row an interrupted run kept is reused."""
    from tqdm.auto import tqdm

    from genstrat.benchmark.measure import Job
    from genstrat.training.model_io import load_model, saved_options

    labels = [f"{PEER}-{PASSES}{suffix}" for suffix, _, _ in SETTINGS]
    kept = [store.kept_row(PEER, label) for label in labels]
    if all(row is not None for row in kept):
        return kept
    ours, two_stage, saved = load_model(out / "checkpoints" / "two-stage-mask-predict")
    cfg, ours_row = ours.cfg, store.rows_of("two-stage:mask-predict")[0]
    if grid_side(cfg.seq_len) is None:
        return [{"strategy": PEER, "peer": True, "measure": "beside two-stage:mask-predict",
                 "reason": f"MaskGit.generate reads square code grids; these codes are {cfg.seq_len} in a row"}]
    encoded = two_stage.training_data(data)
    torch.manual_seed(config.seed)
    maskgit = build(two_stage.codes.vocab_size, cfg.seq_len, data.num_classes, cfg.d_model, cfg.n_layers,
                    cfg.n_heads)
    steps = ours_row["train_steps"] if config.budget.steps is not None else None
    seconds = None if steps is not None else ours_row["train_seconds"]
    with tqdm(desc=f"train {PEER}", disable=not progress, leave=False) as bar:
        training = train_maskgit(maskgit, encoded.train_units, data.train_labels, seconds, steps, config.batch_size,
                                 config.lr, config.seed, bar)
    maskgit.to(config.device)
    ours_guidance = saved_options(two_stage, saved).guidance
    rows = []
    for label, (suffix, guidance, thres) in zip(labels, SETTINGS):
        guidance = ours_guidance if guidance is None else guidance
        point = SweepPoint(steps=PASSES, overrides={}, series=PEER + suffix)
        job = Job(MaskGitPeer(two_stage, guidance, thres), maskgit, point, None, label)
        sampling = "MaskGit.generate defaults" if not suffix else "MaskGit.generate at our guidance, no top-k"
        rows.append(measured_peer_row(job, PEER, evaluator, conditions, config, store, out, progress,
                                      ours_params=ours.num_params(), ours_train_steps=ours_row["train_steps"],
                                      guidance=guidance, topk_filter_thres=thres,
                                      recipe=f"MaskGit.forward loss, genstrat's AdamW and schedule; {sampling}",
                                      **training))
    return rows
