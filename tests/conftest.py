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
