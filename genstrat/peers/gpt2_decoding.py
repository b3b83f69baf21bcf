"""AR decoding speed beside Hugging Face transformers: our KV-cached loop against ``GPT2LMHeadModel.generate``.

Our trunk is nanoGPT's shape, which is GPT-2's (Radford et al. 2019): learned positions, pre-LayerNorm blocks with
one fused q/k/v projection, a 4x GELU MLP, a final LayerNorm. So a ``GPT2Config`` with our depth, width, heads and
context is the same network, and our trained weights copy over: GPT-2's ``Conv1D`` layers hold the transpose of
a ``Linear``'s weight; its one token table holds our unit values, MASK, then our labels (label c is token
V + 1 + c, the prompt); its head has no bias, so ours is dropped (speed does not depend on it; the copy is checked
to give the same logits up to that bias). GELU is the exact one (``activation_function="gelu"``), as ours.

Both decode the same number of tokens (the object's L units after the one label slot), sampling at temperature 1
with no top-k, guidance off (``generate`` has no classifier-free guidance); tokens per second = batch x L / the
median seconds of ``repeats`` runs after one warm-up, ours and theirs alternating in one process.
"""

from __future__ import annotations

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


def decoding_rows(strategy, model, batches=(1, 64), repeats: int = 3, seed: int = 0) -> list[dict]:
    """Two rows, ours (``ar``) and the peer's: tokens per second at each batch size, and the ratio ours / theirs."""
    from transformers import logging as hf_logging

    hf_logging.set_verbosity_error()
    model = model.eval()
    twin = gpt2_twin(model)
    length, offset = model.cfg.seq_len, model.cfg.vocab_size + 1
    options = strategy.sampling_defaults().merged(guidance=1.0, temperature=1.0)
    ours, theirs = {}, {}
    for batch in batches:
        cond = torch.arange(batch) % model.cfg.num_classes
        prompt = (cond + offset)[:, None]
        generator = torch.Generator().manual_seed(seed)

        def run_ours():
            with torch.no_grad():
                strategy.generate(model, cond, length, generator, options=options)

        def run_theirs():
            with torch.no_grad():
                twin.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), do_sample=True, top_k=0,
                              max_new_tokens=length, min_new_tokens=length, use_cache=True)

        ours[batch] = batch * length / median_seconds(run_ours, repeats)
        theirs[batch] = batch * length / median_seconds(run_theirs, repeats)
    fields = lambda rates: {f"tokens_per_s_b{b}": round(r, 1) for b, r in rates.items()}  # noqa: E731
    shape = {"tokens": length, "d_model": model.cfg.d_model, "n_layers": model.cfg.n_layers,
             "n_heads": model.cfg.n_heads, "measure": "decoding speed"}
    ratio = {f"speed_ratio_b{b}": round(ours[b] / theirs[b], 3) for b in batches}
    return [{"strategy": "ar", "peer": False, **shape, **fields(ours), **ratio},
            {"strategy": PEER, "peer": True, **shape, **fields(theirs)}]
