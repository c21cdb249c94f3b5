"""Fixtures shared by the test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign_common import write_tiny


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """The tiny campaign scenario (tests/data/tiny.yaml) in a fresh folder."""
    return write_tiny(tmp_path)
