import json
import math

import pytest
import torch
from PIL import Image

from genstrat.cli import main
from genstrat.errors import GenstratError
from genstrat.training.model_io import load_model
from genstrat.strategies import STRATEGIES


def test_training_lowers_the_loss(tmp_path, digits):
    from genstrat.training.model_io import build_model
    from genstrat.strategies import get_strategy
    from genstrat.training.loop import Budget, train

    strategy = get_strategy("ar", digits.units)
    model = build_model(strategy, digits.num_classes, size="tiny")
    g = torch.Generator().manual_seed(0)
    units, cond = digits.train_batch(256, g)
    before = strategy.loss(model, units, cond).item()
    train(strategy, model, digits, Budget(steps=150), batch_size=64, lr=3e-3, progress=False)
    after = strategy.loss(model, units, cond).item()
    assert after < before - 0.5, (before, after)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_registered_strategy_trains_samples_and_reloads_to_the_same_samples(tmp_path, name):
    """Each strategy of the registry, on the data of a modality it generates: trained a few updates through its own
    step (finite loss), saved, and loaded back, the checkpoint draws exactly the samples the model in memory drew
    (same seed), in the options it was saved with. A strategy that only generates a stage one's codes (next-scale)
    runs as the prior of ``two-stage:<name>`` over a stage one of its kind, saved in the checkpoint."""
    from genstrat import api
    from genstrat.training.autoencoding import fit_autoencoder
    from genstrat.data import load_dataset
    from genstrat.modalities import modality_of
    from genstrat.training.model_io import build_model, checkpoint_config, saved_options
    from genstrat.strategies import get_strategy
    from genstrat.training.loop import Budget, train

    cls = STRATEGIES[name]
    data = load_dataset("digits" if "image" in cls.modalities else "probe")
    stage_one = None
    if not cls.standalone:
        cfg = modality_of(data.units).stage_one(data, cls.stage_one)
        stage_one, _ = fit_autoencoder(data, cfg, Budget(steps=2), tmp_path / "autoencoder", batch_size=16,
                                       progress=False)
        name = f"two-stage:{name}"
    strategy = get_strategy(name, data.units, stage_one)
    torch.manual_seed(0)
    model = build_model(strategy, data.num_classes, size="tiny")
    options = strategy.sampling_defaults()
    config = checkpoint_config(strategy, model, data, options, training={})
    summary = train(strategy, model, data, Budget(steps=6), batch_size=16, out=tmp_path, config=config,
                    progress=False, precision="fp32")
    assert summary["steps"] == 6 and math.isfinite(summary["loss"])
    cond = torch.arange(4) % data.num_classes
    drawn = strategy.generate(model.eval(), cond, 2, torch.Generator().manual_seed(5), options=options)
    loaded = api.load(tmp_path)
    assert loaded.strategy.name == name and not loaded.model.training
    assert loaded.options == saved_options(loaded.strategy, loaded.config) == options
    again = loaded.strategy.generate(loaded.model, cond, 2, torch.Generator().manual_seed(5), options=loaded.options)
    assert drawn.nfe == again.nfe >= 1
    assert torch.equal(drawn.units, again.units)
    assert drawn.units.shape == (4, data.units.seq_len)


def test_train_then_sample_from_the_command_line(tmp_path, capsys):
    for name in ("ar", "nar", "mask-predict"):
        ckpt = tmp_path / name
        assert main(["train", "--data", "digits", "--strategy", name, "--steps", "5", "--size", "tiny",
                     "--batch-size", "16", "--out", str(ckpt), "--no-progress"]) == 0
        config = json.loads((ckpt / "config.json").read_text())
        assert config["strategy"] == name and config["training"]["steps"] == 5
        assert (ckpt / "model.safetensors").is_file()
        out = tmp_path / f"{name}.png"
        assert main(["sample", str(ckpt), "--label", "3", "--steps", "4", "--n", "6", "--out", str(out)]) == 0
        with Image.open(out) as im:
            assert im.size[0] > 0
        model, strategy, _ = load_model(ckpt)
        assert strategy.name == name and not model.training
    assert "sequential network evaluations" in capsys.readouterr().out


def test_sample_versions_strip_and_gif(tmp_path):
    ckpt = tmp_path / "mp"
    main(["train", "--data", "digits", "--strategy", "mask-predict", "--steps", "3", "--size", "tiny",
          "--out", str(ckpt), "--no-progress"])
    out = tmp_path / "grid.png"
    assert main(["sample", str(ckpt), "--label", "1", "--steps", "5", "--n", "2", "--out", str(out), "--versions"]) == 0
    assert (tmp_path / "grid-versions.png").is_file()
    with Image.open(tmp_path / "grid-versions.gif") as gif:
        assert gif.n_frames >= 5


def test_resume_continues_from_saved_state(tmp_path):
    ckpt = tmp_path / "ar"
    common = ["train", "--data", "digits", "--strategy", "ar", "--size", "tiny", "--batch-size", "8",
              "--out", str(ckpt), "--no-progress"]
    main(common + ["--steps", "4"])
    assert main(common + ["--steps", "7", "--resume"]) == 0
    assert json.loads((ckpt / "config.json").read_text())["training"]["steps"] == 7


@pytest.mark.parametrize("name", ["ar", "diffusion"])
def test_bf16_training_runs_under_autocast_and_keeps_fp32_weights(tmp_path, digits, name):
    from genstrat.training.model_io import build_model
    from genstrat.strategies import get_strategy
    from genstrat.training.loop import Budget, train

    def run(precision):
        torch.manual_seed(0)
        strategy = get_strategy(name, digits.units)
        model = build_model(strategy, digits.num_classes, size="tiny")
        summary = train(strategy, model, digits, Budget(steps=30), batch_size=16, out=tmp_path / precision,
                        progress=False, precision=precision)
        return model, summary

    full, full_summary = run("fp32")
    half, half_summary = run("bf16")
    assert all(p.dtype == torch.float32 for p in half.parameters())
    # bfloat16 rounding changes the trajectory (so autocast really ran) but not what is learned
    assert any(not torch.equal(a, b) for a, b in zip(full.parameters(), half.parameters()))
    assert math.isfinite(half_summary["loss"]) and half_summary["loss"] < 1.25 * full_summary["loss"]
    assert json.loads((tmp_path / "bf16" / "config.json").read_text())["training"]["precision"] == "bf16"


def test_unknown_precision_is_a_clear_error(digits):
    from genstrat.training.model_io import build_model
    from genstrat.strategies import get_strategy
    from genstrat.training.loop import Budget, train

    strategy = get_strategy("ar", digits.units)
    model = build_model(strategy, digits.num_classes, size="tiny")
    with pytest.raises(GenstratError, match="unknown precision 'fp16'"):
        train(strategy, model, digits, Budget(steps=1), batch_size=4, progress=False, precision="fp16")
