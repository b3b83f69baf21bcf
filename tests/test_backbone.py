import torch

from genstrat.nn import Backbone, BackboneConfig
from genstrat.strategies import get_strategy
from genstrat.units import PixelUnits
from genstrat.strategies.sampling import sample_units


def make(causal=True, **kw):
    cfg = BackboneConfig(**{**dict(vocab_size=5, seq_len=12, num_classes=3, d_model=32, n_layers=2, n_heads=4), **kw},
                         causal=causal)
    return Backbone(cfg).eval()


def test_shapes():
    model = make(causal=False)
    tokens = torch.randint(0, 6, (4, 12))
    logits = model(tokens, torch.tensor([0, 1, 2, 3]))  # label 3 is the null label
    assert logits.shape == (4, 13, 5)


def test_causal_outputs_ignore_future_tokens():
    model = make()
    x = torch.randint(0, 5, (2, 11))
    y = x.clone()
    y[:, 6:] = (y[:, 6:] + 1) % 5
    cond = torch.tensor([0, 1])
    a, b = model(x, cond), model(y, cond)
    assert torch.allclose(a[:, :7], b[:, :7], atol=1e-6)
    assert not torch.allclose(a[:, 7:], b[:, 7:], atol=1e-4)


def test_kv_cache_equals_full_recompute():
    model = make()
    x = torch.randint(0, 5, (3, 11))
    cond = torch.tensor([0, 2, 1])
    full = model(x, cond)
    cache = model.new_cache(3)
    pieces = [model(x[:, :0], cond, cache)]  # condition slot alone
    pieces.append(model(x[:, :4], cond, cache))  # a chunk of 4
    for i in range(4, 11):  # then one slot at a time
        pieces.append(model(x[:, i:i + 1], cond, cache))
    assert torch.allclose(torch.cat(pieces, 1), full, atol=1e-5)


def test_cached_ar_sampling_equals_recompute_sampling():
    """The AR sampler (KV cache) draws exactly what a full-recompute sampler draws with the same seed."""
    model = make()
    cond = torch.tensor([0, 1, 2, 1])
    for guidance in (1.0, 2.0):
        ar = get_strategy("ar", PixelUnits(levels=model.cfg.vocab_size, channels=1, height=1, width=model.cfg.seq_len))
        options = ar.sampling_defaults().merged(guidance=guidance, top_k=4)
        fast = ar.generate(model, cond, None, torch.Generator().manual_seed(7), options=options).units
        g = torch.Generator().manual_seed(7)
        slow = torch.empty(4, 0, dtype=torch.long)
        with torch.no_grad():
            for _ in range(12):
                c = model(slow, cond)[:, -1]
                if guidance != 1.0:
                    u = model(slow, torch.full_like(cond, 3))[:, -1]
                    c = u + guidance * (c - u)
                value, _ = sample_units(c, options, g)
                slow = torch.cat([slow, value[:, None]], 1)
        assert torch.equal(fast, slow)


def test_bidirectional_sees_everything():
    model = make(causal=False)
    x = torch.randint(0, 5, (1, 12))
    y = x.clone()
    y[0, -1] = (y[0, -1] + 1) % 5
    cond = torch.tensor([1])
    assert not torch.allclose(model(x, cond)[:, 1], model(y, cond)[:, 1])


def test_adaln_starts_at_zero_and_then_reads_noise_level_and_label():
    """adaLN-Zero (DiT): the output starts at exactly zero; once the zero-initialised layers move, the noise-level
    vector and the label change every slot's output through the modulation, not through an added input."""
    import pytest

    model = make(causal=False, continuous=True, latent_dim=8, slot_values=2, seq_len=6, adaln=True)
    x, cond, t = torch.randn(2, 6, 2), torch.tensor([0, 1]), torch.randn(2, 8)
    assert torch.equal(model(x, cond, latent=t), torch.zeros(2, 7, 2))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    out = model(x, cond, latent=t)
    assert not torch.allclose(out, model(x, cond, latent=t + 1), atol=1e-4)
    assert not torch.allclose(out[0], model(x, torch.tensor([2, 1]), latent=t)[0], atol=1e-4)
    with pytest.raises(ValueError, match="latent vector"):
        model(x, cond)
    with pytest.raises(ValueError, match="adaln needs"):
        make(causal=False, adaln=True)  # discrete tokens: nothing to modulate with


def test_code_levels_add_coordinates_to_embedding_and_logits():
    """With FSQ code_levels a code's input and its logit also pass through its coordinates; sampling's cached tables
    follow every weight change; the config refuses levels that do not count the vocabulary."""
    import pytest

    model = make(causal=False, vocab_size=6, code_levels=[3, 2])
    tokens = torch.randint(0, 7, (2, 12))
    cond = torch.tensor([0, 1])
    with torch.no_grad():
        before = model(tokens, cond)
        assert before.shape == (2, 13, 6) and torch.allclose(before, model(tokens, cond))
        model.coords_out.weight.mul_(10)  # an in-place update, as an optimizer step makes
        # the logits' coordinate term, not a stale cache
        assert not torch.allclose(model(tokens, cond), before, atol=1e-4)
        assert torch.allclose(model(tokens, cond), torch.enable_grad()(model)(tokens, cond), atol=1e-6)
        model.coords_in.weight.zero_()
        model.coords_out.weight.zero_()
        plain = make(causal=False, vocab_size=6)
        plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("coords_")})
        assert torch.allclose(model(tokens, cond), plain(tokens, cond), atol=1e-6)  # zero maps: the plain backbone
    with pytest.raises(ValueError, match="code_levels"):
        make(causal=False, vocab_size=5, code_levels=[3, 2])
