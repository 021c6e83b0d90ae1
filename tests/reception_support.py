"""Shared pieces of the reception tests: a message, the secrets to look for, a real receiver.

`receiver` serves a tiny FastAPI app on 127.0.0.1 with uvicorn in a thread, as a clinic's
reception system would: it records every Bundle it is sent (after `parse_bundle`), answers
with the status the test sets, and can be stopped and started again on the same port.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import uvicorn
from fastapi import FastAPI, Request, Response

from kiosk.pki.authority import DEFAULT_PERSON
from kiosk.services.insurance import CHECKUPS, MEDICATION, Coverage
from kiosk.services.reception import (
    BundleRefused,
    CoverageFacts,
    ReceivedBundle,
    ReceptionMessage,
    parse_bundle,
)

AT = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)
TOKEN = "reception-test-token"
PIN, PASSWORD = "1234", "ABC123"  # the test card's (see tests/pki_fixtures.py)
PATIENT_NUMBER = "P-000417"
INSTITUTION_CODE = "1311234567"
FACTS = CoverageFacts(
    status=Coverage.VALID,
    insurer="06123456",
    symbol="あいう",
    number="187",
    branch="05",
    valid_from=date(2025, 4, 1),
    valid_until=date(2027, 3, 31),
    copay_tenths=3,
)


def message(
    *, shared: frozenset[str] = frozenset({MEDICATION, CHECKUPS}), **changes: object
) -> ReceptionMessage:
    """A fresh message for the test patient (a new id each call)."""
    fields: dict[str, object] = dict(
        provider_id="demo-clinic",
        terminal_id="kiosk-1",
        patient_number=PATIENT_NUMBER,
        coverage=FACTS,
        shared=shared,
        at=AT,
        institution_code=INSTITUTION_CODE,
    )
    fields.update(changes)
    return ReceptionMessage.new(**fields)  # type: ignore[arg-type]


def four_info_texts() -> tuple[str, ...]:
    """The test card's basic 4 info as printed, typed and spelled without the ideographic
    space (the store, a Bundle or a log could hold any of these forms)."""
    person = DEFAULT_PERSON
    born = person.birth_date
    return (
        person.name,
        person.name.replace("\u3000", ""),
        person.name.replace("\u3000", " "),
        person.address,
        born.isoformat(),
        born.strftime("%Y%m%d"),
        f"{born.year}年{born.month}月{born.day}日",
    )


def secrets_in(text: str) -> list[str]:
    """The PIN (as a word of its own: digits inside a uuid or a time are not the PIN), the
    signature password and the 4 info found in `text`."""
    found = [s for s in (*four_info_texts(), PASSWORD) if s in text]
    padded = f" {text} "
    for quote in (" ", "'", '"', ":", "="):
        if f"{quote}{PIN}{quote if quote not in ':=' else ' '}" in padded:
            found.append(PIN)
    return found


# --- the receiver ----------------------------------------------------------------------------


@dataclass
class Received:
    """What the receiver was sent, in order (a Bundle sent twice is here twice)."""

    bundles: list[ReceivedBundle] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def deduplicated(self) -> list[ReceivedBundle]:
        """The log as a receiver keeps it: one entry per Bundle.id, the first one kept."""
        seen: dict[str, ReceivedBundle] = {}
        for bundle in self.bundles:
            seen.setdefault(bundle.bundle_id, bundle)
        return list(seen.values())


class Receiver:
    """A reception system on 127.0.0.1 that can go down and come back on the same port."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/fhir"
        self.received = Received()
        self.status = 200  # what it answers to a Bundle it could read
        self._server = None
        self._thread: threading.Thread | None = None

    def _app(self):
        app = FastAPI()
        received = self.received

        @app.post("/fhir")
        async def take(request: Request) -> Response:
            received.authorizations.append(request.headers.get("authorization", ""))
            received.content_types.append(request.headers.get("content-type", ""))
            try:
                bundle = parse_bundle(await request.body())
            except BundleRefused as e:
                received.refused.append(e.reason)
                return Response(status_code=400)
            received.bundles.append(bundle)
            received.arrived.set()
            return Response(status_code=self.status)

        return app

    def start(self) -> None:
        config = uvicorn.Config(
            self._app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        started = threading.Event()
        # uvicorn sets `started` once it listens; wait for that condition, not a fixed time
        for _ in range(2000):
            if server.started:
                started.set()
                break
            if not thread.is_alive():
                break
            started.wait(0.005)
        if not server.started:
            raise RuntimeError("the test receiver did not start")
        self._server, self._thread = server, thread

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
        self._server = self._thread = None


@contextmanager
def serving() -> Iterator[Receiver]:
    """A running reception system on 127.0.0.1, stopped at the end (a test module's
    `receiver` fixture yields from it)."""
    r = Receiver()
    r.start()
    try:
        yield r
    finally:
        r.stop()
