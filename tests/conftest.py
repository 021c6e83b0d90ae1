"""Test-wide settings: shared fixture plugins, the CI rule that e2e tests never skip, and the
marks `make test` shares the suite out by.

`make test` runs the suite in two steps: every test not marked `reader` on all CPUs
(pytest-xdist, a test module kept whole on one worker, the long modules handed out first:
`_long_first`), then the `reader` tests alone. Those insert and pull cards in the machine's
one virtual reader (pcscd + vpcd on its fixed port); nothing else may run beside them, so
they see the reader as a kiosk does. A test that asks for the reader's fixtures is marked
`reader` here (`_reader_tests`); a module that drives the reader otherwise marks itself.
"""

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

_READER_FIXTURES = frozenset({"pcsc_context", "reader_name", "vpcd_port"})

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


_LONG = ("fuzz", "slow", "e2e", "browser", "reader")


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by the marks added here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _reader_tests(items)
    _long_first(items)


def _long_first(items: list[pytest.Item]) -> None:
    """The modules holding a long test first, each module kept together, in order otherwise
    (every worker sorts the same collection the same way, as xdist requires)."""
    long_modules = {
        item.nodeid.split("::", 1)[0]
        for item in items
        if any(item.get_closest_marker(name) for name in _LONG)
    }
    items.sort(key=lambda item: item.nodeid.split("::", 1)[0] not in long_modules)


def _reader_tests(items: list[pytest.Item]) -> None:
    """Every test that uses the virtual reader's fixtures is a `reader` test."""
    for item in items:
        if _READER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.reader)
