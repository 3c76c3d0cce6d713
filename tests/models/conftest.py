"""Test setup for xdub.models: one torch thread per test (the CI box has 2 shared cores)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Keep each test on one thread; restore the setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
