"""The random-vector family's GAN and flow: training owned by the strategy (two optimizers, checkpointed and resumed
bit for bit after a kill), the flow's exact likelihood, one-pass sampling, bench and report."""

import json
import subprocess
import sys

import pytest
import torch

from genstrat.training.checkpoint import read_tensors
from genstrat.cli import main
from genstrat.training.model_io import build_model
from genstrat.strategies import get_strategy
from genstrat.training.loop import STATE_FILE, Budget, train
from conftest import kill_mid_training

TRAIN = ["train", "--data", "digits", "--size", "tiny", "--no-progress"]


def weights(folder):
    return read_tensors(folder / "model.safetensors", "weights")


@pytest.mark.parametrize("name", ["gan", "flow"])
def test_sigkill_then_resume_is_bit_for_bit(tmp_path, name):
    """Killed at a random moment and resumed, the run ends with the weights of an uninterrupted one: every optimizer's
    state, the weight average and every random generator travel in the training state."""
    steps = 160
    argv = [sys.executable, "-m", "genstrat", *TRAIN, "--strategy", name, "--batch-size", "8", "--steps", str(steps),
            "--save-every-steps", "10", "--deterministic", "--ema", "0.99"]
    subprocess.run(argv + ["--out", str(tmp_path / "whole")], check=True, capture_output=True)
    interrupted = tmp_path / "killed"
    kill_mid_training(argv, interrupted, steps, first_wait=0.3)
    subprocess.run(argv + ["--out", str(interrupted), "--resume"], check=True, capture_output=True)
    a, b = weights(tmp_path / "whole"), weights(interrupted)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_gan_checkpoints_both_optimizers_and_updates_both_networks(tmp_path, digits):
    strategy = get_strategy("gan", digits.units)
    model = build_model(strategy, digits.num_classes, size="tiny")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train(strategy, model, digits, Budget(steps=3), batch_size=8, out=tmp_path, progress=False, precision="fp32")
    tensors = read_tensors(tmp_path / STATE_FILE, "state")
    assert any(k.startswith("optim.generator.") for k in tensors)
    assert any(k.startswith("optim.discriminator.") for k in tensors)
    changed = {k.split(".")[0] for k, v in model.state_dict().items() if v.is_floating_point()
               and not torch.equal(v, before[k])}
    assert "discriminator" in changed and "blocks" in changed
    # one pass, a random vector in: different vectors, different images
    out = strategy.generate(model, torch.arange(10), None, torch.Generator().manual_seed(0))
    assert out.nfe == 1 and out.units.shape == (10, digits.units.seq_len)
    assert 0 <= int(out.units.min()) and int(out.units.max()) < digits.units.vocab_size


def test_flow_is_invertible_and_its_log_determinant_is_exact(digits):
    """f^-1(f(x)) = x, and log|det df/dx| from the affine terms equals the log-determinant of the Jacobian computed
    by autograd (so the likelihood is a true density)."""
    strategy = get_strategy("flow", digits.units)
    model = build_model(strategy, digits.num_classes, size="tiny")
    for layer in model.flow.affine:  # away from the identity the flow starts as
        torch.nn.init.normal_(layer.weight, std=0.1)
    cond = torch.tensor([3])
    x = torch.rand(1, model.cfg.seq_len, model.cfg.slot_values, ) * 2 - 1
    z, logdet = strategy.forward_flow(model, x, cond)
    jacobian = torch.autograd.functional.jacobian(lambda v: strategy.forward_flow(model, v, cond)[0], x)
    size = x.numel()
    exact = torch.linalg.slogdet(jacobian.reshape(size, size).double())[1]
    flow_logdet = float(logdet[0].detach())
    assert abs(float(exact) - flow_logdet) < 1e-3 and abs(flow_logdet) > 1  # and the flow is not the identity
    y = z
    for t in reversed(range(len(strategy.blocks(model)))):
        inverse = strategy.invert_block(model, t, y.flip(1) if t % 2 else y, cond, 1.0)
        y = inverse.flip(1) if t % 2 else inverse
    assert torch.allclose(y, x, atol=1e-4)


def test_flow_bits_per_unit_bound_the_discrete_likelihood(digits):
    """An untrained flow is the identity on [-1, 1] slots read as a standard normal density: its bits per unit are
    the closed form E[-log2 N(x; 0, 1)] + log2(V / 2), which training then lowers."""
    strategy = get_strategy("flow", digits.units)
    model = build_model(strategy, digits.num_classes, size="tiny")
    units, labels = digits.test_units[:200], digits.test_labels[:200]
    before = strategy.bits_per_unit(model, units, labels)
    assert before > 0
    train(strategy, model, digits, Budget(steps=40), batch_size=32, progress=False, precision="fp32")
    assert strategy.bits_per_unit(model, units, labels) < before


def test_gan_and_flow_refuse_text_in_one_line(capsys):
    for name in ("gan", "flow"):
        assert main([*TRAIN[:2], "probe", "--strategy", name, "--steps", "1", "--out", "/tmp/none"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "generates image" in err[0] and "text" in err[0]


def test_bench_and_report_with_gan_flow_and_two_stage_gan(tmp_path):
    out = tmp_path / "bench"
    code = main(["bench", "--data", "digits", "--strategies", "ar,gan,flow,two-stage:gan", "--steps", "1",
                 "--train-steps", "3", "--ae-steps", "3", "--size", "tiny", "--batch-size", "16", "--n", "40",
                 "--judge-steps", "200", "--throughput-batch", "20", "--out", str(out), "--no-progress"])
    assert code == 0
    rows = json.loads((out / "results.json").read_text())
    gan = next(r for r in rows if r["strategy"] == "gan")
    assert gan["nfe"] == 1 and 0 <= gan["agree"] <= 1
    flows = [r for r in rows if r["strategy"] == "flow"]
    settings = {(r.get("guidance"), r.get("temperature")) for r in flows}  # as trained, then guided (TarFlow)
    assert settings == {(None, None), (None, 0.7), (3.0, None), (3.0, 0.7), (3.0, 0.5)}
    assert all(r["nfe"] == 4 * 64 and r["nll_bits_per_unit"] > 0 for r in flows)
    ar = next(r for r in rows if r["strategy"] == "ar")
    assert ar["nll_bits_per_unit"] > 0  # the same key, the same column
    assert next(r for r in rows if r["strategy"] == "two-stage:gan")["nfe"] == 1
    state = read_tensors(out / "checkpoints" / "two-stage-gan" / STATE_FILE, "state")  # the prior's own two optimizers
    assert any(k.startswith("optim.generator.") for k in state) and any(k.startswith("optim.discriminator.")
                                                                        for k in state)
    report = (out / "report.md").read_text()
    latent_section = report.split("Fix 1: a random latent vector")[1].split("## ")[0]
    assert "gan" in latent_section and "flow" in latent_section
