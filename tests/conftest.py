"""Test-wide settings: shared fixture plugins, and the CI rule that e2e tests never skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_HERE = Path(__file__).parent

# Shared fixtures (test PKI and cards, PostgreSQL, the TEST card company, a sound server),
# loaded as plugins when present.
pytest_plugins = [
    name
    for name in (
        "pki_fixtures",
        "postgres_fixtures",
        "gateway_support",
        "browser_support",
        "sound_support",
    )
    if (_HERE / f"{name}.py").exists()
]

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

_IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_skipped_e2e: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and "e2e" in report.keywords:
        _skipped_e2e.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _IN_CI and _skipped_e2e:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if _IN_CI and _skipped_e2e:
        terminalreporter.section("e2e tests skipped in CI (this fails the run)", red=True)
        for nodeid in _skipped_e2e:
            terminalreporter.line(nodeid)
