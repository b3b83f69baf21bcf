"""Two-stage generation: the auto-encoder, codes as a unit space, any strategy as the prior."""

import json

import pytest
import torch

from genstrat.training.autoencoding import fit_autoencoder, load_autoencoder
from genstrat.modalities.image import autoencoder_config
from genstrat.cli import main
from genstrat.errors import GenstratError
from genstrat.eval.reconstruction import reconstruction_metrics
from genstrat.training.model_io import build_model, load_model
from genstrat.nn.autoencoder import Autoencoder, AutoencoderConfig
from genstrat.strategies import TwoStage, get_strategy
from genstrat.training.loop import Budget, train
from genstrat.units.codes import CodeUnits


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digits):
    """An FSQ auto-encoder trained briefly on digits (8x8 -> 4x4 codes)."""
    folder = tmp_path_factory.mktemp("ae") / "fsq"
    model, summary = fit_autoencoder(digits, autoencoder_config(digits, "fsq"), Budget(steps=150), folder,
                                     batch_size=64, progress=False)
    return model, folder


@pytest.mark.parametrize("quantizer", ["fsq", "continuous"])
def test_codes_round_trip_shapes_and_ranges(quantizer):
    ae = Autoencoder(AutoencoderConfig(1, 28, 28, factor=4, quantizer=quantizer)).eval()
    units = CodeUnits.of(ae)
    images = torch.rand(3, 1, 28, 28)
    codes = units.encode(images)
    per_position = 1 if quantizer == "fsq" else ae.cfg.code_channels
    assert codes.shape == (3, 7 * 7 * per_position) == (3, units.seq_len)
    assert 0 <= codes.min() and codes.max() < units.vocab_size
    # decoding the codes equals decoding the latent the encoder made (up to the 256-level rounding of continuous
    # latents)
    assert torch.allclose(units.decode(codes), ae.decode(ae.latent(images)).detach(), atol=1e-3)
    masked = torch.full_like(codes, units.vocab_size)  # a MASK id in an intermediate version still decodes
    assert units.decode(masked).shape == (3, 1, 28, 28)


def test_autoencoder_config_errors():
    with pytest.raises(GenstratError, match="do not divide"):
        AutoencoderConfig(1, 28, 28, factor=8)
    with pytest.raises(GenstratError, match="power of 2"):
        AutoencoderConfig(1, 24, 24, factor=3)
    with pytest.raises(GenstratError, match="unknown quantizer"):
        AutoencoderConfig(1, 8, 8, quantizer="vq")
    with pytest.raises(GenstratError, match="1,024"):
        AutoencoderConfig(1, 8, 8, fsq_levels=[8, 8, 8, 8])


def test_training_improves_reconstructions_and_reloads(trained, digits):
    model, folder = trained
    from genstrat.eval.judging import fit_judge, real_images
    from genstrat.nn.judge import judge_outputs

    judge, _, _ = fit_judge(digits, steps=100, progress=False)
    reference, _ = judge_outputs(judge, real_images(digits, "test")[0])
    fresh = Autoencoder(model.cfg).eval()
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    before = reconstruction_metrics(fresh, digits, judge, reference, 200, g())
    after = reconstruction_metrics(model, digits, judge, reference, 200, g())
    assert after["psnr"] > before["psnr"] + 3, (before, after)
    assert after["code_perplexity"] > 10 and after["dead_codes"] < after["codebook_size"]
    again = load_autoencoder(folder)
    images = digits.units.decode(digits.test_units[:20].long())
    assert torch.equal(again.to_codes(images), model.to_codes(images))


def test_two_stage_names_and_errors(trained, digits):
    model, _ = trained
    assert get_strategy("two-stage:ar", digits.units, model).name == "two-stage:ar"
    with pytest.raises(GenstratError, match="cannot be a two-stage prior"):
        get_strategy("two-stage:coarse-to-fine", digits.units, model)
    with pytest.raises(GenstratError, match="cannot be a two-stage prior"):
        get_strategy("two-stage:two-stage:ar", digits.units, model)
    with pytest.raises(GenstratError, match="cannot be a two-stage prior"):
        get_strategy("two-stage:vqgan", digits.units, model)
    with pytest.raises(GenstratError, match="needs a 'continuous' auto-encoder"):
        get_strategy("two-stage:diffusion", digits.units, model)
    with pytest.raises(GenstratError, match="needs an auto-encoder"):
        get_strategy("two-stage:ar", digits.units)


@pytest.mark.parametrize("prior", ["ar", "mask-predict"])
def test_prior_trains_on_codes_and_generates_pixels(trained, digits, prior):
    model, _ = trained
    strategy = get_strategy(f"two-stage:{prior}", digits.units, model)
    net = build_model(strategy, digits.num_classes, size="tiny")
    assert net.cfg.seq_len == 16 and net.cfg.vocab_size == 1000  # 4x4 FSQ codes, not 64 pixels
    assert net.cfg.code_levels == (8, 5, 5, 5)  # codes embed their FSQ coordinates
    codes = strategy.training_data(digits)
    batch, cond = codes.train_batch(64, torch.Generator().manual_seed(0))
    before = strategy.loss(net, batch, cond).item()
    train(strategy, net, digits, Budget(steps=60), batch_size=64, lr=3e-3, progress=False)
    assert strategy.loss(net, batch, cond).item() < before - 0.5
    versions = []
    out = strategy.generate(net, torch.tensor([3, 7]), 4, torch.Generator().manual_seed(0),
                            on_version=lambda i, u: versions.append(u))
    assert out.units.shape == (2, 64) and out.units.max() < digits.units.levels  # pixels come out
    assert out.nfe == (16 if prior == "ar" else 4) and len(versions) == out.nfe
    assert all(v.shape == (2, 64) for v in versions)


def test_cli_train_autoencoder_train_prior_and_sample(tmp_path, capsys):
    ae = tmp_path / "ae"
    assert main(["train-autoencoder", "--data", "digits", "--latent-channels", "3", "--steps", "20",
                 "--out", str(ae)]) == 2
    assert "--quantizer continuous" in capsys.readouterr().err  # fsq codes have no latent channels to set
    assert main(["train-autoencoder", "--data", "digits", "--quantizer", "continuous", "--latent-channels", "3",
                 "--steps", "20", "--out", str(ae), "--judge-steps", "30", "--no-progress"]) == 0
    metrics = json.loads((ae / "metrics.json").read_text())
    assert {"psnr", "agree", "fd"} <= set(metrics)
    ckpt = tmp_path / "ldm"
    assert main(["train", "--data", "digits", "--strategy", "two-stage:diffusion", "--steps", "5", "--size", "tiny",
                 "--out", str(ckpt), "--no-progress"]) == 2
    assert "needs --autoencoder" in capsys.readouterr().err
    assert main(["train", "--data", "digits", "--strategy", "two-stage:diffusion", "--autoencoder", str(ae),
                 "--steps", "5", "--size", "tiny", "--out", str(ckpt), "--no-progress"]) == 0
    assert (ckpt / "autoencoder" / "model.safetensors").is_file()  # the checkpoint carries its decoder
    net, strategy, _ = load_model(ckpt)
    # a slot per position, every channel
    assert isinstance(strategy, TwoStage) and (net.cfg.seq_len, net.cfg.slot_values) == (4 * 4, 3)
    assert main(["sample", str(ckpt), "--label", "2", "--steps", "3", "--n", "4", "--out", str(tmp_path / "g.png"),
                 "--versions"]) == 0
    assert (tmp_path / "g-versions.gif").is_file()
    (ckpt / "autoencoder" / "config.json").write_text("{not json")
    assert main(["sample", str(ckpt), "--label", "2", "--out", str(tmp_path / "h.png")]) == 2
    assert "auto-encoder config" in capsys.readouterr().err


def test_bench_counts_the_autoencoder_against_two_stage_rows(tmp_path):
    out = tmp_path / "bench"
    assert main(["bench", "--data", "digits", "--strategies", "two-stage:ar,two-stage:nar", "--steps", "1",
                 "--train-steps", "5", "--ae-steps", "10", "--n", "20", "--size", "tiny", "--judge-steps", "20",
                 "--out", str(out), "--no-progress"]) == 0
    rows = json.loads((out / "results.json").read_text())
    recon = [r for r in rows if r["strategy"] == "reconstruction:fsq"]
    assert len(recon) == 1 and recon[0]["ae_train_steps"] == 10  # trained once, shared by both priors
    for name in ("two-stage:ar", "two-stage:nar"):
        row = next(r for r in rows if r["strategy"] == name)
        assert row["ae_seconds"] == recon[0]["ae_seconds"] > 0 and row["nfe"] == (16 if name == "two-stage:ar" else 1)
    assert (out / "checkpoints" / "two-stage-ar" / "autoencoder" / "config.json").is_file()
    assert "two-stage-ar" in (out / "report.md").read_text()
    with pytest.raises(GenstratError, match="left none"):
        from genstrat.benchmark.stage_one import remaining_budget
        remaining_budget(Budget(minutes=1), 61)


def test_bench_takes_a_trained_autoencoder_and_does_not_charge_its_training(tmp_path, trained, capsys):
    """``bench --autoencoder DIR``: the stage one is trained once on its own budget (longer, or elsewhere) and shared;
    its row records its own steps and the folder, the priors are charged only the encoding, and a folder that does
    not fit the bench fails in one line before any work. n = 8 is under the ten labels: the independent reference
    row draws no sample for the labels nobody asked for (it once asked multinomial for zero draws)."""
    _, folder = trained
    out = tmp_path / "bench"
    common = ["bench", "--data", "digits", "--steps", "1", "--train-steps", "5", "--n", "8", "--size", "tiny",
              "--judge-steps", "20", "--no-progress"]
    assert main([*common, "--strategies", "two-stage:nar", "--autoencoder", str(folder), "--out", str(out)]) == 0
    rows = json.loads((out / "results.json").read_text())
    recon = next(r for r in rows if r["strategy"] == "reconstruction:fsq")
    assert recon["ae_given"] == str(folder) and recon["ae_train_steps"] == recon["ae_given_train_steps"] == 150
    prior = next(r for r in rows if r["strategy"] == "two-stage:nar")
    assert prior["ae_train_steps"] == 150 and 0 <= prior["ae_seconds"] < 30  # encoding only, not the 150 steps
    assert not (out / "autoencoders" / "fsq" / "model.safetensors").exists()  # nothing trained here
    assert (out / "checkpoints" / "two-stage-nar" / "autoencoder" / "model.safetensors").is_file()
    bad = [
        (["--strategies", "ar", "--autoencoder", str(folder)], "has none"),
        (["--strategies", "two-stage:nar", "--autoencoder", str(folder), "--ae-steps", "3"], "drop --ae-minutes"),
        (["--strategies", "two-stage:diffusion", "--autoencoder", str(folder)], "need continuous"),
        (["--strategies", "two-stage:nar", "--autoencoder", str(tmp_path / "nowhere")], "does not exist"),
    ]
    for extra, message in bad:
        assert main([*common, *extra, "--out", str(tmp_path / "refused")]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert not (tmp_path / "refused" / "checkpoints").exists()


def test_code_priors_sample_at_their_own_guidance_while_discrete_pixels_keep_1_5():
    """Guidance 1.5 over-sharpens codes (docs/history.md, "guidance over codes"): the AR and mask-predict priors
    default to w = 1.2 (mask-predict with noise 8) and latent diffusion over 4-channel latents to w = 1 (no guidance);
    AR and mask-predict over pixels keep 1.5, diffusion (adaLN-Zero) samples pixels at 1.2."""
    from genstrat.units import PixelUnits

    fsq = Autoencoder(AutoencoderConfig(1, 8, 8, factor=2, quantizer="fsq"))
    continuous = Autoencoder(AutoencoderConfig(1, 8, 8, factor=2, quantizer="continuous"))
    pixels = PixelUnits(17, 1, 8, 8)
    for name in ("ar", "mask-predict", "diffusion"):
        stage_one = continuous if name == "diffusion" else fsq
        assert get_strategy(name, pixels).sampling_defaults().guidance == (1.2 if name == "diffusion" else 1.5)
        two_stage = get_strategy(f"two-stage:{name}", pixels, stage_one).sampling_defaults()
        assert two_stage.guidance == (1.0 if name == "diffusion" else 1.2)
    assert get_strategy("two-stage:mask-predict", pixels, fsq).sampling_defaults().noise == 8.0
    assert get_strategy("two-stage:mask-predict", pixels, fsq).sampling_defaults().temperature == 1.0  # audio: 0.9
    assert get_strategy("two-stage:diffusion", pixels, continuous).sampling_defaults().sampler == "dpm-solver"


def test_fsq_coordinates_are_the_quantiser_s_own_codes(trained):
    """The backbone's code coordinates (mixed radix, first channel least significant) are, channel by channel, an
    affine map of the codes the FSQ library decodes each index to, so a code's embedding sees what the decoder sees."""
    from genstrat.nn.backbone import fsq_coordinates

    model, _ = trained
    levels = model.cfg.fsq_levels
    library = model.fsq.indices_to_codes(torch.arange(model.cfg.codebook_size)).float()  # (1000, 4)
    ours = fsq_coordinates(levels)
    assert ours.shape == library.shape and ours.min() == -1 and ours.max() == 1
    for j in range(len(levels)):
        design = torch.stack([library[:, j], torch.ones(len(library))], dim=1)
        fit = torch.linalg.lstsq(design, ours[:, j:j + 1]).solution
        assert torch.allclose(design @ fit, ours[:, j:j + 1], atol=1e-5)
    from genstrat.units import PixelUnits

    cont = get_strategy("two-stage:diffusion", PixelUnits(17, 1, 8, 8),
                        Autoencoder(AutoencoderConfig(1, 8, 8, factor=2, quantizer="continuous")))
    assert "code_levels" not in cont.backbone_options()  # continuous latents have no code coordinates


def test_place_moves_a_module_only_when_it_is_elsewhere(monkeypatch):
    """``nn/placement.place``: samplers call it every generation; a module already on the device is not walked."""
    import torch.nn as nn

    from genstrat.nn.placement import place

    module, moved = nn.Linear(2, 2), []
    monkeypatch.setattr(module, "to", lambda device: moved.append(device) or module)
    assert place(module, "cpu") is module and place(module, torch.device("cpu")) is module and moved == []
    assert place(module, "meta") is module and moved == ["meta"]
