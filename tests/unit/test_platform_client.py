"""PlatformClient against httpx.MockTransport: the requests it sends, the answers it parses,
and how every failure maps to PlatformUnavailable or PlatformRefused."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import sys
import tomllib
import types
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from kiosk import cli, config
from kiosk.commands import platform as platform_command
from kiosk.errors import KioskError
from kiosk.pki.authority import DEFAULT_PERSON
from kiosk.platform.client import PlatformClient, PlatformRefused, PlatformUnavailable
from kiosk.verify.enrolment import EnrolmentApplication
from kiosk.verify.ports import IssuedChallenge
from kiosk.verify.proof import UserProof
from kiosk.verify.verdict import EnrolmentVerdict, LinkStatus, Reason, Verdict

TOKEN = "s3cret-token_value-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
BASE = "https://platform.example/api"
NOW = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)
NONCE = bytes(range(73))

PROOF = UserProof("demo-clinic", "kiosk-1", NONCE, b"\x30\x82cert", b"\x01sig")
APPLICATION = EnrolmentApplication(
    provider_id="demo-clinic",
    terminal_id="kiosk-1",
    account_ref="patient-42",
    four_info=DEFAULT_PERSON,
    nonce=NONCE,
    sign_certificate=b"\x30\x82sign",
    sign_signature=b"\x02sig",
    auth_proof=PROOF,
    auth_certificate_sha256=bytes(32),
)
CHALLENGE_JSON = {
    "nonce": base64.b64encode(NONCE).decode(),
    "provider_id": "demo-clinic",
    "terminal_id": "kiosk-1",
    "issued_at": "2026-11-25T05:00:00.000000+00:00",
    "expires_at": "2026-11-25T05:02:00.000000+00:00",
}
VERDICT = Verdict(
    True,
    Reason.OK,
    "Verified.",
    NOW,
    auth_serial=0x1A2B,
    issuer_key_id="3fb8",
    link_status=LinkStatus.ACTIVE,
    account_ref="K-1234",
    linked_at=datetime(2026, 4, 1, 10, 0, tzinfo=UTC),
)
ENROLMENT_VERDICT = EnrolmentVerdict(True, Reason.OK, "Enrolled.", NOW, 0x51, "aa", 0x52, "bb")


class Recorder:
    """A MockTransport handler answering with canned responses, recording every request."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client_for(*answers, token=TOKEN):
    recorder = Recorder(*answers)
    return PlatformClient(BASE, token, transport=httpx.MockTransport(recorder)), recorder


def body_of(request: httpx.Request):
    return json.loads(request.content)


# -- the requests sent and the answers parsed --------------------------------------------


def test_issue_sends_the_ids_and_parses_the_challenge():
    client, rec = client_for(httpx.Response(201, json=CHALLENGE_JSON))
    challenge = client.issue("demo-clinic", "kiosk-1", NOW + timedelta(days=3))
    assert challenge == IssuedChallenge(
        NONCE,
        "demo-clinic",
        "kiosk-1",
        datetime(2026, 11, 25, 5, 0, tzinfo=UTC),
        datetime(2026, 11, 25, 5, 2, tzinfo=UTC),
    )
    (request,) = rec.requests
    assert request.method == "POST"
    assert str(request.url) == "https://platform.example/api/v1/challenges"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert body_of(request) == {"provider_id": "demo-clinic", "terminal_id": "kiosk-1"}  # no now


def test_verify_user_proof_sends_the_proof_and_parses_the_verdict():
    client, rec = client_for(httpx.Response(200, json=VERDICT.to_json()))
    assert client.verify_user_proof(PROOF, NOW, action="verify_card") == VERDICT
    (request,) = rec.requests
    assert (request.method, request.url.path) == ("POST", "/api/v1/proofs")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert body_of(request) == PROOF.to_json()  # neither now nor action


def test_an_unlinked_refusal_verdict_parses():
    refused = Verdict(False, Reason.CHALLENGE_REPLAYED, "Used already.", NOW)
    client, _ = client_for(httpx.Response(200, json=refused.to_json()))
    verdict = client.verify_user_proof(PROOF, NOW)
    assert verdict == refused and verdict.link_status is None and verdict.account_ref is None


def test_verify_enrolment_sends_the_application_and_parses_the_verdict():
    client, rec = client_for(httpx.Response(200, json=ENROLMENT_VERDICT.to_json()))
    assert client.verify_enrolment(APPLICATION, NOW) == ENROLMENT_VERDICT
    (request,) = rec.requests
    assert (request.method, request.url.path) == ("POST", "/api/v1/enrolments")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert body_of(request) == APPLICATION.to_json()
    assert EnrolmentApplication.from_json(body_of(request)) == APPLICATION


def test_health():
    client, rec = client_for(httpx.Response(200, json={"status": "ok"}))
    assert client.health() is True
    (request,) = rec.requests
    assert (request.method, request.url.path, request.content) == ("GET", "/api/v1/health", b"")


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503, json={"error": "unavailable", "message": "store down"}),
        httpx.Response(401, json={"error": "unauthorized", "message": "no"}),
        httpx.Response(200, json={"status": "starting"}),
        httpx.Response(200, text="<html>ok</html>"),
        httpx.ConnectError("refused"),
    ],
)
def test_health_is_false_on_anything_else(answer):
    client, _ = client_for(answer)
    assert client.health() is False


def test_a_base_url_without_a_path():
    client = PlatformClient(
        "http://127.0.0.1:8700",
        TOKEN,
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"status": str(r.url)})),
    )
    assert client._call("GET", "/v1/health", None) == {"status": "http://127.0.0.1:8700/v1/health"}


# -- failures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectTimeout("timed out"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.ReadError("reset"),
    ],
)
def test_transport_failures_are_unavailable(error):
    client, _ = client_for(error)
    with pytest.raises(PlatformUnavailable) as e:
        client.verify_user_proof(PROOF, NOW)
    assert e.value.code == "platform_unreachable"
    assert isinstance(e.value, KioskError)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_unavailable_and_never_retried(status):
    client, rec = client_for(
        httpx.Response(status, json={"error": "unavailable", "message": "retry"}),
        httpx.Response(200, json=VERDICT.to_json()),  # a retry would get this
    )
    with pytest.raises(PlatformUnavailable) as e:
        client.verify_user_proof(PROOF, NOW)
    assert e.value.status == status
    assert len(rec.requests) == 1


def test_a_connection_failure_on_a_post_is_not_retried():
    client, rec = client_for(
        httpx.ReadTimeout("timed out"), httpx.Response(200, json=VERDICT.to_json())
    )
    with pytest.raises(PlatformUnavailable):
        client.verify_user_proof(PROOF, NOW)
    assert len(rec.requests) == 1


def test_a_redirect_is_not_followed():
    client, rec = client_for(
        httpx.Response(307, headers={"Location": "https://elsewhere.example/v1/proofs"}),
        httpx.Response(200, json=VERDICT.to_json()),
    )
    with pytest.raises(PlatformUnavailable):
        client.verify_user_proof(PROOF, NOW)
    assert len(rec.requests) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, "malformed"),
        (401, "unauthorized"),
        (403, "forbidden"),
        (404, "not_found"),
        (405, "method_not_allowed"),
        (413, "too_large"),
        (422, "some_new_code"),
    ],
)
def test_4xx_is_refused_with_the_error_code_of_the_body(status, error):
    client, rec = client_for(
        httpx.Response(status, json={"error": error, "message": "plain words"}),
        httpx.Response(200, json=VERDICT.to_json()),
    )
    with pytest.raises(PlatformRefused) as e:
        client.verify_user_proof(PROOF, NOW)
    kind = "kiosk_credential_refused" if status == 401 else "platform_refused"  # its own reason
    assert (e.value.error, e.value.status, e.value.code) == (error, status, kind)
    assert "plain words" in str(e.value)
    assert len(rec.requests) == 1


@pytest.mark.parametrize(
    ("status", "error"), [(401, "unauthorized"), (404, "not_found"), (418, "refused")]
)
def test_4xx_without_an_error_body_is_refused_by_its_status(status, error):
    client, _ = client_for(httpx.Response(status, text="<html>nope</html>"))
    with pytest.raises(PlatformRefused) as e:
        client.issue("demo-clinic", "kiosk-1", NOW)
    assert (e.value.error, e.value.status) == (error, status)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="not json"),
        httpx.Response(200, content=b"\xff\xfe\x00"),
        httpx.Response(200, json=[VERDICT.to_json()]),
        httpx.Response(200, json=None),
        httpx.Response(200, json={**VERDICT.to_json(), "reason": "no_such_reason"}),
        httpx.Response(200, json={**VERDICT.to_json(), "ok": "true"}),
        httpx.Response(200, json={**VERDICT.to_json(), "time": "2026-11-25T05:00:00"}),
        httpx.Response(200, json={**VERDICT.to_json(), "auth_serial": "xyz"}),
        httpx.Response(200, json={k: v for k, v in VERDICT.to_json().items() if k != "ok"}),
    ],
)
def test_a_proof_answer_that_is_not_a_verdict_is_unavailable(answer):
    client, _ = client_for(answer)
    with pytest.raises(PlatformUnavailable):
        client.verify_user_proof(PROOF, NOW)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json=VERDICT.to_json()),  # a proof verdict, not an enrolment's
        httpx.Response(200, json={**ENROLMENT_VERDICT.to_json(), "sign_serial": 81}),
    ],
)
def test_an_enrolment_answer_that_is_not_an_enrolment_verdict_is_unavailable(answer):
    client, _ = client_for(answer)
    with pytest.raises(PlatformUnavailable):
        client.verify_enrolment(APPLICATION, NOW)


@pytest.mark.parametrize(
    "change",
    [
        {"nonce": "not base64!"},
        {"nonce": ""},
        {"nonce": 12},
        {"provider_id": None},
        {"provider_id": "other-clinic"},  # a challenge for someone else
        {"terminal_id": "kiosk-2"},
        {"issued_at": "yesterday"},
        {"expires_at": "2026-11-25T05:02:00"},  # no zone
        {"expires_at": "2026-11-25T04:59:00+00:00"},  # before it was issued
    ],
)
def test_a_challenge_answer_that_does_not_parse_is_unavailable(change):
    client, _ = client_for(httpx.Response(201, json={**CHALLENGE_JSON, **change}))
    with pytest.raises(PlatformUnavailable):
        client.issue("demo-clinic", "kiosk-1", NOW)


def test_a_challenge_answer_missing_a_field_is_unavailable():
    answer = {k: v for k, v in CHALLENGE_JSON.items() if k != "expires_at"}
    client, _ = client_for(httpx.Response(201, json=answer))
    with pytest.raises(PlatformUnavailable):
        client.issue("demo-clinic", "kiosk-1", NOW)


# -- the token stays secret ---------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        httpx.ConnectError(f"cannot connect with {TOKEN}"),
        httpx.Response(503, json={"error": "unavailable", "message": f"echo {TOKEN}"}),
        httpx.Response(401, json={"error": "unauthorized", "message": f"bad token {TOKEN}"}),
        httpx.Response(200, text=f"garbage {TOKEN}"),
    ],
)
def test_the_token_is_in_no_error_message_and_no_log(answer, caplog):
    caplog.set_level(logging.DEBUG)
    client, _ = client_for(answer)
    with pytest.raises(KioskError) as e:
        client.verify_user_proof(PROOF, NOW)
    assert TOKEN not in str(e.value)
    assert TOKEN not in repr(e.value)
    assert TOKEN not in repr(client)
    assert TOKEN not in caplog.text
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("token", ["", "has space", "new\nline", "ümlaut"])
def test_a_token_that_is_not_a_header_value_is_refused_without_echo(token):
    with pytest.raises(ValueError) as e:
        PlatformClient(BASE, token)
    assert token not in str(e.value) or token == ""


def test_close_closes_the_pool():
    client, _ = client_for(httpx.Response(200, json={"status": "ok"}))
    with client:
        assert client.health()
    with pytest.raises(RuntimeError):
        client._client.get("/v1/health")


# -- kiosk platform token / serve ----------------------------------------------------------


def test_platform_token_prints_a_token_and_its_hash_line(capsys):
    assert cli.main(["platform", "token", "demo-clinic"]) == 0
    out = capsys.readouterr().out
    token = out.split("token:", 1)[1].split()[0]
    assert len(token) >= 43  # token_urlsafe(32)
    lines = "[platform_tokens]" + out.split("[platform_tokens]", 1)[1]
    cfg = config.from_mapping(tomllib.loads(lines))  # pasted as printed, it loads
    assert cfg.platform_tokens == {"demo-clinic": hashlib.sha256(token.encode()).hexdigest()}
    # each call makes a new one
    assert cli.main(["platform", "token", "demo-clinic"]) == 0
    assert token not in capsys.readouterr().out


def test_platform_token_quotes_a_provider_that_is_not_a_bare_key(capsys):
    assert cli.main(["platform", "token", "clinic.example:east"]) == 0
    out = capsys.readouterr().out
    token = out.split("token:", 1)[1].split()[0]
    table = tomllib.loads("[t]\n" + out.split("[platform_tokens]", 1)[1])
    assert table == {"t": {"clinic.example:east": hashlib.sha256(token.encode()).hexdigest()}}


def test_platform_token_refuses_a_provider_that_is_not_an_identifier(capsys):
    assert cli.main(["platform", "token", "bad provider"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "identifier" in captured.err


def fake_service(monkeypatch, app_from_config):
    """kiosk.platform.service with app_from_config replaced (no store is opened)."""
    module = types.ModuleType("kiosk.platform.service")
    module.app_from_config = app_from_config
    monkeypatch.setitem(sys.modules, "kiosk.platform.service", module)


def test_platform_serve_runs_uvicorn_with_the_configured_app(tmp_path, monkeypatch):
    toml = tmp_path / "kiosk.toml"
    toml.write_text(f'data_dir = "{tmp_path}"\nprovider_id = "demo-clinic"\n')
    app, seen = object(), {}

    def app_from_config(cfg, *, loop_waits):
        seen["cfg"], seen["loop_waits"] = cfg, loop_waits
        return app

    def run(what, **kw):
        seen["run"] = (what, kw)

    fake_service(monkeypatch, app_from_config)
    monkeypatch.setattr("uvicorn.run", run)
    assert cli.main(["platform", "serve", "--config", str(toml), "--port", "8123"]) == 0
    assert seen["cfg"].data_dir == tmp_path
    # one worker awaits its store on its loop when it has a CPU to spare (kiosk.platform.workers)
    assert seen["loop_waits"] is (len(os.sched_getaffinity(0)) > 1)
    what, kw = seen["run"]
    assert what is app
    assert (kw["host"], kw["port"]) == ("127.0.0.1", 8123)


def test_platform_serve_defaults(tmp_path, monkeypatch):
    seen = {}
    fake_service(monkeypatch, lambda cfg, loop_waits: "app")
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: seen.update(kw, app=app))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["platform", "serve", "--host", "0.0.0.0"]) == 0
    assert (seen["app"], seen["host"], seen["port"]) == ("app", "0.0.0.0", 8700)


def test_platform_serve_refuses_a_bad_port(capsys):
    with pytest.raises(SystemExit):
        cli.main(["platform", "serve", "--port", "70000"])
    assert "port" in capsys.readouterr().err
    assert platform_command.DEFAULT_PORT == 8700
