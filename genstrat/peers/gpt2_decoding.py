"""AR decoding speed beside Hugging Face transformers: our KV-cached loop against ``GPT2LMHeadModel.generate``.

Our trunk is nanoGPT's shape, which is GPT-2's (Radford et al. 2019): learned positions, pre-LayerNorm blocks with
one fused q/k/v projection, a 4x GELU MLP, a final LayerNorm. So a ``GPT2Config`` with our depth, width, heads and
context is the same network, and our trained weights copy over: GPT-2's ``Conv1D`` layers hold the transpose of
a ``Linear``'s weight; its one token table holds our unit values, MASK, then our labels (label c is token
V + 1 + c, the prompt); its head has no bias, so ours is dropped (speed does not depend on it; the copy is checked
to give the same logits up to that bias). GELU is the exact one (``activation_function="gelu"``), as ours.

Both decode the same number of tokens (the object's L units after the one label slot), sampling at temperature 1
with no top-k, guidance off (``generate`` has no classifier-free guidance); tokens per second = batch x L / the
median seconds of ``repeats`` runs after one warm-up, in one process. Each side is timed eager and at its compiled
best (ours: ``decode="compiled"``, ``nn/decode.py``; theirs: a static cache and ``torch.compile``), and our ratios
are against their best path.
"""

from __future__ import annotations

import time

import torch

from genstrat.eval.timing import median_seconds

PEER = "transformers:gpt2"


def gpt2_twin(model):
    """A ``GPT2LMHeadModel`` with ``model``'s shape and weights (labels as prompt tokens after MASK)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = model.cfg
    vocab = cfg.vocab_size + 1 + cfg.num_classes + 1
    twin = GPT2LMHeadModel(GPT2Config(
        vocab_size=vocab, n_positions=cfg.seq_len + cfg.cond_slots, n_embd=cfg.d_model, n_layer=cfg.n_layers,
        n_head=cfg.n_heads, n_inner=4 * cfg.d_model, activation_function="gelu", resid_pdrop=0.0, embd_pdrop=0.0,
        attn_pdrop=0.0, layer_norm_epsilon=1e-5, tie_word_embeddings=False, bos_token_id=None, eos_token_id=None,
        pad_token_id=0))
    twin.config._attn_implementation = "sdpa"
    with torch.no_grad():
        table = twin.transformer.wte.weight
        table.zero_()
        table[: cfg.vocab_size + 1] = model.tok_emb.weight
        table[cfg.vocab_size + 1:] = model.cond_emb.weight
        twin.transformer.wpe.weight.copy_(model.pos_emb)
        for ours, theirs in zip(model.blocks, twin.transformer.h):
            theirs.ln_1.load_state_dict(ours.ln1.state_dict())
            theirs.ln_2.load_state_dict(ours.ln2.state_dict())
            for linear, conv in ((ours.attn.qkv, theirs.attn.c_attn), (ours.attn.proj, theirs.attn.c_proj),
                                 (ours.mlp[0], theirs.mlp.c_fc), (ours.mlp[2], theirs.mlp.c_proj)):
                conv.weight.copy_(linear.weight.T)
                conv.bias.copy_(linear.bias)
        twin.transformer.ln_f.load_state_dict(model.ln_f.state_dict())
        twin.lm_head.weight.zero_()
        twin.lm_head.weight[: cfg.vocab_size] = model.head.weight
    return twin.eval()


FAST = True  # also time both sides' compiled paths (tests turn this off: each compile takes a minute on 2 cores)


def their_rows(model, batches=(1, 64), repeats: int = 3, paths=("dynamic", "static+compile"),
               progress: bool = False) -> list[dict]:
    """``GPT2LMHeadModel.generate`` over our weights, one row per path: ``dynamic`` (its default cache), ``static``
    (``cache_implementation="static"``) and ``static+compile`` (a static cache and ``torch.compile`` of the forward:
    transformers' documented fast path; ``generate`` compiles by itself only on an accelerator). Tokens per second at
    each batch size (median of ``repeats`` after a warm-up; the compiled path's first call, its compile, is timed)."""
    from transformers import logging as hf_logging

    hf_logging.set_verbosity_error()
    length, offset = model.cfg.seq_len, model.cfg.vocab_size + 1
    rows = []
    for path in paths:
        twin = gpt2_twin(model)
        if path == "static+compile":
            twin.forward = torch.compile(twin.forward, fullgraph=True, dynamic=False)
        row = {"strategy": PEER, "peer": True, "measure": "decoding speed", "decode": path,
               "compiled": path == "static+compile", "tokens": length}
        for batch in batches:
            prompt = ((torch.arange(batch) % model.cfg.num_classes) + offset)[:, None]
            extra = {} if path == "dynamic" else {"cache_implementation": "static"}

            def run():
                with torch.no_grad():
                    twin.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), do_sample=True, top_k=0,
                                  max_new_tokens=length, min_new_tokens=length, use_cache=True, **extra)

            if row["compiled"]:
                start = time.perf_counter()
                try:
                    run()
                except Exception as e:  # noqa: BLE001 - their compile failing here is a row's reason, not a crash
                    row["reason"] = f"torch.compile of generate failed: {type(e).__name__}"
                    break
                row[f"compile_s_b{batch}"] = round(time.perf_counter() - start, 1)
            seconds = median_seconds(run, repeats)
            row[f"tokens_per_s_b{batch}"] = round(batch * length / seconds, 1)
        rows.append(row)
        if progress:
            print(row, flush=True)
    return rows


def our_rows(strategy, model, batches=(1, 64), repeats: int = 3, modes=("eager", "compiled"),
             seed: int = 0) -> list[dict]:
    """Our KV-cached loop, one row per ``decode`` mode, at temperature 1 without top-k or guidance, as the peer."""
    length = model.cfg.seq_len
    rows = []
    for mode in modes:
        options = strategy.sampling_defaults().merged(guidance=1.0, temperature=1.0, decode=mode)
        row = {"strategy": "ar", "peer": False, "measure": "decoding speed", "decode": mode,
               "compiled": mode == "compiled", "tokens": length}
        for batch in batches:
            cond = torch.arange(batch) % model.cfg.num_classes
            generator = torch.Generator().manual_seed(seed)

            def run():
                with torch.no_grad():
                    strategy.generate(model, cond, length, generator, options=options)

            row[f"tokens_per_s_b{batch}"] = round(batch * length / median_seconds(run, repeats), 1)
        rows.append(row)
    return rows


def decoding_rows(strategy, model, batches=(1, 64), repeats: int = 3, seed: int = 0) -> list[dict]:
    """Ours and the peer's rows (eager and compiled on each side when ``FAST``), and on ours the ratio of each of its
    rates to the peer's best at that batch size: every "x faster" against the fastest honest baseline."""
    model = model.eval()
    ours = our_rows(strategy, model, batches, repeats, ("eager", "compiled") if FAST else ("eager",), seed)
    theirs = their_rows(model, batches, repeats, ("dynamic", "static+compile") if FAST else ("dynamic",))
    shape = {"d_model": model.cfg.d_model, "n_layers": model.cfg.n_layers, "n_heads": model.cfg.n_heads}
    for row in ours:
        for b in batches:
            best = max(r.get(f"tokens_per_s_b{b}", 0) for r in theirs)
            row[f"speed_ratio_b{b}"] = round(row[f"tokens_per_s_b{b}"] / best, 3)
    return [{**r, **shape} for r in ours + theirs]
