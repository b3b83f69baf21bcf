import pytest
import torch

from genstrat.data import load_dataset


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
