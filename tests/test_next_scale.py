"""Next-scale prediction (VAR): the multi-scale residual quantizer over a frozen stage one, and the prior that draws
a whole scale a pass."""

import json

import pytest
import torch
import torch.nn.functional as F

from genstrat.training.autoencoding import fit_autoencoder, load_autoencoder
from genstrat.cli import main
from genstrat.errors import GenstratError
from genstrat.training.model_io import build_model, load_model, saved_options
from genstrat.modalities.image import autoencoder_config
from genstrat.nn.codec import CodecConfig
from genstrat.nn.multiscale import MultiScale, MultiScaleConfig, default_scales, multiscale_over
from genstrat.nn.stage_ones import build_stage_one
from genstrat.strategies import check_strategy, get_strategy, stage_one_kind
from genstrat.training.loop import Budget


@pytest.fixture(scope="module")
def stage_ones(tmp_path_factory, digits):
    """An fsq auto-encoder trained briefly on digits (8x8 -> 4x4 codes) and a multi-scale quantizer over it."""
    root = tmp_path_factory.mktemp("ms")
    base, _ = fit_autoencoder(digits, autoencoder_config(digits, "fsq"), Budget(steps=120), root / "fsq",
                              batch_size=64, progress=False)
    quantizer, summary = fit_autoencoder(digits, multiscale_over(base.cfg), Budget(steps=60), root / "ms",
                                         batch_size=64, progress=False, base=base)
    return base, quantizer, root


def assert_cached_passes_equal_one_pass(prior, model, codes, cond):
    """Map-by-map passes over a KV cache give the logits of one teacher-forced block-causal pass."""
    with torch.no_grad():
        full = model(torch.full_like(codes, model.mask_id), cond, attn_mask=prior.block_mask,
                     slot_inputs=prior.slot_inputs(model, codes))[:, model.cond_slots:]
        cache, parts = model.new_cache(len(cond)), []
        for k, n in enumerate(prior.lengths):
            blank = torch.full((len(cond), n), model.mask_id, dtype=torch.long)
            out = model(blank, cond, cache, slot_inputs=prior.slot_inputs(model, codes[:, :prior.offsets[k]], k))
            parts.append(out[:, model.cond_slots:] if k == 0 else out)
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-4)


def test_scale_schedules_and_config_errors():
    assert default_scales((7, 7)) == [2, 4, 7]  # sides double from 2 x 2, then the grid's own
    assert default_scales((4, 4)) == [2, 4] and default_scales((1, 1)) == [1]
    assert default_scales((126,)) == [1, 4, 16, 64, 126]  # frames in time grow fourfold
    mnist = multiscale_over(autoencoder_config(type("D", (), {"units": type("U", (), {"shape": (1, 28, 28)})})(),
                                               "fsq"))
    assert mnist.lengths == [4, 8, 8, 25, 24] and mnist.grid == (1, 69) and mnist.data_shape == (1, 28, 28)
    assert mnist.split_from == 4 and multiscale_over(mnist.base_config, split_from=0).lengths == [4, 16, 25, 24]
    assert multiscale_over(mnist.base_config, finest="codes").lengths == [4, 16, 49]
    assert multiscale_over(mnist.base_config, scales=[1, 2, 4, 7]).lengths == [1, 4, 8, 8, 25, 24]  # from 1 x 1
    codec = multiscale_over(CodecConfig(samples=8000, sample_rate=8000))
    assert codec.shapes[-1] == (codec.frames,) and codec.sample_rate == 8000  # the codec's own fields read through
    assert codec.split_from == 0  # over frames only the finest map comes in halves
    base = multiscale_over(CodecConfig(samples=8000, sample_rate=8000)).base
    for bad, message in [({"scales": [1, 3, 2, 126]}, "grow strictly"), ({"scales": [1, 2, 64]}, "up to"),
                         ({"codebook_size": 64}, "one vocabulary"), ({"finest": "pixels"}, "unknown finest"),
                         ({"finest": "residual", "codebook_size": 1}, "2 to 65,536")]:
        with pytest.raises(GenstratError, match=message):
            MultiScaleConfig(base=base, **bad)
    with pytest.raises(GenstratError, match="fsq codes"):
        MultiScaleConfig(base={**base, "quantizer": "continuous"})
    with pytest.raises(GenstratError, match="--codebooks 1"):
        MultiScaleConfig(base={**base, "codebooks": 2})
    saved = json.loads(json.dumps(codec.to_dict()))
    assert MultiScaleConfig.from_dict(saved).to_dict() == codec.to_dict()  # a JSON round trip


def test_residual_pyramid_codes_decode_to_the_quantized_latent_and_partial_pyramids_to_coarser_versions(stage_ones,
                                                                                                        digits):
    """VAR Algorithm 1: the codes of the residual scales rebuild exactly the f_hat the quantizer made; the finest map
    holds the base's own codes, so the whole pyramid decodes as the single-scale stage one does; MASK at the finer
    scales leaves f_hat of the coarser ones (the versions a strip shows); and the next-scale inputs at scale k are
    f_hat of the scales before it, area-averaged to scale k's shape. With ``finest="residual"`` (VAR's own form) the
    last map is one more residual and the codes rebuild f_hat."""
    base, checkerboard, _ = stage_ones
    quantizer = MultiScale(multiscale_over(base.cfg, finest="codes")).eval()  # the finest grid in one map
    quantizer.load_state_dict(checkerboard.state_dict())
    images = digits.units.decode(digits.test_units[:6].long())
    f, base_codes = quantizer.target(images)
    f_hat, codes, _ = quantizer.quantize(f, base_codes)
    scales = len(quantizer.cfg.scales)
    assert codes.shape == (6, quantizer.cfg.tokens) and torch.equal(quantizer.to_codes(images), codes)
    assert torch.equal(codes[:, -base_codes.shape[1]:], base.to_codes(images))
    assert torch.allclose(quantizer.accumulated(codes, upto=scales - 1), f_hat, atol=1e-5)
    assert torch.allclose(quantizer.accumulated(codes), f, atol=1e-6)
    assert torch.allclose(quantizer.from_codes(codes), base.from_codes(base.to_codes(images)), atol=1e-5)
    assert F.mse_loss(f_hat, f) < F.mse_loss(torch.zeros_like(f), f)  # the coarse pyramid explains the latent
    lengths, mask = quantizer.cfg.lengths, quantizer.cfg.codebook_size
    inputs = quantizer.next_scale_inputs(codes)
    assert inputs.shape == (6, quantizer.cfg.tokens, quantizer.cfg.code_channels) and not inputs[:, :1].any()
    for k in range(1, len(lengths)):
        partial = codes.clone()
        partial[:, sum(lengths[:k]):] = mask
        coarse = quantizer.accumulated(partial)
        assert torch.allclose(coarse, quantizer.accumulated(codes, upto=k), atol=1e-5)
        assert torch.allclose(quantizer.from_codes(partial), base.decode(coarse).clamp(-1, 1), atol=1e-5)
        expected = F.interpolate(coarse, size=quantizer.cfg.shapes[k], mode="area").flatten(2).transpose(1, 2)
        assert torch.allclose(inputs[:, sum(lengths[:k]):sum(lengths[:k + 1])], expected, atol=1e-5)
    residual = MultiScale(multiscale_over(base.cfg, finest="residual", codebook_size=64)).eval()
    residual.base.load_state_dict(base.state_dict())
    f_hat, codes, _ = residual.quantize(f, base_codes)
    assert codes.shape == (6, residual.cfg.tokens) and codes.max() < 64
    assert torch.allclose(residual.accumulated(codes), f_hat, atol=1e-5)


def test_a_checkerboard_finest_map_draws_the_grid_in_two_interleaved_halves(stage_ones, digits):
    """With ``finest="checkerboard"`` the base's codes come as two maps: the positions whose coordinates sum to an even
    number (no two of them neighbours), then the rest. The pyramid still decodes as the single-scale codes; the first
    half's codes are placed in f_hat before the second half reads it; and each position reads its 3 x 3 neighbourhood,
    so a position of the second half sees the codes drawn beside it."""
    base, checker, _ = stage_ones
    assert checker.cfg.finest == "checkerboard"  # the default
    first, rest = checker.cfg.checkerboard()
    assert first == [0, 2, 5, 7, 8, 10, 13, 15] and sorted(first + rest) == list(range(16))  # the 4 x 4 grid
    assert checker.cfg.lengths == [4, 8, 8] and checker.cfg.tokens == 20
    images = digits.units.decode(digits.test_units[:5].long())
    codes, base_codes = checker.to_codes(images), base.to_codes(images)
    assert torch.equal(codes[:, -16:-8], base_codes[:, first]) and torch.equal(codes[:, -8:], base_codes[:, rest])
    assert torch.allclose(checker.from_codes(codes), base.from_codes(base_codes), atol=1e-5)
    f, _ = checker.target(images)
    half = codes.clone()
    half[:, -8:] = checker.cfg.codebook_size  # the second half still MASK
    placed = checker.accumulated(half).flatten(2)
    assert torch.allclose(placed[..., first], f.flatten(2)[..., first], atol=1e-6)
    inputs = checker.next_scale_inputs(codes)
    d = checker.cfg.code_channels
    assert inputs.shape == (5, checker.cfg.tokens, 9 * d) and checker.cfg.input_channels == 9 * d
    left = inputs[:, -8].reshape(5, d, 3, 3)[:, :, 1, 0]  # the second half's first position, (0, 1): its left (0, 0)
    assert rest[0] == 1 and torch.allclose(left, f.flatten(2)[..., 0], atol=1e-6)


def test_coarser_maps_split_in_halves_read_the_first_half_and_sample_as_trained(stage_ones, digits):
    """``split_from``: a residual map of at least that side comes in two checkerboard halves too (one pass more). The
    codes are the same pyramid laid out map by map; the second half of a residual map reads f_hat with the first
    half's codes added (so it sees the codes drawn beside it); the cached map-by-map passes still equal one
    block-causal pass; and a config saved before the option (no ``split_from``) reads as before."""
    base, whole, _ = stage_ones
    split = MultiScale(multiscale_over(base.cfg, split_from=2)).eval()  # the 2 x 2 and 4 x 4 maps, both in halves
    split.load_state_dict(whole.state_dict())
    assert split.cfg.lengths == [2, 2, 8, 8] and split.map_scale == [0, 0, 1, 1]
    assert multiscale_over(base.cfg, split_from=4).lengths == [4, 8, 8]  # only sides of at least 4
    saved = {k: v for k, v in whole.cfg.to_dict().items() if k != "split_from"}
    assert MultiScaleConfig.from_dict(saved).lengths == [4, 8, 8]
    with pytest.raises(GenstratError, match="checkerboard finest"):
        multiscale_over(base.cfg, finest="codes", split_from=2)
    images = digits.units.decode(digits.test_units[:5].long())
    codes, before = split.to_codes(images), whole.to_codes(images)
    first, rest = split.cfg.checkerboard((2, 2))
    assert first == [0, 3] and torch.equal(codes[:, :2], before[:, first])
    assert torch.equal(codes[:, 2:4], before[:, rest]) and torch.equal(codes[:, 4:], before[:, 4:])
    assert torch.allclose(split.accumulated(codes), whole.accumulated(before))
    inputs, d = split.next_scale_inputs(codes), split.cfg.code_channels
    assert torch.allclose(inputs[:, :2], torch.zeros_like(inputs[:, :2]))  # the first half reads the condition alone
    partial = codes.clone()
    partial[:, 2:] = split.cfg.codebook_size  # the 2 x 2 map's first half drawn, nothing else
    read = F.interpolate(split.accumulated(partial), size=(2, 2), mode="area")
    second = inputs[:, 2].reshape(5, d, 3, 3)[:, :, 1, 1]  # position 1 = (0, 1) of the 2 x 2 map: its own place
    assert read.abs().sum() > 0 and torch.allclose(second, read.flatten(2)[..., 1], atol=1e-5)
    strategy = get_strategy("two-stage:next-scale", digits.units, split)
    prior = strategy.prior
    torch.manual_seed(0)
    model = build_model(strategy, digits.num_classes, size="tiny").eval()
    cond = torch.tensor([1, 4, 7, 2, 0])
    assert_cached_passes_equal_one_pass(prior, model, codes, cond)
    drawn = strategy.prior.generate(model, cond, None, torch.Generator().manual_seed(1))
    assert drawn.nfe == 4 and drawn.units.shape == codes.shape


def test_quantizer_training_leaves_the_base_frozen(stage_ones, digits):
    base, quantizer, root = stage_ones
    for name, tensor in base.state_dict().items():  # weights and BatchNorm statistics: untouched by the quantizer
        assert torch.equal(tensor, quantizer.base.state_dict()[name]), name
    reloaded = load_autoencoder(root / "ms")
    assert isinstance(reloaded, MultiScale) and reloaded.cfg.to_dict() == quantizer.cfg.to_dict()
    images = digits.units.decode(digits.test_units[:4].long())
    assert torch.equal(reloaded.to_codes(images), quantizer.to_codes(images))


def test_cached_scale_by_scale_passes_equal_one_block_causal_pass(stage_ones, digits):
    """The KV cache across scales gives the logits of one teacher-forced pass with the block-causal mask, so sampling
    scale by scale is the model training saw; a scale's slots see their own and coarser scales only."""
    _, quantizer, _ = stage_ones
    strategy = get_strategy("two-stage:next-scale", digits.units, quantizer)
    prior = strategy.prior
    torch.manual_seed(0)
    model = build_model(strategy, digits.num_classes, size="tiny").eval()
    codes = strategy.training_data(digits).train_units[:3].long()
    cond = torch.tensor([1, 4, 7])
    assert_cached_passes_equal_one_pass(prior, model, codes, cond)
    mask = prior.block_mask
    first, last = 1, 1 + prior.offsets[-2]  # a slot of scale 1, and the first slot of the finest scale
    assert mask[first, :1 + prior.lengths[0]].all() and not mask[first, 1 + prior.lengths[0]:].any()
    assert mask[last].all()


def test_next_scale_trains_samples_versions_and_reloads(tmp_path, stage_ones, digits):
    _, _, root = stage_ones
    ckpt = tmp_path / "prior"
    assert main(["train", "--data", "digits", "--strategy", "two-stage:next-scale", "--autoencoder", str(root / "ms"),
                 "--steps", "200", "--size", "tiny", "--batch-size", "32", "--out", str(ckpt), "--no-progress"]) == 0
    model, strategy, _ = load_model(ckpt)
    assert stage_one_kind("two-stage:next-scale") == "multiscale"
    codes = strategy.training_data(digits).train_units[:64].long()
    cond = digits.train_labels[:64].long()
    untrained = build_model(strategy, digits.num_classes, size="tiny")
    assert strategy.loss(model, codes, cond) < strategy.loss(untrained, codes, cond) - 0.5
    versions = []
    first = strategy.generate(model, torch.tensor([2, 5]), None, torch.Generator().manual_seed(3),
                              on_version=lambda i, u: versions.append((i, u)))
    again = strategy.generate(model, torch.tensor([2, 5]), None, torch.Generator().manual_seed(3))
    scales = len(strategy.prior.lengths)
    assert first.nfe == scales == 3 and torch.equal(first.units, again.units)
    assert first.units.shape == (2, 64) and first.units.max() < digits.units.levels  # pixels come out
    assert [i for i, _ in versions] == [1, 2, 3] and all(u.shape == (2, 64) for _, u in versions)
    assert torch.equal(versions[-1][1], first.units)
    # finest_temperature reaches the finest maps alone: the coarser maps draw the same codes from the same seed
    defaults = strategy.sampling_defaults()
    assert defaults.finest_temperature == 0.3 and defaults.guidance == 1.5 and defaults.guidance_ramp == "every"
    assert saved_options(strategy, json.loads((ckpt / "config.json").read_text())).guidance_ramp == "every"
    before = json.loads((ckpt / "config.json").read_text())
    del before["sampling"]["guidance_ramp"]  # a checkpoint saved before the option samples as VAR ramped then
    assert saved_options(strategy, before).guidance_ramp == "var"
    draws = [strategy.prior.generate(model, torch.tensor([2, 5, 7, 1]), None, torch.Generator().manual_seed(3),
                                     options=defaults.merged(finest_temperature=t)).units for t in (0.0, 5.0)]
    coarse = sum(strategy.prior.lengths[:strategy.autoencoder.residual_scales])
    assert torch.equal(draws[0][:, :coarse], draws[1][:, :coarse])
    assert not torch.equal(draws[0][:, coarse:], draws[1][:, coarse:])


def test_bench_over_a_given_multiscale_stage_one_trains_no_fsq_one(tmp_path, stage_ones):
    """``bench --autoencoder MS``: the given multi-scale folder holds its fsq base, so the bench trains no fsq stage
    one beside it (it once did, for minutes, for a row no strategy read); the multiscale row is the given one."""
    _, _, root = stage_ones
    out = tmp_path / "bench"
    assert main(["bench", "--data", "digits", "--strategies", "two-stage:next-scale", "--autoencoder", str(root / "ms"),
                 "--train-steps", "3", "--n", "8", "--size", "tiny", "--judge-steps", "20", "--out", str(out),
                 "--no-progress"]) == 0
    rows = json.loads((out / "results.json").read_text())
    kinds = [r["strategy"] for r in rows if r["strategy"].startswith("reconstruction:")]
    assert kinds == ["reconstruction:multiscale"] and not (out / "autoencoders" / "fsq").exists()


def test_guidance_ramps_reach_w_at_the_finest_map():
    """VAR's ramp leaves the first map unguided; ``every`` guides every map; ``flat`` is w throughout."""
    from genstrat.strategies.next_scale import ramped_guidance

    assert [ramped_guidance(2.0, k, 4, "var") for k in range(4)] == pytest.approx([1.0, 4 / 3, 5 / 3, 2.0])
    assert [ramped_guidance(2.0, k, 4, "every") for k in range(4)] == pytest.approx([1.25, 1.5, 1.75, 2.0])
    assert {ramped_guidance(2.0, k, 4, "flat") for k in range(4)} == {2.0}
    assert ramped_guidance(2.0, 0, 1, "var") == 1.0 and ramped_guidance(2.0, 0, 1, "every") == 2.0


def test_next_scale_errors_in_one_line(tmp_path, stage_ones, digits, capsys):
    base, quantizer, root = stage_ones
    with pytest.raises(GenstratError, match="two-stage:next-scale"):
        check_strategy("next-scale", digits.units)
    with pytest.raises(GenstratError, match="--quantizer multiscale --base"):
        get_strategy("two-stage:next-scale", digits.units, base)
    with pytest.raises(GenstratError, match="got a 'multiscale' one"):
        get_strategy("two-stage:ar", digits.units, quantizer)
    cases = [
        (["--quantizer", "multiscale"], "--base DIR"),
        (["--base", str(root / "fsq")], "--base DIR"),
        (["--quantizer", "multiscale", "--base", str(root / "ms")], "fsq codes"),
        (["--quantizer", "multiscale", "--base", str(tmp_path / "none")], "does not exist"),
        (["--quantizer", "multiscale", "--base", str(root / "fsq"), "--scales", "1,3"], "up to"),
        (["--split-from", "2"], "--split-from"),  # an fsq stage one has no maps to split
    ]
    for extra, message in cases:
        assert main(["train-autoencoder", "--data", "digits", "--steps", "2", "--out", str(tmp_path / "x"),
                     "--no-progress", *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (extra, err)
    with pytest.raises(SystemExit):  # argparse's own one-line usage error
        main(["train-autoencoder", "--data", "digits", "--steps", "2", "--out", str(tmp_path / "x"), "--quantizer",
              "multiscale", "--base", str(root / "fsq"), "--split-from", "-1"])
    assert "--split-from: must be at least 1" in capsys.readouterr().err
    assert main(["train", "--data", "digits", "--strategy", "next-scale", "--steps", "2", "--out",
                 str(tmp_path / "y"), "--no-progress"]) == 2
    assert "two-stage:next-scale" in capsys.readouterr().err


def test_bench_trains_the_quantizer_over_its_fsq_stage_one_and_keeps_both_rows(tmp_path):
    out = tmp_path / "bench"
    assert main(["bench", "--data", "digits", "--strategies", "two-stage:ar,two-stage:next-scale", "--steps", "1",
                 "--train-steps", "5", "--ae-steps", "12", "--n", "20", "--size", "tiny", "--judge-steps", "20",
                 "--out", str(out), "--no-progress"]) == 0
    rows = json.loads((out / "results.json").read_text())
    fsq = next(r for r in rows if r["strategy"] == "reconstruction:fsq")
    multiscale = next(r for r in rows if r["strategy"] == "reconstruction:multiscale")
    assert fsq["ae_train_steps"] == 12 and multiscale["quantizer_steps"] == 3  # a quarter of the stage-one budget
    assert multiscale["ae_seconds"] > fsq["ae_seconds"]  # the quantizer's seconds come on top of its base's
    prior = next(r for r in rows if r["strategy"] == "two-stage:next-scale")
    assert prior["nfe"] == 3 and prior["ae_seconds"] == multiscale["ae_seconds"]
    reloaded = load_autoencoder(out / "checkpoints" / "two-stage-next-scale" / "autoencoder")
    trained_base = load_autoencoder(out / "autoencoders" / "fsq")
    for name, tensor in trained_base.state_dict().items():  # one decoder under both two-stage rows
        assert torch.equal(tensor, reloaded.base.state_dict()[name]), name


def test_an_untrained_multiscale_stage_one_builds_for_every_modality(digits):
    from genstrat.data import load_dataset
    from genstrat.modalities import modality_of

    for data in (digits, load_dataset("spoken", sample_rate=4000, seconds=0.25)):
        cfg = modality_of(data.units).stage_one(data, "multiscale")
        model = build_stage_one(cfg).eval()
        objects = data.units.decode(data.train_units[:2].long())
        codes = model.to_codes(objects)
        assert codes.shape == (2, cfg.tokens) and model.from_codes(codes).shape == objects.shape
