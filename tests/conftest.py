"""Shared fixtures for the engine tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine_testing import Overlap
from runnables import get_offload_policy, set_offload_policy


@pytest.fixture
def overlap() -> Overlap:
    """A fresh overlap counter."""
    return Overlap()


@pytest.fixture
def offload_policy() -> Iterator[None]:
    """Restore the process-wide offload policy after a test changes it."""
    before = get_offload_policy()
    try:
        yield
    finally:
        set_offload_policy(threshold=before.threshold, warn=before.warn)
