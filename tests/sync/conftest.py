"""Sync tests run torch on one thread: on the shared 2-core box, 2 threads under load made the
small convolutions ~20x slower. The previous setting is restored after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
