"""The platform's one wire format: `/openapi.json` describes exactly what is sent.

Every endpoint is called for real (a challenge, verdicts ok and refused, linked and not, every
error the routes answer) and each answer is checked against the schema the app serves for
that endpoint and status: every member the schema requires is there, no member it does not
name, each value of the type, pattern and enumeration it says. The client reads and writes
the same models, and they write the JSON docs/proof-format.md documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_platform_service import (
    AUTH,
    OTHER_AUTH,
    PROVIDER,
    TERMINAL,
    TOKENS,
    application,
    issue,
    open_local,
    proof_json,
)
from test_verify_support import make_proof

from kiosk.platform.client import PlatformRefused, PlatformUnavailable
from kiosk.platform.edge import MAX_BODY, ApiError
from kiosk.platform.schema import (
    ChallengeBody,
    EnrolmentBody,
    EnrolmentVerdictBody,
    UserProofBody,
    VerdictBody,
)
from kiosk.platform.service import create_app
from kiosk.store.errors import StoreError
from kiosk.verify.enrolment import EnrolmentApplication

pytest_plugins = ["test_verify_support"]

_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def problems(value: Any, schema: dict[str, Any], spec: dict[str, Any], at: str = "$") -> list[str]:
    """Where `value` departs from the JSON schema (the subset FastAPI and pydantic emit)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return problems(value, spec["components"]["schemas"][name], spec, at)
    if "anyOf" in schema:
        branches = [problems(value, branch, spec, at) for branch in schema["anyOf"]]
        return [] if any(not b for b in branches) else [f"{at}: fits no branch: {branches}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{at}: {value!r} is not one of {schema['enum']}"]
    if "const" in schema and value != schema["const"]:
        return [f"{at}: {value!r} is not {schema['const']!r}"]
    kind = schema.get("type")
    if kind is None:
        return [f"{at}: the schema says nothing of this value: {schema}"]
    if type(value) is not _TYPES[kind]:  # bool is not an int, an int not a string
        return [f"{at}: {value!r} is not a {kind}"]
    if kind == "string":
        return string_problems(value, schema, at)
    if kind == "object":
        return object_problems(value, schema, spec, at)
    return []


def string_problems(value: str, schema: dict[str, Any], at: str) -> list[str]:
    found = []
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        found.append(f"{at}: {value!r} does not match {schema['pattern']}")
    if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
        found.append(f"{at}: {value!r} has the wrong length")
    return found


def object_problems(
    value: dict[str, Any], schema: dict[str, Any], spec: dict[str, Any], at: str
) -> list[str]:
    properties = schema.get("properties", {})
    found = [f"{at}.{k}: missing" for k in schema.get("required", ()) if k not in value]
    found += [f"{at}.{k}: not in the schema" for k in value if k not in properties]
    for key, member in value.items():
        if key in properties:
            found += problems(member, properties[key], spec, f"{at}.{key}")
    return found


def response_schema(spec: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    responses = spec["paths"][path][method]["responses"]
    return responses[str(status)]["content"]["application/json"]["schema"]


class Recorder:
    """A test client that checks every answer against the app's own `/openapi.json`, and
    notes the statuses it saw in `seen` (shared by the recorders of one test)."""

    def __init__(self, app, seen: set[tuple[str, int]]) -> None:
        self.http = TestClient(app, raise_server_exceptions=False)
        self.spec = self.http.get("/openapi.json").json()
        self.seen = seen

    def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        r = self.http.request(method, path, **kwargs)
        assert r.status_code == status, r.text
        assert r.headers["content-type"] == "application/json"
        body = r.json()
        schema = response_schema(self.spec, path, method.lower(), status)
        assert problems(body, schema, self.spec) == [], (path, status, body)
        self.seen.add((path, status))
        return body


@pytest.fixture
def local(world, tmp_path) -> Iterator[Any]:
    local = open_local(world, tmp_path)
    yield local
    local.db.dispose()


def app_over(local, world, **kw):
    return create_app(
        verifier=kw.pop("verifier", local.verifier),
        challenges=local.challenges,
        tokens=TOKENS,
        clock=lambda: world.now,
        **kw,
    )


class FailingVerifier:
    """A verifier whose store is gone, or that has a bug."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def verify_user_proof(self, proof, now, action="user_proof"):
        raise self.error

    def verify_enrolment(self, application, now):
        raise self.error


class RefusingPeer:
    """A peer platform that refuses (502 here) or cannot be reached (503 here)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def issue(self, provider_id, terminal_id, now):
        raise self.error


CHALLENGE = {"provider_id": PROVIDER, "terminal_id": TERMINAL}


def over_allowance(authorization: str | None) -> Any:
    """Callers whose every credential has spent its allowance (kiosk.platform.ratelimit)."""
    raise ApiError(429, "rate_limited", "Too many requests.", {"Retry-After": "1"})


def test_every_answer_is_what_the_openapi_schema_says(local, world):
    seen: set[tuple[str, int]] = set()
    api = Recorder(app_over(local, world), seen)
    assert api.call("GET", "/v1/health", 200) == {"status": "ok"}

    def challenge():
        api.call("POST", "/v1/challenges", 201, json=CHALLENGE, headers=AUTH)
        return issue(api.http)

    def proof(**kw):
        return proof_json(world, challenge(), **kw)

    refused = api.call("POST", "/v1/proofs", 200, json=proof(key=world.other_key), headers=AUTH)
    assert refused["ok"] is False
    unlinked = api.call("POST", "/v1/proofs", 200, json=proof(), headers=AUTH)
    assert unlinked["ok"] is True and unlinked["link_status"] is None
    body = application(world, challenge())
    enrolled = api.call("POST", "/v1/enrolments", 200, json=body, headers=AUTH)
    assert enrolled["ok"] is True and enrolled["sign_serial"] is not None
    body = application(world, challenge(), account="someone-else")
    assert api.call("POST", "/v1/enrolments", 200, json=body, headers=AUTH)["ok"] is False
    linked = api.call("POST", "/v1/proofs", 200, json=proof(), headers=AUTH)
    assert linked["link_status"] == "active" and linked["linked_at"] is not None

    not_json = AUTH | {"content-type": "application/json"}
    for path in ("/v1/challenges", "/v1/proofs", "/v1/enrolments"):
        api.call("POST", path, 400, content=b"{", headers=not_json)
        api.call("POST", path, 401, json={})
        api.call("POST", path, 413, content=b"x" * (MAX_BODY + 1), headers=not_json)
    api.call("POST", "/v1/challenges", 403, json=CHALLENGE, headers=OTHER_AUTH)
    api.call("POST", "/v1/challenges", 400, json={**CHALLENGE, "terminal_id": "a b"}, headers=AUTH)

    for verifier, status in ((StoreError("gone"), 503), (RuntimeError("bug"), 500)):
        failing = Recorder(app_over(local, world, verifier=FailingVerifier(verifier)), seen)
        failing.call("POST", "/v1/proofs", status, json=proof(), headers=AUTH)
        failing.call(
            "POST", "/v1/enrolments", status, json=application(world, challenge()), headers=AUTH
        )
    for error, status in (
        (PlatformRefused("unauthorized", 401), 502),
        (PlatformUnavailable("down"), 503),
        (PlatformUnavailable("slow", why="timeout"), 504),
        (PlatformUnavailable("loop", status=508, error="relay_loop"), 508),
    ):
        relaying = Recorder(app_over(local, world, peers={PROVIDER: RefusingPeer(error)}), seen)
        relaying.call("POST", "/v1/challenges", status, json=CHALLENGE, headers=AUTH)

    limited = Recorder(app_over(local, world, callers=over_allowance), seen)
    for path in ("/v1/challenges", "/v1/proofs", "/v1/enrolments"):
        limited.call("POST", path, 429, json={}, headers=AUTH)

    declared = {
        int(status)
        for operations in api.spec["paths"].values()
        for operation in operations.values()
        for status in operation["responses"]
        if status.isdigit()
    }
    # every answer the schema declares was given and checked, but 408: its client trickles a
    # body over a real socket (test_platform_http), and its answer is the same ErrorBody
    assert declared - {status for _, status in seen} == {408}


def test_the_schema_declares_no_answer_the_platform_never_gives(local, world):
    spec = Recorder(app_over(local, world), set()).spec
    for operations in spec["paths"].values():
        for operation in operations.values():
            assert "422" not in operation["responses"]  # a body that does not fit is 400
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_the_models_write_what_the_verifier_types_document(local, world):
    """The JSON of docs/proof-format.md (`to_json`) is what the platform's models write, and
    they read it back to the same values: one format, whichever side writes it."""
    challenge = local.challenges.issue(PROVIDER, TERMINAL, world.now)
    proof = make_proof(world, challenge)
    assert UserProofBody.of(proof).wire() == proof.to_json()
    assert UserProofBody.model_validate(proof.to_json()).to_proof() == proof
    body = application(world, challenge)
    parsed = EnrolmentApplication.from_json(body)
    assert EnrolmentBody.of(parsed).wire() == body
    assert EnrolmentBody.model_validate(body).to_application() == parsed
    wire = ChallengeBody.of(challenge).wire()
    assert ChallengeBody.model_validate(wire).to_challenge() == challenge
    verdict = local.verifier.verify_user_proof(proof, world.now)
    assert VerdictBody.of(verdict).wire() == verdict.to_json()
    assert VerdictBody.model_validate(verdict.to_json()).to_verdict() == verdict


def test_enrolment_verdict_round_trips(world):
    from kiosk.verify.verdict import EnrolmentVerdict, Reason

    verdict = EnrolmentVerdict(True, Reason.OK, "Enrolled.", world.now, 0x1A2B, "ab", 7, "cd")
    assert EnrolmentVerdictBody.of(verdict).wire() == verdict.to_json()
    assert EnrolmentVerdictBody.model_validate(verdict.to_json()).to_verdict() == verdict
