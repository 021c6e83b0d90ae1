"""The platform's request boundary: every body that is not the JSON the API describes is
`400 malformed` — never a 5xx, never a traceback — and is refused before anything is verified,
so a challenge it names stays good.

The bodies are sent as raw bytes (the hostile shapes a JSON library would not produce): bad
base64, lone surrogates, deep nesting, huge numbers, NaN, duplicate keys, bytes that are not
UTF-8, no body, the wrong content type. A proof's challenge is issued first and used after the
refusal, so "nothing was used up" is checked, not assumed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from enrolment_support import bound_application
from fastapi.testclient import TestClient
from test_verify_support import make_proof

from kiosk import config
from kiosk.local import LocalContext
from kiosk.pki.authority import DEFAULT_PERSON
from kiosk.platform.service import create_app
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.crl import check_crl
from kiosk.verify.ports import IssuedChallenge

pytest_plugins = ["test_verify_support"]

PROVIDER, TERMINAL = "demo-clinic", "kiosk-1"
TOKEN = "clinic-secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {**AUTH, "Content-Type": "application/json"}
SURROGATE = "\ud800"  # a lone high surrogate: a JSON escape that is no Unicode text


@pytest.fixture
def local(world, tmp_path, store_url):
    """A migrated store (SQLite, and PostgreSQL where marked) with the test CRLs in force."""
    cfg = config.from_mapping(
        {
            "data_dir": str(tmp_path / "data"),
            "trust_dir": str(world.pki.trust_dir),
            "crl_dir": str(tmp_path / "crl"),
            "database_url": store_url,
        }
    )
    local = LocalContext.from_config(cfg)
    index = SqlRevocationIndex(local.db)
    for which in ("auth", "sign"):
        index.replace(check_crl(world.crl(which), world.trust, world.now), world.now)
    yield local
    local.db.dispose()


@pytest.fixture
def client(local, world):
    app = create_app(
        verifier=local.verifier,
        challenges=local.challenges,
        tokens={PROVIDER: hashlib.sha256(TOKEN.encode()).hexdigest()},
        clock=lambda: world.now,
    )
    return TestClient(app, raise_server_exceptions=False)


def issue(client) -> IssuedChallenge:
    r = client.post(
        "/v1/challenges", json={"provider_id": PROVIDER, "terminal_id": TERMINAL}, headers=AUTH
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return IssuedChallenge(
        base64.b64decode(body["nonce"]),
        PROVIDER,
        TERMINAL,
        datetime.fromisoformat(body["issued_at"]),
        datetime.fromisoformat(body["expires_at"]),
    )


def application(world, challenge) -> dict[str, Any]:
    return bound_application(PROVIDER, TERMINAL, challenge.nonce, sign_card=world).to_json()


def raw(value: Any) -> bytes:
    """JSON text as a client might send it: non-ASCII as UTF-8, lone surrogates as escapes."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace")


def with_extra(body: dict[str, Any], extra: str) -> bytes:
    """`body` as JSON text with `extra` (already JSON text, e.g. `"x": NaN`) as a last member."""
    return raw(body)[:-1] + b", " + extra.encode() + b"}"


def assert_malformed(r) -> None:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error", "message"} and body["error"] == "malformed", body
    assert body["message"] and "Traceback" not in r.text


def assert_still_good(client, world, challenge) -> None:
    """The refused request used nothing up: the challenge verifies now."""
    r = client.post("/v1/proofs", json=make_proof(world, challenge).to_json(), headers=AUTH)
    assert r.status_code == 200 and r.json()["ok"] is True, r.text


# --- proofs ----------------------------------------------------------------------------------

Proof = dict[str, Any]


def _proof(**changes: Any) -> Callable[[Proof], bytes]:
    return lambda proof: raw({**proof, **changes})


def _proof_extra(extra: str) -> Callable[[Proof], bytes]:
    return lambda proof: with_extra(proof, extra)


BAD_PROOF_BODIES: dict[str, Callable[[Proof], bytes]] = {
    "non-ASCII in the nonce": lambda p: raw({**p, "nonce": p["nonce"][:-4] + "é" + "AA=="}),
    "non-ASCII in the certificate": _proof(certificate="ＭＩＩ="),
    "non-ASCII in the signature": _proof(signature="AAAA\u3000"),
    "lone surrogate in the provider id": _proof(provider_id=SURROGATE),
    "lone surrogate in the terminal id": _proof(terminal_id=f"kiosk-{SURROGATE}"),
    "lone surrogate in the nonce": _proof(nonce=SURROGATE),
    "lone low surrogate in an extra member": _proof(note="\udc00"),
    "lone surrogate as a member name": _proof(**{SURROGATE: "x"}),
    "nesting 30000 deep": lambda p: b"[" * 30000 + b"]" * 30000,
    "nesting deep in an extra member": _proof_extra('"x": ' + "[" * 5000 + "]" * 5000),
    "a 20000-digit number": _proof_extra('"x": ' + "9" * 20000),
    "a number too large for a float": _proof_extra('"x": 1e999'),
    "NaN": _proof_extra('"x": NaN'),
    "Infinity": _proof_extra('"x": -Infinity'),
    "the provider id twice": lambda p: with_extra(
        {**p, "provider_id": "demo-shop"}, f'"provider_id": "{PROVIDER}"'
    ),
    "bytes that are not UTF-8": lambda p: raw(p).replace(b'"kiosk-1"', b'"kiosk-\xff"'),
    "an overlong UTF-8 encoding": lambda p: raw(p).replace(b'"kiosk-1"', b'"kiosk-\xc0\xb1"'),
    "UTF-16": lambda p: json.dumps(p).encode("utf-16"),
    "a byte-order mark": lambda p: b"\xef\xbb\xbf" + raw(p),
    "trailing garbage": lambda p: raw(p) + b" {}",
    "no body": lambda p: b"",
    "only spaces": lambda p: b"   ",
    "null": lambda p: b"null",
    "a list": lambda p: raw([p]),
    "a string": lambda p: b'"proof"',
    "a number for a string": _proof(terminal_id=1),
    "true for a string": _proof(signature=True),
    "a list for a string": _proof(certificate=list("MIIB")),
    "an object for a string": _proof(nonce={"b64": "AAAA"}),
    "null for a string": _proof(provider_id=None),
    "base64 without its padding": _proof(signature="AAAAA"),
    "base64 with padding inside": _proof(signature="AA==AAAA"),
    "url-safe base64": _proof(certificate="-_-_"),
}


@pytest.mark.parametrize("make", BAD_PROOF_BODIES.values(), ids=BAD_PROOF_BODIES.keys())
def test_a_bad_proof_body_is_400_malformed_and_uses_nothing_up(client, world, make):
    challenge = issue(client)
    r = client.post(
        "/v1/proofs", content=make(make_proof(world, challenge).to_json()), headers=JSON
    )
    assert_malformed(r)
    assert_still_good(client, world, challenge)


def test_a_missing_member_is_named_without_its_value(client, world):
    proof = make_proof(world, issue(client)).to_json()
    del proof["signature"]
    r = client.post("/v1/proofs", content=raw(proof), headers=JSON)
    assert_malformed(r)
    assert "'signature'" in r.json()["message"]


def test_the_message_names_no_value(client, world):
    proof = make_proof(world, issue(client)).to_json()
    r = client.post("/v1/proofs", content=raw({**proof, "nonce": "secret-nonce-é"}), headers=JSON)
    assert_malformed(r)
    assert "secret-nonce" not in r.text and "'nonce'" in r.json()["message"]


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_a_body_not_sent_as_utf8_json_is_400_malformed(client, world, content_type):
    challenge = issue(client)
    headers = dict(AUTH) if content_type is None else {**AUTH, "Content-Type": content_type}
    r = client.post(
        "/v1/proofs", content=raw(make_proof(world, challenge).to_json()), headers=headers
    )
    assert_malformed(r)
    assert "Content-Type" in r.json()["message"]
    assert_still_good(client, world, challenge)


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON;charset=UTF-8"]
)
def test_json_declared_as_utf8_is_read(client, world, content_type):
    challenge = issue(client)
    r = client.post(
        "/v1/proofs",
        content=raw(make_proof(world, challenge).to_json()),
        headers={**AUTH, "Content-Type": content_type},
    )
    assert r.status_code == 200 and r.json()["ok"] is True, r.text


def test_extra_members_are_ignored(client, world):
    challenge = issue(client)
    body = {**make_proof(world, challenge).to_json(), "comment": "日本語 ✓", "n": [1, 2.5, None]}
    r = client.post("/v1/proofs", content=raw(body), headers=JSON)
    assert r.status_code == 200 and r.json()["ok"] is True, r.text


# --- challenges ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        raw({"provider_id": SURROGATE, "terminal_id": TERMINAL}),
        raw({"provider_id": PROVIDER, "terminal_id": TERMINAL + SURROGATE}),
        raw({"provider_id": PROVIDER, "terminal_id": "端末"}),
        with_extra({"provider_id": PROVIDER, "terminal_id": TERMINAL}, '"x": NaN'),
        b'{"provider_id": "demo-clinic", "terminal_id": "kiosk-1", "terminal_id": "kiosk-2"}',
        b'{"provider_id": "demo-clinic", "terminal_id": "\xe3\x81"}',
        b"",
    ],
    ids=[
        "surrogate provider",
        "surrogate terminal",
        "non-ASCII id",
        "NaN",
        "twice",
        "bad UTF-8",
        "empty",
    ],
)
def test_a_bad_challenge_request_is_400_malformed(client, body):
    assert_malformed(client.post("/v1/challenges", content=body, headers=JSON))


# --- enrolments ------------------------------------------------------------------------------

Application = dict[str, Any]


def _in_document(**changes: Any) -> Callable[[Application], bytes]:
    return lambda a: raw({**a, "document": {**a["document"], **changes}})


def _in_four_info(**changes: Any) -> Callable[[Application], bytes]:
    def change(a: Application) -> bytes:
        four_info = {**a["document"]["four_info"], **changes}
        return raw({**a, "document": {**a["document"], "four_info": four_info}})

    return change


def _in_auth_proof(**changes: Any) -> Callable[[Application], bytes]:
    return lambda a: raw({**a, "auth_proof": {**a["auth_proof"], **changes}})


BAD_APPLICATIONS: dict[str, Callable[[Application], bytes]] = {
    "surrogate in the name": _in_four_info(name=f"試験{SURROGATE}太郎"),
    "surrogate in the address": _in_four_info(address=SURROGATE),
    "surrogate in the birth date": _in_four_info(birth_date=SURROGATE),
    "surrogate in the sex": _in_four_info(sex=SURROGATE),
    "surrogate in the account": _in_document(account_ref=f"patient-{SURROGATE}"),
    "surrogate in the provider id": _in_document(provider_id=SURROGATE),
    "surrogate in the terminal id": _in_document(terminal_id=SURROGATE),
    "surrogate in the format": _in_document(format=SURROGATE),
    "surrogate in the nonce": _in_document(nonce=SURROGATE),
    "surrogate in the auth proof": _in_auth_proof(terminal_id=SURROGATE),
    "surrogate in the signature": lambda a: raw({**a, "sign_signature": SURROGATE}),
    "non-ASCII in the signature": lambda a: raw({**a, "sign_signature": "é"}),
    "non-ASCII in the certificate": lambda a: raw({**a, "sign_certificate": "ＭＩＩ="}),
    "non-ASCII in the document nonce": _in_document(nonce="ñ"),
    "non-ASCII in the auth proof's nonce": _in_auth_proof(nonce="ñ"),
    "a blank name": _in_four_info(name="\u3000 "),
    "an address too long": _in_four_info(address="テ" * 1000),
    "a birth date that is no date": _in_four_info(birth_date="1980-02-30"),
    "a birth date as a number": _in_four_info(birth_date=19800217),
    "four info as a list": _in_document(four_info=["試験", "テスト"]),
    "the auth proof as a string": lambda a: raw({**a, "auth_proof": "proof"}),
    "the document twice": lambda a: with_extra(a, '"document": {}'),
    "NaN in the document": lambda a: raw(a).replace(b'"patient-42"', b"NaN"),
    "bytes that are not UTF-8 in the name": lambda a: raw(a).replace("試験".encode(), b"\xe8\xa9"),
}


@pytest.mark.parametrize("make", BAD_APPLICATIONS.values(), ids=BAD_APPLICATIONS.keys())
def test_a_bad_application_is_400_malformed_and_links_nothing(client, local, world, make, caplog):
    caplog.set_level(logging.DEBUG)
    challenge = issue(client)
    r = client.post("/v1/enrolments", content=make(application(world, challenge)), headers=JSON)
    assert_malformed(r)
    assert local.links.find_by_account(PROVIDER, "patient-42") is None
    for secret in (DEFAULT_PERSON.name, DEFAULT_PERSON.address, "試験"):
        assert secret not in r.text and secret not in caplog.text
    assert_still_good(client, world, challenge)


def test_a_good_application_sent_as_raw_utf8_enrols(client, local, world):
    r = client.post("/v1/enrolments", content=raw(application(world, issue(client))), headers=JSON)
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
    assert local.links.find_by_account(PROVIDER, "patient-42") is not None
