"""Shared by the Symphony tests."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Small nets on a 2-core machine: one torch thread is several times faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
