"""tests/models fixtures: run torch single-threaded here (the tiny models are faster that way, and
on a shared 2-core machine OpenMP threads fighting over cores made this folder 5x slower)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
