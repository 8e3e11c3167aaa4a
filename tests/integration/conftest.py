"""Fixtures of the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hotline_pbx.sandbox.unprivileged import DaemonHome


@pytest.fixture
def home() -> Iterator[DaemonHome]:
    """The daemon user's copy of the package and its data directory, removed after."""
    made = DaemonHome()
    yield made
    made.remove()
