"""The platform's HTTP service (docs/platform-api.md) over a real store with the test PKI's CRLs.

A challenge comes from the API, the (virtual) card signs it, the proof goes back to the API;
every error status of the contract's table; refusals are verdicts; enrolment links the account.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import replace
from datetime import datetime

import pytest
from cryptography import x509
from enrolment_support import bound_application
from fastapi.testclient import TestClient
from platform_ops_support import open_local, settings
from test_verify_support import make_proof

from kiosk.card.inprocess import InProcessConnection
from kiosk.config import ConfigError
from kiosk.jpki.session import JpkiSession
from kiosk.pki.authority import DEFAULT_PERSON
from kiosk.platform.service import MAX_BODY, app_from_config, create_app
from kiosk.services.visit import authenticate
from kiosk.simcard.applet import VirtualCard
from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.verification import SqlVerificationStore
from kiosk.verify.ports import IssuedChallenge
from kiosk.verify.proof import UserProof, signed_message
from kiosk.verify.verdict import EnrolmentVerdict, LinkStatus, Reason, Verdict
from kiosk.verify.verifier import Verifier

pytest_plugins = ["test_verify_support"]

PROVIDER, TERMINAL, OTHER = "demo-clinic", "kiosk-1", "demo-shop"
TOKEN, OTHER_TOKEN = "clinic-secret-token", "shop-secret-token"


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


TOKENS = {PROVIDER: sha256_hex(TOKEN), OTHER: sha256_hex(OTHER_TOKEN)}
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OTHER_AUTH = {"Authorization": f"Bearer {OTHER_TOKEN}"}


@pytest.fixture
def local(world, tmp_path):
    local = open_local(world, tmp_path)
    yield local
    local.db.dispose()


@pytest.fixture
def any_store(world, tmp_path, store_url):
    """The same on SQLite and on PostgreSQL."""
    local = open_local(world, tmp_path, store_url)
    yield local
    local.db.dispose()


def client_for(local, world, *, verifier=None, loop_waits=False, db=None) -> TestClient:
    """The app over `local` (or `verifier`), its verifier's statements awaited on the loop of
    `db` (default local's) when `loop_waits`."""
    app = create_app(
        verifier=verifier or local.verifier,
        challenges=local.challenges,
        tokens=TOKENS,
        clock=lambda: world.now,
        on_loop=(db or local.db).on_loop if loop_waits else None,
    )
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(local, world):
    return client_for(local, world)


def issue(client, terminal=TERMINAL, provider=PROVIDER, headers=AUTH) -> IssuedChallenge:
    r = client.post(
        "/v1/challenges", json={"provider_id": provider, "terminal_id": terminal}, headers=headers
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"nonce", "provider_id", "terminal_id", "issued_at", "expires_at"}
    return IssuedChallenge(
        base64.b64decode(body["nonce"], validate=True),
        body["provider_id"],
        body["terminal_id"],
        datetime.fromisoformat(body["issued_at"]),
        datetime.fromisoformat(body["expires_at"]),
    )


def proof_json(world, challenge, **kw) -> dict:
    return make_proof(world, challenge, **kw).to_json()


def post_proof(client, body, headers=AUTH) -> Verdict:
    r = client.post("/v1/proofs", json=body, headers=headers)
    assert r.status_code == 200, r.text
    assert set(r.json()) == set(Verdict(True, Reason.OK, "", datetime.now()).to_json())
    return Verdict.from_json(r.json())


def application(world, challenge, account="patient-42", four_info=DEFAULT_PERSON) -> dict:
    """A signed enrolment application over an API challenge, as the kiosk sends it."""
    return bound_application(
        PROVIDER,
        challenge.terminal_id,
        challenge.nonce,
        sign_card=world,
        account_ref=account,
        four_info=four_info,
    ).to_json()


def post_enrolment(client, body, headers=AUTH) -> EnrolmentVerdict:
    r = client.post("/v1/enrolments", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return EnrolmentVerdict.from_json(r.json())


def auth_serial(world) -> int:
    return x509.load_der_x509_certificate(world.auth_cert).serial_number


def assert_error(r, status, code):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error", "message"} and body["error"] == code, body
    assert body["message"] and "Traceback" not in r.text


# --- the happy paths, on SQLite and PostgreSQL ---------------------------------------------


class TestOnBothStores:
    """Each with the verifier's store statements blocking the loop and awaited on it (a
    worker with a CPU to spare: kiosk.platform.workers.loop_waits)."""

    @pytest.fixture(params=[False, True], ids=["blocking", "awaited"])
    def client(self, request, any_store, world):
        return client_for(any_store, world, loop_waits=request.param)

    def test_challenge_card_signs_proof_verified(self, client, world):
        challenge = issue(client)
        assert (challenge.provider_id, challenge.terminal_id) == (PROVIDER, TERMINAL)
        assert challenge.issued_at == world.now and challenge.expires_at > world.now
        assert len(challenge.nonce) == 73

        card = JpkiSession(InProcessConnection(VirtualCard(world.card)))
        signed = authenticate(card, "1234", signed_message(PROVIDER, TERMINAL, challenge.nonce))
        proof = UserProof(
            PROVIDER, TERMINAL, challenge.nonce, signed.certificate_der, signed.signature
        )
        verdict = post_proof(client, proof.to_json())
        assert (verdict.ok, verdict.reason) == (True, Reason.OK)
        assert verdict.auth_serial == auth_serial(world)
        assert verdict.issuer_key_id == world.key_id("auth")
        assert (verdict.link_status, verdict.account_ref) == (None, None)

    def test_replayed_proof_is_a_refused_verdict(self, client, world):
        body = proof_json(world, issue(client))
        assert post_proof(client, body).ok
        again = post_proof(client, body)
        assert (again.ok, again.reason) == (False, Reason.CHALLENGE_REPLAYED)

    def test_enrolment_links_then_proof_names_the_account(self, client, any_store, world):
        verdict = post_enrolment(client, application(world, issue(client)))
        assert (verdict.ok, verdict.reason) == (True, Reason.OK), verdict.message
        link = any_store.links.find_by_account(PROVIDER, "patient-42")
        assert link is not None
        assert (link.auth_serial, link.sign_serial) == (verdict.auth_serial, verdict.sign_serial)

        linked = post_proof(client, proof_json(world, issue(client)))
        assert linked.ok
        assert (linked.link_status, linked.account_ref) == (LinkStatus.ACTIVE, "patient-42")
        assert linked.linked_at == link.created_at


# --- refusals are verdicts -----------------------------------------------------------------


def test_wrong_terminal_is_challenge_foreign(client, world):
    challenge = issue(client, terminal="kiosk-1")
    verdict = post_proof(client, proof_json(world, challenge, terminal="kiosk-2"))
    assert (verdict.ok, verdict.reason) == (False, Reason.CHALLENGE_FOREIGN)


def test_bad_signature_is_a_refused_verdict(client, world):
    challenge = issue(client)
    body = proof_json(world, challenge, key=world.sign_key)  # not the auth key
    verdict = post_proof(client, body)
    assert (verdict.ok, verdict.reason) == (False, Reason.BAD_SIGNATURE)


def test_enrolment_with_other_four_info_is_refused_and_links_nothing(client, local, world):
    typed = replace(DEFAULT_PERSON, name="別人\u3000花子")
    verdict = post_enrolment(client, application(world, issue(client), four_info=typed))
    assert (verdict.ok, verdict.reason) == (False, Reason.FOUR_INFO_MISMATCH)
    assert local.links.find_by_account(PROVIDER, "patient-42") is None


def test_re_enrolment_moves_the_link_and_another_account_conflicts(client, local, world):
    assert post_enrolment(client, application(world, issue(client))).ok
    assert post_enrolment(client, application(world, issue(client))).ok  # same account again
    assert local.links.find_by_account(PROVIDER, "patient-42") is not None
    # the same card for another account at the same provider: not an unavailable store
    r = client.post("/v1/enrolments", json=application(world, issue(client), "patient-43"))
    assert_error(r, 401, "unauthorized")  # no token
    r = client.post(
        "/v1/enrolments", json=application(world, issue(client), "patient-43"), headers=AUTH
    )
    assert r.status_code == 200  # a verdict: the card is linked to another account here
    verdict = EnrolmentVerdict.from_json(r.json())
    assert (verdict.ok, verdict.reason) == (False, Reason.LINK_EXISTS)
    assert local.links.find_by_account(PROVIDER, "patient-43") is None
    assert local.links.find_by_account(PROVIDER, "patient-42") is not None


# --- errors --------------------------------------------------------------------------------


def test_health_needs_no_token(client):
    r = client.get("/v1/health")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-known-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
)
@pytest.mark.parametrize("path", ["/v1/challenges", "/v1/proofs", "/v1/enrolments"])
def test_missing_or_unknown_token_is_401(client, headers, path):
    r = client.post(path, json={"provider_id": PROVIDER, "terminal_id": TERMINAL}, headers=headers)
    assert_error(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"] == "Bearer"


def test_token_is_checked_before_the_body(client):
    r = client.post(
        "/v1/proofs", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(r, 401, "unauthorized")


def test_other_providers_body_is_403(client, world):
    r = client.post(
        "/v1/challenges",
        json={"provider_id": PROVIDER, "terminal_id": TERMINAL},
        headers=OTHER_AUTH,
    )
    assert_error(r, 403, "provider_not_allowed")
    challenge = issue(client)
    assert_error(
        client.post("/v1/proofs", json=proof_json(world, challenge), headers=OTHER_AUTH),
        403,
        "provider_not_allowed",
    )
    assert_error(
        client.post("/v1/enrolments", json=application(world, challenge), headers=OTHER_AUTH),
        403,
        "provider_not_allowed",
    )
    # nothing was verified: the challenge is still good for its own provider
    assert post_proof(client, proof_json(world, challenge)).ok


def _proof_with(world, challenge, **changes):
    body = proof_json(world, challenge)
    body.update(changes)
    return body


def _without(body, key):
    return {k: v for k, v in body.items() if k != key}


def _application_with(world, challenge, **doc_changes):
    body = application(world, challenge)
    body["document"].update(doc_changes)
    return body


MALFORMED_PROOFS = {
    "not json": lambda w, c: b"{this is not json",
    "not an object": lambda w, c: [1, 2, 3],
    "missing field": lambda w, c: _without(proof_json(w, c), "signature"),
    "number for string": lambda w, c: _proof_with(w, c, terminal_id=7),
    "null for string": lambda w, c: _proof_with(w, c, certificate=None),
    "bad base64 nonce": lambda w, c: _proof_with(w, c, nonce="@@not base64@@"),
    "bad base64 certificate": lambda w, c: _proof_with(w, c, certificate="abc"),
    "bad base64 signature": lambda w, c: _proof_with(w, c, signature="a b c d"),
}


@pytest.mark.parametrize("make", MALFORMED_PROOFS.values(), ids=MALFORMED_PROOFS.keys())
def test_malformed_proof_is_400_and_uses_nothing_up(client, world, make):
    challenge = issue(client)
    body = make(world, challenge)
    if isinstance(body, bytes):
        r = client.post(
            "/v1/proofs", content=body, headers={**AUTH, "Content-Type": "application/json"}
        )
    else:
        r = client.post("/v1/proofs", json=body, headers=AUTH)
    assert_error(r, 400, "malformed")
    assert post_proof(client, proof_json(world, challenge)).ok


def test_body_not_sent_as_json_is_400(client, world):
    body = json.dumps(proof_json(world, issue(client))).encode()
    r = client.post("/v1/proofs", content=body, headers={**AUTH, "Content-Type": "text/plain"})
    assert_error(r, 400, "malformed")


@pytest.mark.parametrize(
    "body",
    [
        {"provider_id": PROVIDER},
        {"provider_id": PROVIDER, "terminal_id": 1},
        {"provider_id": PROVIDER, "terminal_id": "has space"},
        {"provider_id": PROVIDER, "terminal_id": ""},
        {"provider_id": PROVIDER, "terminal_id": "x" * 65},
        "kiosk-1",
    ],
)
def test_malformed_challenge_request_is_400(client, body):
    assert_error(client.post("/v1/challenges", json=body, headers=AUTH), 400, "malformed")


MALFORMED_APPLICATIONS = {
    "wrong format": lambda w, c: _application_with(w, c, format="jpki-kiosk/enrolment-0"),
    "no four info": lambda w, c: _application_with(w, c, four_info=None),
    "bad birth date": lambda w, c: _application_with(
        w, c, four_info={**application(w, c)["document"]["four_info"], "birth_date": "1980-13-45"}
    ),
    "bad sex": lambda w, c: _application_with(
        w, c, four_info={**application(w, c)["document"]["four_info"], "sex": "x"}
    ),
    "empty account": lambda w, c: _application_with(w, c, account_ref=""),
    "long account": lambda w, c: _application_with(w, c, account_ref="a" * 129),
    "bad base64 nonce": lambda w, c: _application_with(w, c, nonce="%%%"),
    "bad base64 signature": lambda w, c: {**application(w, c), "sign_signature": "!"},
    "no document": lambda w, c: _without(application(w, c), "document"),
}


@pytest.mark.parametrize("make", MALFORMED_APPLICATIONS.values(), ids=MALFORMED_APPLICATIONS.keys())
def test_malformed_application_is_400(client, local, world, make, caplog):
    caplog.set_level(logging.DEBUG)
    r = client.post("/v1/enrolments", json=make(world, issue(client)), headers=AUTH)
    assert_error(r, 400, "malformed")
    assert local.links.find_by_account(PROVIDER, "patient-42") is None
    for secret in (DEFAULT_PERSON.name, DEFAULT_PERSON.address, "1980-13-45"):
        assert secret not in r.text and secret not in caplog.text


def test_unknown_endpoint_is_404(client, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.platform")
    assert_error(client.get("/v1/nothing", headers=AUTH), 404, "not_found")
    assert_error(client.post("/v2/proofs", json={}, headers=AUTH), 404, "not_found")
    assert_error(client.get("/v1/x%0Aforged line"), 404, "not_found")
    assert "GET /v1/x?forged?line provider=- status=404 reason=not_found" in caplog.messages


def test_wrong_method_is_405(client):
    assert_error(client.get("/v1/proofs", headers=AUTH), 405, "method_not_allowed")
    assert_error(client.post("/v1/health"), 405, "method_not_allowed")
    assert_error(client.delete("/v1/challenges", headers=AUTH), 405, "method_not_allowed")


def test_body_over_64_kib_is_413(client, world):
    big = b"{" + b" " * MAX_BODY + b"}"
    r = client.post("/v1/proofs", content=big, headers={**AUTH, "Content-Type": "application/json"})
    assert_error(r, 413, "too_large")
    # the same without a Content-Length (chunked): counted as read
    r = client.post(
        "/v1/proofs",
        content=iter([big[:40000], big[40000:]]),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert_error(r, 413, "too_large")
    # a lying Content-Length is not believed either
    r = client.post(
        "/v1/proofs",
        content=iter([big]),
        headers={**AUTH, "Content-Type": "application/json", "Content-Length": "10"},
    )
    assert_error(r, 413, "too_large")


def test_body_of_exactly_64_kib_is_read(client, world):
    body = proof_json(world, issue(client))
    raw = json.dumps(body).encode()
    padded = raw[:-1] + b" " * (MAX_BODY - len(raw)) + b"}"
    assert len(padded) == MAX_BODY
    r = client.post(
        "/v1/proofs", content=padded, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert r.status_code == 200 and r.json()["ok"] is True, r.text


class FailingStore:
    """A verification store whose database went away (the store's own error)."""

    def __init__(self, store):
        self._store = store

    def __getattr__(self, name):
        return getattr(self._store, name)

    def proof_context(self, *args):
        raise StoreError("the database is unavailable (OperationalError)")


def test_failing_verification_store_is_503(local, world):
    verifier = Verifier(world.trust, FailingStore(SqlVerificationStore(local.db)), local.challenges)
    client = client_for(local, world, verifier=verifier)
    r = client.post("/v1/proofs", json=proof_json(world, issue(client)), headers=AUTH)
    assert_error(r, 503, "unavailable")


@pytest.mark.parametrize("loop_waits", [False, True], ids=["blocking", "awaited"])
def test_unreachable_database_is_503(local, world, loop_waits):
    # a real verification store over a PostgreSQL address nobody listens on
    gone = Database("postgresql://kiosk@127.0.0.1:9/nowhere")
    verifier = Verifier(world.trust, SqlVerificationStore(gone), local.challenges)
    client = client_for(local, world, verifier=verifier, loop_waits=loop_waits, db=gone)
    try:
        r = client.post("/v1/proofs", json=proof_json(world, issue(client)), headers=AUTH)
    finally:
        gone.dispose()
    assert_error(r, 503, "unavailable")


class FailingEnrolments:
    """The verifier of `local`, whose store fails when an enrolment is recorded."""

    def __init__(self, verifier) -> None:
        self._verifier = verifier

    def verify_user_proof(self, proof, now, action="user_proof"):
        return self._verifier.verify_user_proof(proof, now, action)

    def verify_enrolment(self, application, now):
        raise StoreError("the database is unavailable (OperationalError)")


def test_store_failure_while_enrolling_is_503(local, world):
    client = client_for(local, world, verifier=FailingEnrolments(local.verifier))
    r = client.post("/v1/enrolments", json=application(world, issue(client)), headers=AUTH)
    assert_error(r, 503, "unavailable")


class BrokenVerifier:
    def verify_user_proof(self, proof, now, action="user_proof"):
        raise RuntimeError(f"bug with {proof.certificate[:4]!r}")

    def verify_enrolment(self, application, now):
        raise KeyError(application.four_info.name)


def test_unexpected_exception_is_500_without_traceback_or_body(local, world, caplog):
    caplog.set_level(logging.DEBUG)
    client = client_for(local, world, verifier=BrokenVerifier())
    r = client.post("/v1/proofs", json=proof_json(world, issue(client)), headers=AUTH)
    assert_error(r, 500, "internal")
    r = client.post("/v1/enrolments", json=application(world, issue(client)), headers=AUTH)
    assert_error(r, 500, "internal")
    assert DEFAULT_PERSON.name not in r.text and DEFAULT_PERSON.name not in caplog.text
    assert "Traceback" not in caplog.text
    assert any("unexpected KeyError" in m for m in caplog.messages)


# --- logs, schema, configuration -----------------------------------------------------------


def test_outcomes_are_logged_without_bodies_or_four_info(client, world, caplog):
    caplog.set_level(logging.DEBUG)
    challenge = issue(client)
    body = application(world, challenge)
    assert post_enrolment(client, body).ok
    client.post("/v1/proofs", json=proof_json(world, challenge), headers=OTHER_AUTH)
    client.get("/v1/health")

    lines = [r.getMessage() for r in caplog.records if r.name.startswith("kiosk.platform")]
    assert "POST /v1/challenges provider=demo-clinic status=201 reason=issued" in lines
    assert "POST /v1/enrolments provider=demo-clinic status=200 reason=ok" in lines
    assert "POST /v1/proofs provider=demo-shop status=403 reason=provider_not_allowed" in lines
    assert "GET /v1/health provider=- status=200 reason=-" in lines
    info = DEFAULT_PERSON
    for secret in (
        info.name,
        info.address,
        info.birth_date.isoformat(),
        body["sign_signature"],
        body["document"]["nonce"],
        TOKEN,
    ):
        assert secret not in caplog.text


def test_openapi_documents_the_endpoints_and_bodies(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert (spec["info"]["title"], spec["info"]["version"]) == ("jpki-kiosk platform", "1")
    paths = spec["paths"]
    assert set(paths) == {"/v1/health", "/v1/challenges", "/v1/proofs", "/v1/enrolments"}
    schemas = spec["components"]["schemas"]

    def request_schema(path):
        ref = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return schemas[ref.rsplit("/", 1)[1]]

    assert set(request_schema("/v1/challenges")["required"]) == {"provider_id", "terminal_id"}
    assert set(request_schema("/v1/proofs")["required"]) == set(UserProof.__dataclass_fields__)
    enrolment = request_schema("/v1/enrolments")
    assert {"document", "sign_certificate", "sign_signature"} <= set(enrolment["required"])

    def response_schema(path, status="200"):
        content = paths[path]["post"]["responses"][status]["content"]["application/json"]
        return schemas[content["schema"]["$ref"].rsplit("/", 1)[1]]

    verdict = Verdict(True, Reason.OK, "", datetime.now())
    assert set(response_schema("/v1/proofs")["properties"]) == set(verdict.to_json())
    enrolled = EnrolmentVerdict(True, Reason.OK, "", datetime.now())
    assert set(response_schema("/v1/enrolments")["properties"]) == set(enrolled.to_json())
    assert set(response_schema("/v1/challenges", "201")["properties"]) == {
        "nonce",
        "provider_id",
        "terminal_id",
        "issued_at",
        "expires_at",
    }
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for status in ("400", "401", "403", "413", "503", "500"):
        assert status in paths["/v1/proofs"]["post"]["responses"]


# --- from the configuration ----------------------------------------------------------------


def test_app_from_config_imports_crls_and_verifies(world, tmp_path, monkeypatch):
    crl_dir = tmp_path / "crl"
    crl_dir.mkdir()
    for which in ("auth", "sign"):
        (crl_dir / f"{which}.crl").write_bytes(world.crl(which))
    cfg = settings(world, tmp_path, platform_tokens=TOKENS)
    disposed = []
    monkeypatch.setattr(Database, "dispose", lambda db: disposed.append(db.url))
    with TestClient(app_from_config(cfg)) as client:
        challenge = issue(client)
        verdict = post_proof(client, proof_json(world, challenge))
        assert disposed == []
    assert (verdict.ok, verdict.reason) == (True, Reason.OK)  # CRLs were put in force
    assert disposed == [cfg.effective_database_url]  # the store closes with the server


@pytest.mark.parametrize(
    ("tokens", "words"),
    [
        ("demo-clinic", "platform_tokens: must be a table"),
        ({PROVIDER: "abc"}, f"platform_tokens.{PROVIDER}: must be 64 hex digits"),
        ({PROVIDER: "g" * 64}, f"platform_tokens.{PROVIDER}: must be 64 hex digits"),
        ({PROVIDER: 12}, f"platform_tokens.{PROVIDER}: must be a string"),
        ({PROVIDER: {"sha256": sha256_hex(TOKEN)}}, f"platform_tokens.{PROVIDER}: must be a str"),
        ({"not an id": sha256_hex(TOKEN)}, 'platform_tokens."not an id": unknown key'),
        (
            {PROVIDER: sha256_hex(TOKEN), OTHER: sha256_hex(TOKEN).upper()},
            f"platform_tokens.{OTHER}: the same token as {PROVIDER}",
        ),
    ],
)
def test_a_malformed_token_table_is_refused_when_it_loads(world, tmp_path, tokens, words):
    with pytest.raises(ConfigError, match=None) as e:
        settings(world, tmp_path, platform_tokens=tokens)
    assert words in str(e.value)


@pytest.mark.parametrize("tokens", [None, {}])
def test_a_platform_without_provider_tokens_takes_terminal_credentials_alone(
    world, tmp_path, tokens
):
    from kiosk.store.credentials import TerminalCredentials

    cfg = settings(world, tmp_path, **({} if tokens is None else {"platform_tokens": tokens}))
    with TestClient(app_from_config(cfg)) as http:
        ids = {"provider_id": PROVIDER, "terminal_id": TERMINAL}
        unknown = http.post("/v1/challenges", json=ids, headers={"Authorization": "Bearer x"})
        assert (unknown.status_code, unknown.json()["error"]) == (401, "unauthorized")
        db = Database(cfg.effective_database_url)
        try:
            _, token = TerminalCredentials(db).issue(TERMINAL, [PROVIDER], world.now)
        finally:
            db.dispose()
        issued = http.post("/v1/challenges", json=ids, headers={"Authorization": f"Bearer {token}"})
        assert issued.status_code == 201
