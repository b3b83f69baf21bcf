"""Faults and bad input: kill-and-resume, torchrun, non-finite loss, corrupt files, full disks, fuzzed CLI."""

import errno
import os
import subprocess
import sys

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genstrat.training.checkpoint import read_tensors
from genstrat.cli import main
from genstrat.errors import GenstratError
from genstrat.training.loop import STATE_FILE
from conftest import kill_mid_training, saved_step

TRAIN = ["train", "--data", "digits", "--size", "tiny", "--no-progress"]


def weights(folder):
    return read_tensors(folder / "model.safetensors", "weights")


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sigkill_at_a_random_moment_then_resume_is_bit_for_bit(tmp_path):
    """mask-predict draws its masks from the torch RNG, so this also checks every RNG state is restored."""
    steps = 1500
    argv = [sys.executable, "-m", "genstrat", *TRAIN, "--strategy", "mask-predict", "--batch-size", "16",
            "--steps", str(steps), "--save-every-steps", "25", "--deterministic"]
    subprocess.run(argv + ["--out", str(tmp_path / "whole")], check=True, capture_output=True)
    interrupted = tmp_path / "killed"
    kill_mid_training(argv, interrupted, steps)
    # whatever the kill interrupted, the state on disk is whole: it reads and its SHA-256 verifies (a temporary file a
    # killed write leaves beside it is never read)
    read_tensors(interrupted / STATE_FILE, "training state")
    subprocess.run(argv + ["--out", str(interrupted), "--resume"], check=True, capture_output=True)
    assert same_weights(weights(tmp_path / "whole"), weights(interrupted))


def test_torchrun_two_processes_match_one_process(tmp_path):
    """2 gloo processes, each half of a global batch of 32, against 1 process with the batch of 32.
    Stated tolerance: max |difference| of any weight < 1e-4 after 30 AdamW steps (float sums differ in order)."""
    common = [*TRAIN, "--strategy", "ar", "--batch-size", "32", "--steps", "30"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "genstrat", *common, "--out", str(tmp_path / "one")], check=True,
                   capture_output=True, env=env)
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "genstrat", *common, "--out", str(tmp_path / "two")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    a, b = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert a.keys() == b.keys()
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    assert worst < 1e-4, worst
    assert run.stdout.count("trained ar") == 1  # only rank 0 reports


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, digits):
    from genstrat.training.model_io import build_model
    from genstrat.strategies import get_strategy
    from genstrat.training.loop import Budget, train

    strategy = get_strategy("ar", digits.units)
    calls = {"n": 0}
    real_loss = strategy.loss

    def poisoned(model, units, cond):
        calls["n"] += 1
        loss = real_loss(model, units, cond)
        return loss * float("nan") if calls["n"] == 8 else loss  # call 1 counts the step's FLOPs, then steps 0, 1, ...

    strategy.loss = poisoned
    model = build_model(strategy, digits.num_classes, size="tiny")
    with pytest.raises(GenstratError, match=r"loss became nan at step 6.*last good checkpoint"):
        train(strategy, model, digits, Budget(steps=50), batch_size=8, out=tmp_path, save_every_steps=2, progress=False,
              precision="fp32")  # auto's probe would call the loss too (on a CPU with bf16 units)
    assert saved_step(tmp_path) == 6  # the save at step 6 is intact and loadable
    assert all(torch.isfinite(v).all() for v in weights(tmp_path).values())


def test_altered_safetensors_is_refused(tmp_path, capsys):
    ckpt = tmp_path / "ck"
    main([*TRAIN, "--strategy", "nar", "--steps", "2", "--out", str(ckpt)])
    path = ckpt / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # one flipped byte inside a weight: still parses, wrong numbers
    path.write_bytes(bytes(data))
    assert main(["sample", str(ckpt), "--label", "1"]) == 2
    assert "altered" in capsys.readouterr().err


def test_resume_with_another_model_size_is_a_clear_error(tmp_path, capsys):
    ckpt = tmp_path / "ck"
    main([*TRAIN, "--strategy", "ar", "--steps", "2", "--out", str(ckpt)])
    assert main([*TRAIN, "--strategy", "ar", "--steps", "4", "--out", str(ckpt), "--resume"]) == 0
    code = main(["train", "--data", "digits", "--size", "small", "--no-progress", "--strategy", "ar", "--steps", "6",
                 "--out", str(ckpt), "--resume"])
    assert code == 2 and "do not match" in capsys.readouterr().err


def test_unwritable_output_is_a_clear_error(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main([*TRAIN, "--strategy", "ar", "--steps", "1", "--out", str(blocker / "ckpt")]) == 2
    assert "cannot write" in capsys.readouterr().err

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    assert main([*TRAIN, "--strategy", "ar", "--steps", "1", "--out", str(tmp_path / "ok")]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and err.count("\n") == 1
    assert not [p for p in (tmp_path / "ok").iterdir() if p.name.endswith(".tmp")]  # temp files are cleaned up


BAD_VALUES = ["0", "-3", "abc", "1.5", "", "nan", "1e9x", "-0", "0x1"]
FLAGS = ["--steps", "--n", "--batch-size", "--throughput-batch"]
NOISE = st.sampled_from(["--data", "digits", "--strategy", "ar", "mask-predict", "--label", "3", "--out", "x",
                         "--seed", "1", "--train-steps", "2", "--versions", "--guidance", "2"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(["train", "sample", "bench", "demo", "report", "frob", ""]),
       bad=st.tuples(st.sampled_from(FLAGS), st.sampled_from(BAD_VALUES)),
       noise=st.lists(NOISE | st.text(max_size=6), max_size=6), position=st.integers(0, 6))
def test_cli_rejects_malformed_arguments_without_traceback(command, bad, noise, position, capsys, tmp_path,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [command] + noise
    argv[1 + min(position, len(noise)):1 + min(position, len(noise))] = list(bad)
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, (argv, code)
    assert "error" in err and "Traceback" not in err


def test_weight_average_resumes_exactly_and_is_what_is_saved(tmp_path, digits):
    from genstrat.training.checkpoint import read_tensors
    from genstrat.training.model_io import build_model
    from genstrat.strategies import get_strategy
    from genstrat.training.loop import Budget, train

    def run(out, steps, resume=False):
        torch.manual_seed(0)
        strategy = get_strategy("mask-predict", digits.units)
        model = build_model(strategy, digits.num_classes, size="tiny")
        train(strategy, model, digits, Budget(steps=steps), batch_size=8, out=out, progress=False, ema=0.9,
              resume=resume)
        return model

    whole = run(tmp_path / "whole", 12)
    run(tmp_path / "split", 5)
    resumed = run(tmp_path / "split", 12, resume=True)
    saved = read_tensors(tmp_path / "whole" / "model.safetensors", "weights")
    state = read_tensors(tmp_path / "whole" / "train_state.safetensors", "state")
    for k, v in whole.state_dict().items():
        assert (torch.equal(v, resumed.state_dict()[k]) and torch.equal(v, saved[k])
                and torch.equal(v, state[f"ema.{k}"]))
    # the average is not the raw weights
    assert any(not torch.equal(state[f"ema.{k}"], state[f"model.{k}"]) for k in saved)
