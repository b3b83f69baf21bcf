import math

import pytest
import torch

from genstrat.errors import GenstratError
from genstrat.nn import Backbone, BackboneConfig
from genstrat.strategies import STRATEGIES, get_strategy
from genstrat.strategies.mask_predict import cosine_schedule, masked_count_after
from genstrat.strategies.sampling import draw_categorical, filter_logits


def make(name, seq_len=16):
    """``name`` built over 4-level images of seq_len pixels (a 4x4 grid when 16), and a tiny backbone for it."""
    from genstrat.training.model_io import assemble
    from genstrat.units import PixelUnits

    side = int(seq_len ** 0.5)
    strategy = get_strategy(name, PixelUnits(levels=4, channels=1, height=side, width=seq_len // side))
    options = {"seq_len": seq_len, **strategy.backbone_options()}
    cfg = BackboneConfig(vocab_size=4, num_classes=2, d_model=32, n_layers=1, n_heads=2, causal=strategy.causal,
                         **options)
    return strategy, assemble(strategy, cfg).eval()


def options(strategy, **overrides):
    """The strategy's options with guidance 1 (the plain conditional model) and ``overrides``, those it reads."""
    defaults = strategy.sampling_defaults()
    return defaults.merged(**defaults.known({"guidance": 1.0, **overrides}))


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
    strategy, model = make("mask-predict", seq_len=64)
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
    strategy, model = make("mask-predict")
    versions = []
    out = strategy.generate(model, torch.tensor([0, 1, 1]), steps, torch.Generator().manual_seed(0),
                            on_version=lambda i, u: versions.append(u), options=options(strategy, noise=0.0))
    assert out.nfe == steps and len(versions) == steps
    assert not (out.units == model.mask_id).any()
    masked = [int((v == model.mask_id).sum()) for v in versions]
    assert masked == sorted(masked, reverse=True) and masked[-1] == 0
    for a, b in zip(versions, versions[1:]):  # decided positions never change
        keep = a != model.mask_id
        assert torch.equal(a[keep], b[keep])


def test_mask_predict_revise_ends_fully_decoded():
    strategy, model = make("mask-predict")
    counts = []
    out = strategy.generate(model, torch.tensor([0, 1]), 6, torch.Generator().manual_seed(0),
                            options=options(strategy, noise=2.0, revise=True),
                            on_version=lambda i, u: counts.append(int((u[0] == model.mask_id).sum())))
    assert out.nfe == 6 and not (out.units == model.mask_id).any()
    assert counts == [masked_count_after(t, 6, 16) for t in range(1, 7)]


def test_every_strategy_same_interface():
    for name, cls in STRATEGIES.items():  # on images; text strategies are exercised in test_text.py
        if "image" not in cls.modalities or not cls.standalone:  # next-scale: over its stage one, test_next_scale.py
            continue
        strategy, model = make(name)
        units = torch.randint(0, 4, (5, 16))
        loss = strategy.loss(model, units, torch.randint(0, 2, (5,)))
        assert loss.dim() == 0 and torch.isfinite(loss)
        versions = []
        out = strategy.generate(model, torch.tensor([0, 1]), 4, torch.Generator().manual_seed(1),
                                on_version=lambda i, u: versions.append(i), options=options(strategy, guidance=1.5))
        assert out.units.shape == (2, 16) and out.units.max() < 4 and out.units.min() >= 0
        assert out.nfe == strategy.steps_for(4)  # the passes the strategy declares for a request of 4
        assert versions == list(range(1, out.nfe + 1))


def test_nar_positions_are_independent_given_condition():
    """One-shot NAR draws every position from its own marginal: with a fixed model, the joint of two
    positions is the product of their marginals (no coordination, the multi-modality problem)."""
    strategy, model = make("nar", seq_len=2)
    cond = torch.zeros(20000, dtype=torch.long)
    u = strategy.generate(model, cond, 1, torch.Generator().manual_seed(0), options=options(strategy)).units
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


def test_categorical_draws_follow_the_probabilities_and_never_take_a_zero():
    """Inverse-transform sampling is exact: 40,000 draws of an unnormalised row land within 0.01 of each value's
    probability (4 standard errors), and the values of probability 0, first, inside and last, are never drawn."""
    weights = torch.tensor([0.0, 1.0, 0.0, 0.6, 0.4, 0.0])
    draws = draw_categorical(weights.expand(40_000, -1), torch.Generator().manual_seed(0))
    frequencies = torch.bincount(draws, minlength=6) / 40_000
    assert torch.allclose(frequencies, weights / weights.sum(), atol=0.01)
    assert frequencies[[0, 2, 5]].sum() == 0
    one_hot = draw_categorical(torch.tensor([[0.0, 0.0, 1.0]] * 100), torch.Generator().manual_seed(1))
    assert one_hot.eq(2).all()


def test_scale_pyramids():
    from genstrat.strategies.coarse_to_fine import scale_sizes

    assert scale_sizes(28, 28) == [(1, 1), (2, 2), (4, 4), (7, 7), (14, 14), (28, 28)]
    assert scale_sizes(8, 8) == [(1, 1), (2, 2), (4, 4), (8, 8)]
    assert scale_sizes(6, 3) == [(1, 1), (2, 1), (3, 2), (6, 3)]


def test_coarse_to_fine_pyramid_and_block_causality(digits):
    strategy = get_strategy("coarse-to-fine", digits.units)
    units = digits.train_units[:3].long()
    scales = strategy.pyramid(units)
    assert [s.shape[1] for s in scales] == [1, 4, 16, 64] and torch.equal(scales[-1], units)
    from genstrat.units import PixelUnits

    mean_level = PixelUnits(17, 1, 1, 1).encode(digits.units.decode(units).mean((2, 3), keepdim=True))
    assert torch.equal(scales[0], mean_level)  # the 1x1 scale is the image's mean grey, quantised
    from genstrat.training.model_io import build_model

    model = build_model(strategy, digits.num_classes, size="tiny").eval()
    cond = torch.tensor([1, 2, 3])
    mask = strategy.block_mask
    tokens = strategy.inputs(scales[:-1], model.mask_id)
    changed = tokens.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % 17  # alter the inputs of scales 2 and 3 (slots from offset 5)
    a, b = model(tokens, cond, attn_mask=mask), model(changed, cond, attn_mask=mask)
    assert torch.allclose(a[:, :6], b[:, :6], atol=1e-6)  # condition + scales 0 and 1 cannot see them
    assert not torch.allclose(a[:, 6:], b[:, 6:], atol=1e-4)


def test_latent_decoder_listens_to_z():
    strategy, model = make("latent")
    blank = torch.full((2, 16), model.mask_id)
    cond = torch.tensor([0, 0])
    z = torch.randn(2, model.cfg.latent_dim)
    a = model(blank, cond, latent=z)
    assert not torch.allclose(a[0], a[1], atol=1e-4)  # same condition, different z: different pixels
    mean, log_var = model.posterior(torch.randint(0, 4, (2, 16)), cond)
    assert mean.shape == log_var.shape == (2, model.cfg.latent_dim)


def test_diffusion_patches_tile_the_image_and_come_back_exactly():
    """Patch slots (DiT): diffusion cuts MNIST's 28 x 28 into 49 slots of 4 x 4 pixels, digits keep one pixel per
    slot, a 7 x 7 x 2 latent grid one slot per position; to_slots / from_slots are exact inverses and a slot is a
    patch."""
    import genstrat.strategies.diffusion as diffusion
    from genstrat.units import PixelUnits

    side = lambda units: diffusion.patch_side(units, diffusion.MAX_SLOTS)  # noqa: E731
    assert side(PixelUnits(256, 1, 28, 28)) == 4 and diffusion.patch_side(PixelUnits(256, 1, 28, 28)) == 2
    assert side(PixelUnits(17, 1, 8, 8)) == 1
    assert side(PixelUnits(256, 2, 7, 7)) == 1
    assert get_strategy("diffusion", PixelUnits(8, 1, 28, 28)).backbone_options()["slot_values"] == 16
    units = PixelUnits(levels=4, channels=3, height=4, width=6)
    values = torch.randn(2, units.seq_len)
    slots = diffusion.to_slots(values, units, 2)
    assert slots.shape == (2, 6, 12)
    assert torch.equal(diffusion.from_slots(slots, units, 2), values)
    image = values.view(2, 4, 6, 3)  # raster order, channels innermost
    assert torch.equal(slots[:, 1].view(2, 2, 2, 3), image[:, 0:2, 2:4])  # slot 1: rows 0-1, columns 2-3
    assert side(PixelUnits(8, 1, 17, 17)) == 1  # a prime side: one pixel per slot, not one slot
    config = lambda slots, values: BackboneConfig(vocab_size=4, num_classes=2, seq_len=slots, slot_values=values)  # noqa: E731
    assert diffusion.layout_of(config(6, 12), units) == 2 and diffusion.layout_of(config(72, 1), units) == 0
    for wrong in (config(9, 8), config(6, 1), config(12, 12)):
        with pytest.raises(GenstratError, match="do not tile"):
            diffusion.layout_of(wrong, units)
    # a latent-diffusion checkpoint from before patches: one value per slot over a 2-channel grid, still samples
    strategy = get_strategy("diffusion", PixelUnits(levels=256, channels=2, height=4, width=4))
    old = Backbone(BackboneConfig(vocab_size=256, num_classes=2, seq_len=32, d_model=32, n_layers=1, n_heads=2,
                                  causal=False, continuous=True, latent_dim=diffusion.TIME_FEATURES,
                                  prediction="epsilon")).eval()
    assert strategy.generate(old, torch.zeros(2, dtype=torch.long), 2,
                             torch.Generator().manual_seed(0)).units.shape == (2, 32)


def test_discrete_patches_keep_every_unit_its_own_value_and_prediction():
    """nar, latent and mask-predict over MNIST and digits read 2 x 2 patches (196 slots, not 784; 16, not 64); small
    code grids, text and AR keep one unit per slot. A patch's embedding knows which unit sits where (swapping two units
    in a patch changes it), every unit gets logits at its own raster position (changing the head's row for one place
    moves exactly that place's logits), and a patched model trains, samples full images and rejects a causal or
    mis-tiled setting."""
    from genstrat.nn.backbone import slot_embedding
    from genstrat.units import PixelUnits
    from genstrat.units.patches import patch_options

    mnist = PixelUnits(levels=8, channels=1, height=28, width=28)
    assert patch_options(mnist) == {"patch": 2, "layout": (1, 28, 28)}
    assert patch_options(PixelUnits(levels=17, channels=1, height=8, width=8)) == {"patch": 2, "layout": (1, 8, 8)}
    # 2 would leave 1,024 slots
    assert patch_options(PixelUnits(levels=4, channels=3, height=64, width=64))["patch"] == 4
    assert patch_options(PixelUnits(levels=1000, channels=1, height=7, width=7)) == {}  # a code grid: no side divides
    assert patch_options(PixelUnits(levels=4, channels=1, height=4, width=4)) == {}  # 2 x 2 would leave 4 slots
    assert get_strategy("ar", mnist).backbone_options() == {}
    units = PixelUnits(levels=4, channels=1, height=8, width=8)
    cfg = BackboneConfig(vocab_size=4, num_classes=2, seq_len=64, d_model=32, n_layers=1, n_heads=2, causal=False,
                         patch=2, layout=[1, 8, 8])  # a list, as JSON gives it
    assert cfg.slots == 16 and cfg.slot_units == 4 and cfg.layout == (1, 8, 8)
    model = Backbone(cfg).eval()
    tokens = torch.randint(0, 4, (1, 64))
    tokens[0, 0], tokens[0, 1] = 0, 3  # units 0 and 1 share patch 0
    swapped = tokens.clone()
    swapped[0, 0], swapped[0, 1] = 3, 0
    embed = lambda t: slot_embedding(model.tok_emb, t, cfg)  # noqa: E731
    assert (not torch.allclose(embed(tokens)[0, 0], embed(swapped)[0, 0])
            and torch.equal(embed(tokens)[0, 1:], embed(swapped)[0, 1:]))
    cond = torch.tensor([1])
    before = model(tokens, cond)
    assert before.shape == (1, 65, 4)
    with torch.no_grad():  # place 3 of each patch = row 1, column 1 inside it: units 9, 11, 13, ... of the 8 x 8 image
        model.head.bias[3 * 4:4 * 4] += 1.0
    moved = (model(tokens, cond) - before)[0, 1:].abs().sum(-1) > 0
    rows, cols = torch.arange(64) // 8, torch.arange(64) % 8
    assert torch.equal(moved, (rows % 2 == 1) & (cols % 2 == 1))
    for name in ("nar", "latent", "mask-predict"):
        from genstrat.training.model_io import assemble

        strategy = get_strategy(name, units)
        settings = {**strategy.backbone_options(), "patch": 2, "layout": (1, 8, 8)}
        patched = assemble(strategy, BackboneConfig(vocab_size=4, num_classes=2, seq_len=64, d_model=32, n_layers=1,
                                                    n_heads=2, causal=False, **settings))
        loss = strategy.loss(patched, torch.randint(0, 4, (3, 64)), torch.tensor([0, 1, 0]))
        loss.backward()
        assert torch.isfinite(loss) and patched.tok_emb.weight.grad.abs().sum() > 0
        out = strategy.generate(patched.eval(), torch.tensor([0, 1]), 4, torch.Generator().manual_seed(0),
                                options=options(strategy))
        assert out.units.shape == (2, 64) and 0 <= out.units.min() and out.units.max() < 4
    for wrong in ({"causal": True}, {"layout": (1, 4, 4)}, {"layout": (1, 7, 9)}, {"continuous": True}):
        with pytest.raises(ValueError, match="patch"):
            BackboneConfig(**{**dict(vocab_size=4, num_classes=2, seq_len=64, causal=False, patch=2, layout=(1, 8, 8)),
                              **wrong})


@pytest.mark.parametrize("prediction", ["v_prediction", "epsilon"])
@pytest.mark.parametrize("sampler, steps", [("ddpm", 50), ("ddim", 10), ("dpm-solver", 5), ("dpm-solver", 20),
                                            ("dpm-solver-sde", 20)])
@pytest.mark.parametrize("max_slots", [256, 4])
def test_diffusion_samplers_land_on_the_data_with_an_oracle_denoiser(sampler, steps, prediction, max_slots,
                                                                     monkeypatch):
    """A denoiser that knows x_0 returns the exact noise (or velocity); every sampler must then end exactly at x_0.
    This checks the training schedule, the timestep plumbing, the prediction type, the patch layout (one pixel per
    slot, or 2 x 2 patches when at most 4 slots are allowed) and each scheduler's update together."""
    import genstrat.strategies.diffusion as diffusion
    import genstrat.units.patches as patches

    monkeypatch.setattr(diffusion, "MAX_SLOTS", max_slots)
    monkeypatch.setattr(patches, "MIN_SLOTS", 1)
    strategy, model = make("diffusion")
    assert (model.cfg.seq_len, model.cfg.slot_values) == ((16, 1) if max_slots == 256 else (4, 4))
    model.cfg.prediction = prediction
    target = torch.randint(0, 4, (3, 16))
    x0 = diffusion.to_slots(strategy.to_values(target), strategy.units, diffusion.layout_of(model.cfg, strategy.units))
    abar = strategy.alphas_cumprod
    monkeypatch.setattr(diffusion, "time_features", lambda t, dim=64: t.float()[:, None])

    class Oracle:
        cfg, null_label = model.cfg, model.null_label

        def __call__(self, x, cond, cache=None, latent=None, attn_mask=None):
            a = abar[latent[:, 0].long()][:, None, None]
            eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
            out = eps if prediction == "epsilon" else a.sqrt() * eps - (1 - a).sqrt() * x0
            return torch.cat([torch.zeros(len(x), 1, out.shape[-1]), out], 1)

    out = strategy.generate(Oracle(), torch.zeros(3, dtype=torch.long), steps, torch.Generator().manual_seed(0),
                            options=options(strategy, sampler=sampler))
    assert out.nfe == steps
    assert torch.equal(out.units, target)


@pytest.mark.parametrize("prediction", ["v_prediction", "epsilon"])
@pytest.mark.parametrize("max_slots", [256, 4])
def test_diffusion_loss_is_zero_only_for_its_own_target(prediction, max_slots, monkeypatch):
    """New models learn the velocity v (Min-SNR weighted), earlier ones the noise; each loss vanishes exactly
    when the model outputs its own target (one pixel per slot, or 2 x 2 patches), and an untrained model has a
    loss of order 1."""
    import genstrat.strategies.diffusion as diffusion
    import genstrat.units.patches as patches

    monkeypatch.setattr(diffusion, "MAX_SLOTS", max_slots)
    monkeypatch.setattr(patches, "MIN_SLOTS", 1)
    strategy, model = make("diffusion")
    p = diffusion.layout_of(model.cfg, strategy.units)
    assert p == (1 if max_slots == 256 else 2)
    assert model.cfg.prediction == "v_prediction"  # what new checkpoints record
    older = {k: v for k, v in model.cfg.to_dict().items() if k != "prediction"}
    assert BackboneConfig(**older).prediction == "epsilon"  # configs written before the field: noise models
    model.cfg.prediction = prediction
    units, cond = torch.randint(0, 4, (8, 16)), torch.zeros(8, dtype=torch.long)
    torch.manual_seed(0)
    untrained = strategy.loss(model, units, cond)
    assert torch.isfinite(untrained) and 0.05 < untrained.item() < 2.0

    class Exact:  # outputs the target for the noise the loss will draw next
        cfg = model.cfg

        def __call__(self, x, cond, latent=None):  # the target in slot order, after the condition slot
            return torch.cat([torch.zeros(len(x), 1, x.shape[-1]), self.target.view(x.shape)], 1)

    torch.manual_seed(1)  # the loss draws t, then the noise, in this order
    t = torch.randint(0, diffusion.TRAIN_STEPS, (8,))
    eps = torch.randn(8, 16)
    a = strategy.alphas_cumprod[t][:, None]
    x0 = diffusion.to_slots(strategy.to_values(units), strategy.units, p).flatten(1)  # noise is drawn in slot order
    targets = {"epsilon": eps, "v_prediction": a.sqrt() * eps - (1 - a).sqrt() * x0}
    for name, target in targets.items():
        exact = Exact()
        exact.target = target
        torch.manual_seed(1)
        loss = strategy.loss(exact, units, cond).item()
        assert (loss < 1e-10) == (name == prediction), (prediction, name, loss)
    model.cfg.prediction = "x0"
    with pytest.raises(GenstratError, match="unknown diffusion prediction"):
        strategy.loss(model, units, cond)


def test_ddim_steps_with_the_noise_of_its_clipped_prediction():
    """DDIM (Song et al. 2021 eq. 12) clips the predicted x_0 to [-1, 1]; the noise it steps with must be the one that
    clipped x_0 implies (GLIDE's choice), or the update mixes two different guesses of x_0."""
    import genstrat.strategies.diffusion as diffusion

    scheduler = diffusion.make_scheduler("ddim", "epsilon")
    scheduler.set_timesteps(10)
    t, previous = scheduler.timesteps[0], scheduler.timesteps[1]
    abar, abar_prev = scheduler.alphas_cumprod[t], scheduler.alphas_cumprod[previous]
    x = torch.randn(2, 8)
    eps = 3 * torch.randn(2, 8)  # a poor noise guess whose x_0 lies far outside [-1, 1]
    x0 = ((x - (1 - abar).sqrt() * eps) / abar.sqrt()).clamp(-1, 1)
    assert (x0.abs() == 1).any()
    implied = (x - abar.sqrt() * x0) / (1 - abar).sqrt()
    expected = abar_prev.sqrt() * x0 + (1 - abar_prev).sqrt() * implied
    assert torch.allclose(scheduler.step(eps, t, x).prev_sample, expected, atol=1e-5)
