"""Structured logs (kiosk.platform.logs): one JSON object per line with time, level, logger,
event and the allowed fields only; the boundary's per-request line carries its fields as
structured extras (its text unchanged for the plain format); never a token, a body or the
4 info; `log_config` as uvicorn applies it in a worker process."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from enrolment_support import bound_application
from platform_ops_support import AUTH, PROVIDER, TERMINAL, TOKEN, Clock, Ops, open_local
from test_verify_support import make_proof

from kiosk.pki.authority import DEFAULT_PERSON
from kiosk.platform.logs import FIELDS, JsonFormatter

pytest_plugins = ["test_verify_support"]


def record(message="%s happened", *args, exc_info=None, **extra) -> logging.LogRecord:
    logger = logging.getLogger("kiosk.test")
    made = logger.makeRecord(
        logger.name, logging.WARNING, __file__, 1, message, args or ("it",), exc_info,
        extra=extra,
    )  # fmt: skip
    made.created = datetime(2026, 12, 3, 9, 30, 1, 250000, tzinfo=UTC).timestamp()
    return made


def test_a_json_line_has_time_level_logger_event_and_the_fields():
    line = JsonFormatter().format(
        record(
            method="POST",
            endpoint="/v1/proofs",
            provider=PROVIDER,
            terminal=TERMINAL,
            status=200,
            reason="ok",
            ms=1.25,
        )  # fmt: skip
    )
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-12-03T09:30:01.250+00:00",
        "level": "WARNING",
        "logger": "kiosk.test",
        "event": "it happened",
        "method": "POST",
        "endpoint": "/v1/proofs",
        "provider": PROVIDER,
        "terminal": TERMINAL,
        "status": 200,
        "reason": "ok",
        "ms": 1.25,
    }
    assert set(FIELDS) == {
        *("method", "endpoint", "provider", "terminal", "status", "reason", "ms"),
        "outcome",  # the kiosk's events (kiosk.services.event_log)
    }


def test_fields_outside_the_allow_list_never_reach_a_line():
    secrets = {
        "body": '{"pin": "1234"}',
        "token": TOKEN,
        "authorization": f"Bearer {TOKEN}",
        "pin": "1234",
        "person_name": DEFAULT_PERSON.name,
        "address": DEFAULT_PERSON.address,
    }
    line = JsonFormatter().format(record(**secrets, reason={"nested": TOKEN}, status=None))
    assert set(json.loads(line)) == {"time", "level", "logger", "event"}
    for value in (TOKEN, "1234", DEFAULT_PERSON.name, DEFAULT_PERSON.address, "nested"):
        assert value not in line


def test_an_exception_is_named_by_its_type_only():
    try:
        raise ValueError(f"the value was {TOKEN}")
    except ValueError:
        line = JsonFormatter().format(record(exc_info=sys.exc_info()))
    assert json.loads(line)["error"] == "ValueError"
    assert TOKEN not in line and "Traceback" not in line


@pytest.mark.parametrize("text", ["two\nlines", 'forged\r\n{"level": "INFO"}', "a\u2028b"])
def test_a_line_is_one_line_whatever_the_message(text):
    line = JsonFormatter().format(record("%s", text))
    assert line.splitlines() == [line]
    assert json.loads(line)["event"] == text


# --- the boundary's line per request -------------------------------------------------------


@pytest.fixture
def ops(world, tmp_path):
    local = open_local(world, tmp_path)
    yield Ops(local, world, Clock(world.now))
    local.db.dispose()


def edge_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "kiosk.platform.edge"]


def test_the_request_line_has_its_fields_and_no_token_nor_body(ops, world, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.platform.edge")
    http = ops.client()
    challenge = ops.issue(http)
    proof = make_proof(world, challenge)
    assert http.post("/v1/proofs", json=proof.to_json(), headers=AUTH).status_code == 200
    application = bound_application(
        PROVIDER, TERMINAL, ops.issue(http).nonce, sign_card=world, four_info=DEFAULT_PERSON
    ).to_json()
    assert http.post("/v1/enrolments", json=application, headers=AUTH).status_code == 200

    lines = edge_lines(caplog)
    assert [r.getMessage() for r in lines] == [
        f"POST /v1/challenges provider={PROVIDER} status=201 reason=issued",
        f"POST /v1/proofs provider={PROVIDER} status=200 reason=ok",
        f"POST /v1/challenges provider={PROVIDER} status=201 reason=issued",
        f"POST /v1/enrolments provider={PROVIDER} status=200 reason=ok",
    ]  # the plain line as it always was
    fields = json.loads(JsonFormatter().format(lines[1]))
    assert {k: fields[k] for k in ("method", "endpoint", "provider", "status", "reason")} == {
        "method": "POST",
        "endpoint": "/v1/proofs",
        "provider": PROVIDER,
        "status": 200,
        "reason": "ok",
    }
    assert isinstance(fields["ms"], float) and fields["ms"] >= 0

    written = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    for secret in (
        TOKEN,
        proof.to_json()["signature"],
        DEFAULT_PERSON.name,
        DEFAULT_PERSON.address,
        application["sign_signature"],
    ):
        assert secret not in written


def test_a_refused_request_line_has_no_provider_and_its_error_code(ops, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.platform.edge")
    http = ops.client()
    r = http.post("/v1/proofs", json={}, headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    (line,) = edge_lines(caplog)
    fields = json.loads(JsonFormatter().format(line))
    assert (fields["status"], fields["reason"]) == (401, "unauthorized")
    assert "provider" not in fields and "not-a-token" not in JsonFormatter().format(line)


# --- as uvicorn applies it in a worker -----------------------------------------------------

_WORKER = """
import logging, logging.config, sys
from kiosk.platform.logs import log_config
logging.config.dictConfig(log_config(sys.argv[1]))
logging.getLogger("kiosk.platform.edge").info(
    "GET /v1/health provider=- status=200 reason=-",
    extra={"method": "GET", "endpoint": "/v1/health", "status": 200, "ms": 0.5},
)
logging.getLogger("uvicorn.error").info("Started server process")
logging.getLogger("alembic.runtime").info("not shown: alembic at WARNING")
logging.getLogger("kiosk").debug("not shown: INFO and up")
"""


def run_worker(fmt: str) -> list[str]:
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", _WORKER, fmt], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    return done.stderr.splitlines()


def test_log_config_json_makes_every_line_json_uvicorns_too():
    lines = [json.loads(line) for line in run_worker("json")]
    assert [(line["logger"], line["event"]) for line in lines] == [
        ("kiosk.platform.edge", "GET /v1/health provider=- status=200 reason=-"),
        ("uvicorn.error", "Started server process"),
    ]
    assert (lines[0]["endpoint"], lines[0]["status"], lines[0]["ms"]) == ("/v1/health", 200, 0.5)


def test_log_config_plain_keeps_the_text_lines():
    lines = run_worker("plain")
    assert len(lines) == 2
    assert lines[0].endswith(
        "INFO kiosk.platform.edge: GET /v1/health provider=- status=200 reason=-"
    )
    assert lines[1].endswith("INFO uvicorn.error: Started server process")
