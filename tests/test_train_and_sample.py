import json
import math

import pytest
import torch
from PIL import Image

from genstrat.cli import main
from genstrat.errors import GenstratError
from genstrat.model_io import load_model


def test_training_lowers_the_loss(tmp_path, digits):
    from genstrat.model_io import build_model
    from genstrat.strategies import get_strategy
    from genstrat.training import Budget, train

    strategy = get_strategy("ar", digits.units)
    model = build_model(strategy, digits.num_classes, size="tiny")
    g = torch.Generator().manual_seed(0)
    units, cond = digits.train_batch(256, g)
    before = strategy.loss(model, units, cond).item()
    train(strategy, model, digits, Budget(steps=150), batch_size=64, lr=3e-3, progress=False)
    after = strategy.loss(model, units, cond).item()
    assert after < before - 0.5, (before, after)


def test_train_then_sample_every_strategy(tmp_path, capsys):
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
    from genstrat.model_io import build_model
    from genstrat.strategies import get_strategy
    from genstrat.training import Budget, train

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
    from genstrat.model_io import build_model
    from genstrat.strategies import get_strategy
    from genstrat.training import Budget, train

    strategy = get_strategy("ar", digits.units)
    model = build_model(strategy, digits.num_classes, size="tiny")
    with pytest.raises(GenstratError, match="unknown precision 'fp16'"):
        train(strategy, model, digits, Budget(steps=1), batch_size=4, progress=False, precision="fp16")
