import math

import pytest
import torch

from genstrat.nn import Backbone, BackboneConfig
from genstrat.strategies import STRATEGIES, SamplingOptions, get_strategy
from genstrat.strategies.mask_predict import cosine_schedule, masked_count_after
from genstrat.strategies.sampling import filter_logits


def model_for(strategy, seq_len=16):
    cfg = BackboneConfig(vocab_size=4, seq_len=seq_len, num_classes=2, d_model=32, n_layers=1, n_heads=2, causal=strategy.causal)
    return Backbone(cfg).eval()


def test_cosine_schedule_endpoints_and_monotone():
    assert cosine_schedule(0.0) == 1.0 and abs(cosine_schedule(1.0)) < 1e-12
    rs = torch.linspace(0, 1, 50)
    assert (cosine_schedule(rs).diff() <= 0).all()


@pytest.mark.parametrize("steps", [1, 2, 4, 8, 16, 64])
def test_masked_counts_fall_to_zero(steps):
    counts = [64] + [masked_count_after(t, steps, 64) for t in range(1, steps + 1)]
    assert counts[-1] == 0
    assert all(a >= b for a, b in zip(counts, counts[1:]))
    assert counts[1] == math.floor(math.cos(math.pi / 2 / steps) * 64 + 1e-9) or steps == 1


def test_training_masks_follow_schedule():
    """With r ~ U(0,1) and gamma = cos(pi r / 2), the mean masked fraction is 2/pi."""
    strategy = get_strategy("mask-predict")
    model = model_for(strategy, seq_len=64)
    seen = []
    original = model.forward

    def spy(tokens, cond, cache=None):
        seen.append((tokens == model.mask_id).float().mean(1))
        return original(tokens, cond, cache)

    model.forward = spy
    units = torch.randint(0, 4, (4000, 64))
    strategy.loss(model, units, torch.zeros(4000, dtype=torch.long))
    fractions = seen[0]
    assert (fractions > 0).all()
    assert abs(fractions.mean().item() - 2 / math.pi) < 0.02


@pytest.mark.parametrize("steps", [1, 3, 8, 16])
def test_mask_predict_decodes_everything_in_k_passes(steps):
    strategy = get_strategy("mask-predict")
    model = model_for(strategy)
    versions = []
    out = strategy.generate(model, torch.tensor([0, 1, 1]), steps, torch.Generator().manual_seed(0),
                            on_version=lambda i, u: versions.append(u))
    assert out.nfe == steps and len(versions) == steps
    assert not (out.units == model.mask_id).any()
    masked = [int((v == model.mask_id).sum()) for v in versions]
    assert masked == sorted(masked, reverse=True) and masked[-1] == 0
    for a, b in zip(versions, versions[1:]):  # decided positions never change
        keep = a != model.mask_id
        assert torch.equal(a[keep], b[keep])


def test_mask_predict_revise_ends_fully_decoded():
    strategy = get_strategy("mask-predict")
    model = model_for(strategy)
    options = SamplingOptions(noise=2.0, revise=True)
    counts = []
    out = strategy.generate(model, torch.tensor([0, 1]), 6, torch.Generator().manual_seed(0), options=options,
                            on_version=lambda i, u: counts.append(int((u[0] == model.mask_id).sum())))
    assert out.nfe == 6 and not (out.units == model.mask_id).any()
    assert counts == [masked_count_after(t, 6, 16) for t in range(1, 7)]


def test_every_strategy_same_interface():
    for name in STRATEGIES:
        strategy = get_strategy(name)
        model = model_for(strategy)
        units = torch.randint(0, 4, (5, 16))
        loss = strategy.loss(model, units, torch.randint(0, 2, (5,)))
        assert loss.dim() == 0 and torch.isfinite(loss)
        versions = []
        out = strategy.generate(model, torch.tensor([0, 1]), 4, torch.Generator().manual_seed(1),
                                on_version=lambda i, u: versions.append(i), options=SamplingOptions(guidance=1.5))
        assert out.units.shape == (2, 16) and out.units.max() < 4 and out.units.min() >= 0
        assert out.nfe == {"ar": 16, "nar": 1, "mask-predict": 4}[name]
        assert versions == list(range(1, out.nfe + 1))


def test_nar_positions_are_independent_given_condition():
    """One-shot NAR draws every position from its own marginal: with a fixed model, the joint of two
    positions is the product of their marginals (no coordination, the multi-modality problem)."""
    strategy = get_strategy("nar")
    model = model_for(strategy, seq_len=2)
    cond = torch.zeros(20000, dtype=torch.long)
    u = strategy.generate(model, cond, 1, torch.Generator().manual_seed(0)).units
    joint = torch.zeros(4, 4)
    joint.index_put_((u[:, 0], u[:, 1]), torch.ones(len(u)), accumulate=True)
    joint /= joint.sum()
    product = joint.sum(1, keepdim=True) * joint.sum(0, keepdim=True)
    assert (joint - product).abs().max() < 0.02


def test_top_k_and_top_p_filters():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isinf(filter_logits(logits, 2, None)).tolist() == [[False, False, True, True]]
    assert torch.isinf(filter_logits(logits, None, 0.7)).tolist() == [[False, False, True, True]]
    assert torch.isinf(filter_logits(logits, None, 0.4)).tolist() == [[False, True, True, True]]
