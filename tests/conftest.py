"""Suite-wide setup: torch on one intra-op thread for every test.

The tiny models are far too small to gain from threads, and on the shared 2-core CI box two
oversubscribed threads made small convolutions and DiT steps 5-50x slower. Scripts that
measure speed (benchmarks/) set their own thread count.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
