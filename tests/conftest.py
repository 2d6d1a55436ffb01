"""Shared fixtures: every test writes figures and cache entries into temporary folders."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def session_artifacts(tmp_path_factory):
    """One artifacts cache for the whole session, so generated data and models are reused across tests."""
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(autouse=True)
def isolated_outputs(tmp_path, session_artifacts, monkeypatch):
    """Point figures/ at a per-test folder and artifacts/ at the session cache (never the repository's)."""
    figures = tmp_path / "figures"
    monkeypatch.setenv("POISONDETECT_FIGURES", str(figures))
    monkeypatch.setenv("POISONDETECT_ARTIFACTS", str(session_artifacts))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return figures
