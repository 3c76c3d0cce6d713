"""Stage-2 tests run single-threaded: the machine's cores are shared, and oversubscribed
intra-op threads make the tiny models 10-50x slower."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
