"""The platform for real: `app_from_config` on uvicorn over TCP, a SQLite store with the test
PKI's CRLs, and PlatformClient in front of it (issue, the card signs, verify, replay, enrol)."""

from __future__ import annotations

import hashlib
import json
import secrets
import socket
import threading
import time
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn
from cryptography import x509
from enrolment_support import bound_application
from test_verify_support import PROVIDER, TERMINAL, make_proof

from kiosk import config
from kiosk.local import LocalContext, import_crls
from kiosk.platform.client import PlatformClient, PlatformRefused, PlatformUnavailable
from kiosk.verify.verdict import LinkStatus, Reason

pytest_plugins = ["test_verify_support"]

TOKEN = secrets.token_urlsafe(32)
OTHER_TOKEN = secrets.token_urlsafe(32)  # a token the platform knows for another provider
BODY_TIMEOUT_S = 1  # the platform's configured bound on reading a body (the default is longer)


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)  # not sent: the platform's clock decides


@pytest.fixture
def platform_cfg(world, tmp_path):
    crl_dir = tmp_path / "crl"
    crl_dir.mkdir()
    for which in ("auth", "sign"):
        (crl_dir / f"{which}.crl").write_bytes(world.crl(which))
    cfg = config.from_mapping(
        {
            "data_dir": str(tmp_path / "data"),
            "trust_dir": str(world.pki.trust_dir),
            "crl_dir": str(crl_dir),
            "platform_tokens": {PROVIDER: sha256(TOKEN), "other": sha256(OTHER_TOKEN)},
            "platform_body_timeout_s": BODY_TIMEOUT_S,
        }
    )
    local = LocalContext.from_config(cfg)  # the store, migrated, with the CRLs in force
    try:
        import_crls(cfg, local)
    finally:
        local.db.dispose()
    return cfg


class Running:
    """uvicorn serving the app on a free port of 127.0.0.1, in a thread."""

    def __init__(self, app) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 5
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.005)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.should_exit = True
            self.thread.join(5)


@pytest.fixture
def platform(platform_cfg):
    from kiosk.platform.service import app_from_config

    running = Running(app_from_config(platform_cfg))
    yield running
    running.stop()


@pytest.fixture
def client(platform):
    with PlatformClient(platform.url, TOKEN, timeout_s=5) as client:
        yield client


def test_health(client):
    assert client.health() is True


def test_a_proof_verifies_once_then_is_a_replay(client, world):
    challenge = client.issue(PROVIDER, TERMINAL, now())
    assert (challenge.provider_id, challenge.terminal_id) == (PROVIDER, TERMINAL)
    assert challenge.issued_at < challenge.expires_at
    proof = make_proof(world, challenge)  # the card's auth key signs the bound challenge

    verdict = client.verify_user_proof(proof, now())
    assert (verdict.ok, verdict.reason) == (True, Reason.OK), verdict.message
    assert verdict.auth_serial == x509.load_der_x509_certificate(world.auth_cert).serial_number
    assert verdict.issuer_key_id == world.key_id("auth")
    assert (verdict.link_status, verdict.account_ref) == (None, None)  # not linked here

    again = client.verify_user_proof(proof, now())
    assert (again.ok, again.reason) == (False, Reason.CHALLENGE_REPLAYED)


def test_a_bad_signature_is_a_verdict_not_an_error(client, world):
    challenge = client.issue(PROVIDER, TERMINAL, now())
    proof = make_proof(world, challenge, key=world.sign_key)  # the wrong key
    verdict = client.verify_user_proof(proof, now())
    assert (verdict.ok, verdict.reason) == (False, Reason.BAD_SIGNATURE)


def test_enrol_then_the_proof_names_the_account(client, world):
    challenge = client.issue(PROVIDER, TERMINAL, now())
    application = bound_application(PROVIDER, TERMINAL, challenge.nonce, sign_card=world)
    enrolled = client.verify_enrolment(application, now())
    assert enrolled.ok, enrolled.message
    assert enrolled.sign_issuer_key_id == world.key_id("sign")

    verdict = client.verify_user_proof(
        make_proof(world, client.issue(PROVIDER, TERMINAL, now())), now()
    )
    assert verdict.ok, verdict.message
    assert (verdict.link_status, verdict.account_ref) == (LinkStatus.ACTIVE, "patient-42")
    assert verdict.linked_at is not None and verdict.linked_at <= verdict.time
    assert verdict.auth_serial == enrolled.auth_serial


def test_a_wrong_token_is_unauthorized(platform):
    with PlatformClient(platform.url, "not-" + TOKEN) as wrong:
        with pytest.raises(PlatformRefused) as e:
            wrong.issue(PROVIDER, TERMINAL, now())
        assert (e.value.error, e.value.status) == ("unauthorized", 401)
        assert wrong.health() is True  # no token needed


def test_another_providers_token_is_forbidden(platform):
    with PlatformClient(platform.url, OTHER_TOKEN) as other:
        with pytest.raises(PlatformRefused) as e:
            other.issue(PROVIDER, TERMINAL, now())
    assert (e.value.error, e.value.status) == ("provider_not_allowed", 403)


def test_ids_that_are_not_identifiers_are_malformed(client):
    with pytest.raises(PlatformRefused) as e:
        client.issue(PROVIDER, "kiosk 1", now())
    assert (e.value.error, e.value.status) == ("malformed", 400)


def test_no_token_at_all_is_unauthorized_with_a_bearer_challenge(platform):
    response = httpx.post(f"{platform.url}/v1/challenges", json={"provider_id": PROVIDER})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_stopped_platform_is_unavailable(platform, client):
    assert client.health()
    platform.stop()
    with pytest.raises(PlatformUnavailable):
        client.issue(PROVIDER, TERMINAL, now())
    assert client.health() is False


# --- slow and token-less bodies over a real socket ----------------------------------------------


def exchange(url: str, sent: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `sent` (a request head and perhaps part of its body) on a new TCP connection, send
    nothing more, and read the answer until the platform closes the connection. The socket's
    timeout only stops a hung test; it is far above the platform's body timeout."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(sent)
        received = b""
        while chunk := conn.recv(65536):  # b"" once the platform has closed the connection
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
    return int(status_line.split()[1]), headers, body


def head(path: str, *fields: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", *fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


PART = b'{"provider_id": "demo-clinic", "termin'  # a body that stops here


@pytest.mark.parametrize("token", [None, "not-a-known-token"])
@pytest.mark.parametrize("path", ["/v1/challenges", "/v1/proofs", "/v1/enrolments"])
def test_a_request_without_a_valid_token_is_401_before_its_body_arrives(platform, token, path):
    fields = ["Content-Length: 1000"] + ([f"Authorization: Bearer {token}"] if token else [])
    status, headers, body = exchange(platform.url, head(path, *fields) + PART)
    # 401, not 408: the answer did not wait for the body (which never comes)
    assert status == 401
    assert json.loads(body)["error"] == "unauthorized"
    assert headers["connection"] == "close"  # the rest of the body is not read either


@pytest.mark.parametrize(
    "framing",
    [["Content-Length: 1000"], ["Transfer-Encoding: chunked"]],
    ids=["content-length", "chunked"],
)
def test_a_body_trickled_with_a_token_is_cut_off_with_408(platform, framing):
    part = PART if "Content-Length: 1000" in framing else b"%x\r\n%s\r\n" % (len(PART), PART)
    status, headers, body = exchange(
        platform.url, head("/v1/proofs", f"Authorization: Bearer {TOKEN}", *framing) + part
    )
    assert status == 408
    assert json.loads(body) == {
        "error": "timeout",
        "message": f"The request body did not arrive within {BODY_TIMEOUT_S} s.",
    }
    assert headers["connection"] == "close"


def test_a_body_declared_too_large_is_413_without_reading_it(platform):
    status, headers, body = exchange(
        platform.url,
        head("/v1/proofs", f"Authorization: Bearer {TOKEN}", "Content-Length: 10000000") + PART,
    )
    assert (status, json.loads(body)["error"]) == (413, "too_large")
    assert headers["connection"] == "close"


def test_a_request_read_whole_keeps_its_connection(platform):
    with httpx.Client(base_url=platform.url, timeout=30) as http:
        for _ in range(2):  # the second request reuses the connection
            r = http.post(
                "/v1/challenges",
                json={"provider_id": PROVIDER, "terminal_id": TERMINAL},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            assert r.status_code == 201 and "connection" not in r.headers
