"""Shared test setup: every test writes runs and data under its own temporary folder."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    """Point the default runs folder and XDG data home at a per-test folder."""
    monkeypatch.setenv("D2LTUI_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    yield


@pytest.fixture
def one_torch_thread():
    """Train on one torch thread (as the spawned runs do): same kernels, same bits, no oversubscription."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
