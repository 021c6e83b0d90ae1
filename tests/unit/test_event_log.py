"""The kiosk's log lines as the journal gets them (`kiosk --log-format json`, the default under
systemd): a whole visit through the composition root's platform backend, against a real
platform over HTTP, with every logger of the process at its lowest level (APDU traces too)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from test_platform_http import PROVIDER, TOKEN

from kiosk import config
from kiosk.app import platform_backend
from kiosk.card.connection import TRACE
from kiosk.card.reader import InProcessReader
from kiosk.cli import log_handler
from kiosk.errors import KioskError
from kiosk.jpki.errors import PinIncorrect
from kiosk.services.base import ServiceContext
from kiosk.services.event_log import LoggedAudit
from kiosk.simcard.applet import VirtualCard

pytest_plugins = ["test_verify_support", "test_platform_http"]

WRONG_PIN = "9876"


@pytest.fixture
def journal() -> Iterator[io.StringIO]:
    """What `kiosk --log-format json` writes to standard error, from every logger."""
    stream = io.StringIO()
    handler = log_handler("json")
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(TRACE)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def kiosk_config(platform, tmp_path, token: str) -> config.Config:
    return config.from_mapping(
        {
            "data_dir": str(tmp_path / "kiosk"),
            "verification": "platform",
            "platform_url": platform.url,
            "platform_token": token,
            "provider_id": PROVIDER,
            "terminal_id": "kiosk-7",
        }
    )


@pytest.fixture
def backend(platform, card_file, tmp_path):
    reader = InProcessReader()
    reader.insert(VirtualCard(card_file))
    closers: list = []
    visit = platform_backend(kiosk_config(platform, tmp_path, TOKEN), reader.connect, closers)
    yield visit
    visit.close_card()
    for close in closers:
        close()


def lines_of(journal: io.StringIO) -> list[dict]:
    """Each line is one JSON object."""
    return [json.loads(line) for line in journal.getvalue().splitlines()]


def leaked(lines: list[dict], secrets: list[str]) -> list[tuple[str, dict]]:
    """The secrets found in any field but the time (a time may hold any digits)."""
    found = []
    for line in lines:
        text = json.dumps({k: v for k, v in line.items() if k != "time"}, ensure_ascii=False)
        found += [(s, line) for s in secrets if s in text]
    return found


def test_a_visits_events_are_structured_lines_without_pin_4_info_or_token(
    backend, journal, card_file
) -> None:
    backend.read_card()
    with pytest.raises(PinIncorrect):
        backend.authenticate(WRONG_PIN, "identity", PROVIDER)
    first = backend.authenticate("1234", "identity", PROVIDER)
    candidate = backend.read_signer("ABC123", first)
    four = candidate.four_info
    backend.enrol(candidate, PROVIDER)
    backend.close_card()
    backend.read_card()
    again = backend.authenticate("1234", "identity", PROVIDER)
    context = ServiceContext("identity", PROVIDER, "ja", again.subject, again.not_after, again.link)
    assert backend.run_service(context).ok
    backend.close_card()

    lines = lines_of(journal)
    assert len(lines) > 10  # the card's traces, the platform's requests, the kiosk's events
    events = [line for line in lines if line["logger"] == "kiosk.events"]
    assert events == [
        {
            "time": events[0]["time"],
            "level": "INFO",
            "logger": "kiosk.events",
            "event": "service.identity",
            "provider": PROVIDER,
            "terminal": "kiosk-7",
            "outcome": "ok",
        }
    ]
    secrets = ["1234", WRONG_PIN, "ABC123", TOKEN, four.name, four.address, four.birth_date]
    assert leaked(lines, secrets) == []


def test_a_refusal_of_the_kiosk_is_an_event_with_its_reason_and_no_token(
    platform, card_file, tmp_path, journal
) -> None:
    reader = InProcessReader()
    reader.insert(VirtualCard(card_file))
    closers: list = []
    wrong = "not-the-token-" + TOKEN[:8]
    visit = platform_backend(kiosk_config(platform, tmp_path, wrong), reader.connect, closers)
    try:
        visit.read_card()
        with pytest.raises(KioskError):
            visit.authenticate("1234", "identity", PROVIDER)
    finally:
        visit.close_card()
        for close in closers:
            close()
    lines = lines_of(journal)
    events = [line for line in lines if line["logger"] == "kiosk.events"]
    assert [(e["event"], e["outcome"], e["reason"], e["terminal"]) for e in events] == [
        ("authenticate", "refused", "kiosk_credential_refused", "kiosk-7")
    ]
    assert leaked(lines, ["1234", wrong, TOKEN]) == []


class Refusing:
    def record(self, action, ok, reason, provider_id, at, *, actor=None) -> None:
        raise KioskError("the store refused it")


def test_an_event_the_store_refuses_is_not_logged(journal) -> None:
    from datetime import UTC, datetime

    with pytest.raises(KioskError):
        LoggedAudit(Refusing(), "kiosk-1").record("service.x", True, None, "p", datetime.now(UTC))
    assert [line for line in lines_of(journal) if line["logger"] == "kiosk.events"] == []


def logged_by_kiosk(tmp_path, argv: list[str], journal_stream: str | None) -> list[str]:
    """Run `kiosk -v ARGV…` with standard error into a file; the lines it logged."""
    import os
    import subprocess
    import sys

    err = tmp_path / "stderr.txt"
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    with err.open("wb") as f:
        if journal_stream == "this file":
            status = os.fstat(f.fileno())
            journal_stream = f"{status.st_dev}:{status.st_ino}"
        if journal_stream is not None:
            env["JOURNAL_STREAM"] = journal_stream
        subprocess.run(
            [sys.executable, "-m", "kiosk.cli", "-v", *argv],
            stdout=subprocess.DEVNULL,
            stderr=f,
            env=env,
            timeout=120,
            check=True,
        )
    return [line for line in err.read_text().splitlines() if line.strip()]


def upgrade(tmp_path) -> list[str]:
    return ["db", "upgrade", "--url", f"sqlite:///{tmp_path / 'k.sqlite3'}"]


def test_under_the_journal_the_kiosk_logs_json_lines(tmp_path) -> None:
    lines = logged_by_kiosk(tmp_path, upgrade(tmp_path), "this file")
    assert lines
    parsed = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "event"} <= set(p) for p in parsed)


def test_a_journal_stream_that_is_not_stderr_keeps_plain_lines(tmp_path) -> None:
    lines = logged_by_kiosk(tmp_path, upgrade(tmp_path), "1:2")
    assert lines and not lines[0].startswith("{")
    assert " INFO " in lines[0] or " DEBUG " in lines[0]


def test_log_format_json_asks_for_json_lines_anywhere(tmp_path) -> None:
    lines = logged_by_kiosk(tmp_path, ["--log-format", "json", *upgrade(tmp_path)], None)
    assert lines and all(json.loads(line)["event"] for line in lines)
