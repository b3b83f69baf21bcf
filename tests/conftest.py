import json
import random
import signal
import subprocess
import time

import pytest
import torch

from genstrat.data import load_dataset


def pytest_configure(config):
    """Judges and reference models are cached in $GENSTRAT_CACHE: the tests keep theirs in a folder of their own,
    never in the user's cache."""
    import os
    import tempfile

    os.environ["GENSTRAT_CACHE"] = tempfile.mkdtemp(prefix="genstrat-test-cache-")


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def saved_step(folder):
    """The step recorded in a training state's metadata."""
    from genstrat.training.checkpoint import read_tensors
    from genstrat.training.loop import STATE_FILE

    _, meta = read_tensors(folder / STATE_FILE, "state", with_metadata=True)
    return json.loads(meta["state"])["step"]


def kill_mid_training(argv, out, steps, first_wait=0.5, out_arg=None):
    """Start ``argv --out out`` and SIGKILL it at a random moment after its first saved state in ``out``, before step
    ``steps`` (retried with shorter waits when the run ended first). ``out_arg``: the ``--out`` to give when the state
    is written below it (a distillation round's folder). Returns the step its state on disk holds."""
    from genstrat.training.loop import STATE_FILE

    for attempt in range(5):
        proc = subprocess.Popen(argv + ["--out", str(out_arg or out)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        while not (out / STATE_FILE).exists() and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(random.uniform(0.0, first_wait / (attempt + 1)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if saved_step(out) < steps:
            return saved_step(out)
        for f in out.iterdir():
            f.unlink()
    raise AssertionError("the run ended before it could be killed")
