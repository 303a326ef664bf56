"""Shared fixtures: paths, the optional ../shared material, and small simulated archives."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the project; tests that need it skip where it is absent."""
    if not (SHARED / "README.md").exists():
        pytest.skip("../shared (reference data) is not available")
    return SHARED
