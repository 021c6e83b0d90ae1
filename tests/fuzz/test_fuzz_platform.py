"""Fuzz the platform's three POST endpoints with JSON bodies: no 5xx, only documented answers,
no accepted malformed proof, and no refused good one.

Each case starts from a real request — a challenge request, a user proof signed by the test
card's authentication key, an enrolment application signed by its signature key — and applies
one mutation: a field of the wrong type, missing or replaced by any Unicode text (lone
surrogates included); non-ASCII or another character in a base64 field; the bytes behind a
base64 field changed (DER inside a well-formed body), or a certificate replaced by one its CA
signed with a field cryptography refuses on access (a duplicated extension, version 6, a name
that is not its string type, an unknown signature algorithm, a negative serial, an unknown
critical extension); an extra member; or a change to the
JSON text itself (a duplicate name, NaN, a huge number, deep nesting, bytes that are not
UTF-8, a cut, a byte-order mark, another content type). The ASGI app runs in-process over one
SQLite store for the whole harness: httpx's ASGI transport on one event loop that lives as long
as the harness, as uvicorn's does (starlette's TestClient costs a thread hop per ASGI message).

What each case asserts:
- the status is one the API documents for that endpoint, an error has the documented shape;
- a mutation that breaks the JSON or the schema is `400 malformed` (nothing verified);
- a verdict that is ok carries exactly the values that were signed (read strictly here);
- a mutation that keeps the meaning (an extra member, another JSON spelling) of a fresh
  request is accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from der_support import UNKNOWN_ALG, cert_with, extension
from hypothesis import event, example, given
from hypothesis import strategies as st

from fuzz.budget import FUZZ
from kiosk import config
from kiosk.app import import_crls
from kiosk.local import LocalContext
from kiosk.pki.authority import TestPki
from kiosk.pki.cardfile import CardFile
from kiosk.pki.profile import DEFAULT_PERSON
from kiosk.platform.service import create_app
from kiosk.verify.enrolment import EnrolmentApplication, application_document
from kiosk.verify.proof import UserProof, signed_message

pytestmark = pytest.mark.fuzz

PROVIDER, TERMINAL, ACCOUNT = "demo-clinic", "kiosk-1", "patient-42"
TOKEN = "fuzz-token"
ENDPOINTS = ("/v1/challenges", "/v1/proofs", "/v1/enrolments")
#: Every status the API documents for a POST of these endpoints with a good token, a body
#: under 64 KiB read whole, no peer and a working store (docs/platform-api.md).
DOCUMENTED = {
    "/v1/challenges": {201, 400, 403},
    "/v1/proofs": {200, 400, 403},
    "/v1/enrolments": {200, 400, 403},
}
ERROR_CODES = {400: "malformed", 403: "forbidden"}
BASE64_FIELDS = {"nonce", "certificate", "signature", "sign_certificate", "sign_signature"}
#: Changes to a card's certificate (re-signed by its CA) that cryptography parses lazily and
#: refuses on access, or that RFC 5280 forbids (tests/der_support.py's `cert_with`).
HOSTILE: dict[str, dict[str, Any]] = {
    "duplicated extension": {"duplicate_extension": True},
    "version 6": {"version": 5},
    "UTF8String that is not UTF-8": {"subject_cn": (0x0C, b"\xff\xfe")},
    "PrintableString with @": {"subject_cn": (0x13, b"a@b")},
    "unknown signature algorithm": {"algorithm": UNKNOWN_ALG},
    "negative serial": {"serial": -7},
    "unknown critical extension": {
        "add_extension": extension("1.2.3.4", b"\x05\x00", critical=True)
    },
}

Path = tuple[str, ...]


# --- one platform for the whole harness ------------------------------------------------------


def _rsa(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _sign(key: rsa.RSAPrivateKey, message: bytes) -> bytes:
    return key.sign(message, PKCS1v15(), hashes.SHA256())


class Clock:
    """The platform's clock: a millisecond later for each challenge (the store keys verdicts
    by their challenge's expiry, as a real clock spreads them)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@dataclass(repr=False)
class Platform:
    """The app over a SQLite store, and the test card's keys to make good requests with."""

    client: httpx.AsyncClient
    portal: BlockingPortal
    local: LocalContext
    card: CardFile
    clock: Clock
    auth_key: rsa.RSAPrivateKey = field(init=False)
    sign_key: rsa.RSAPrivateKey = field(init=False)
    used: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ("auth" or "sign", a HOSTILE change) -> the card's certificate so changed, in base64
    hostile: dict[tuple[str, str], str] = field(init=False)

    def __post_init__(self) -> None:
        self.auth_key = _rsa(self.card.auth.private_key_pem)
        self.sign_key = _rsa(self.card.sign.private_key_pem)
        self.hostile = {}

    def __repr__(self) -> str:
        return "Platform()"  # not the keys and certificates in a failure report

    def post(self, endpoint: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.portal.call(
            lambda: self.client.post(endpoint, content=content, headers=headers)
        )

    def good(self, endpoint: str, *, fresh: bool) -> dict[str, Any]:
        """A request that verifies: of a challenge nobody used (fresh; it costs a signature or
        two) or the endpoint's last one (its challenge may be used up)."""
        if not fresh and endpoint in self.used:
            return json.loads(json.dumps(self.used[endpoint]))
        if endpoint == "/v1/challenges":
            body: dict[str, Any] = {"provider_id": PROVIDER, "terminal_id": TERMINAL}
        elif endpoint == "/v1/proofs":
            body = self._proof().to_json()
        else:
            body = self._application()
        self.used[endpoint] = body
        return json.loads(json.dumps(body))

    def _proof(self) -> UserProof:
        challenge = self.local.challenges.issue(PROVIDER, TERMINAL, self.clock.tick())
        signature = _sign(self.auth_key, signed_message(PROVIDER, TERMINAL, challenge.nonce))
        return UserProof(PROVIDER, TERMINAL, challenge.nonce, self.card.auth.certificate, signature)

    def _application(self) -> dict[str, Any]:
        proof = self._proof()
        doc = application_document(PROVIDER, TERMINAL, ACCOUNT, DEFAULT_PERSON, proof.nonce)
        return EnrolmentApplication(
            PROVIDER,
            TERMINAL,
            ACCOUNT,
            DEFAULT_PERSON,
            proof.nonce,
            self.card.sign.certificate,
            _sign(self.sign_key, doc),
            proof,
        ).to_json()


@pytest.fixture(scope="module")
def platform(
    test_pki: TestPki, card_file: CardFile, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    where = tmp_path_factory.mktemp("fuzz-platform")
    cfg = config.from_mapping(
        {
            "data_dir": str(where / "data"),
            "trust_dir": str(test_pki.trust_dir),
            "crl_dir": str(test_pki.crl_dir),
        }
    )
    local = LocalContext.from_config(cfg)
    import_crls(cfg, local)  # the test authority's CRLs, in force
    clock = Clock()
    app = create_app(
        verifier=local.verifier,
        challenges=local.challenges,
        tokens={PROVIDER: hashlib.sha256(TOKEN.encode()).hexdigest()},
        clock=clock,
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="http://platform")
    with ExitStack() as stack:
        stack.callback(local.db.dispose)
        portal = stack.enter_context(start_blocking_portal())
        stack.callback(portal.call, client.aclose)
        platform = Platform(client, portal, local, card_file, clock)
        for kind, slot in (("auth", card_file.auth), ("sign", card_file.sign)):
            for name, change in HOSTILE.items():
                der = cert_with(slot.certificate, test_pki.ca_key(kind), **change)
                platform.hostile[kind, name] = base64.b64encode(der).decode("ascii")
        yield platform


# --- the strict reading: what a body means, or None when it is malformed ---------------------

_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_SURROGATE = re.compile("[\ud800-\udfff]")


class Malformed(Exception):
    pass


def _text(obj: Any, key: str) -> str:
    if not isinstance(obj, dict) or not isinstance(obj.get(key), str):
        raise Malformed(key)
    return str(obj[key])


def _bytes(obj: Any, key: str) -> bytes:
    value = _text(obj, key)
    if _BASE64.fullmatch(value) is None:
        raise Malformed(key)
    return base64.b64decode(value, validate=True)


def _proof_meaning(obj: Any) -> tuple[Any, ...]:
    return (
        _text(obj, "provider_id"),
        _text(obj, "terminal_id"),
        *(_bytes(obj, k) for k in ("nonce", "certificate", "signature")),
    )


def _application_meaning(obj: Any) -> tuple[Any, ...]:
    doc = obj.get("document") if isinstance(obj, dict) else None
    info = doc.get("four_info") if isinstance(doc, dict) else None
    name, address, birth = (_text(info, k) for k in ("name", "address", "birth_date"))
    try:
        born = date.fromisoformat(birth)
    except ValueError as e:
        raise Malformed("birth_date") from e
    if not name.strip() or not address.strip() or len(address) > 200:
        raise Malformed("four_info")
    if _text(info, "sex") not in ("male", "female", "unknown"):
        raise Malformed("sex")
    if _text(doc, "format") != "jpki-kiosk/enrolment-1":
        raise Malformed("format")
    if not 1 <= len(_text(doc, "account_ref")) <= 128:
        raise Malformed("account_ref")
    proof = obj.get("auth_proof")
    return (
        *(_text(doc, k) for k in ("provider_id", "terminal_id", "account_ref")),
        name,
        address,
        born,
        info["sex"],
        _bytes(doc, "nonce"),
        _bytes(obj, "sign_certificate"),
        _bytes(obj, "sign_signature"),
        None if proof is None else _proof_meaning(proof),
    )


def _challenge_meaning(obj: Any) -> tuple[Any, ...]:
    ids = (_text(obj, "provider_id"), _text(obj, "terminal_id"))
    if not all(_ID.fullmatch(i) for i in ids):
        raise Malformed("id")
    return ids


MEANINGS: dict[str, Callable[[Any], tuple[Any, ...]]] = {
    "/v1/challenges": _challenge_meaning,
    "/v1/proofs": _proof_meaning,
    "/v1/enrolments": _application_meaning,
}


def _clean(value: Any, depth: int = 0) -> bool:
    """JSON the platform reads at all: no lone surrogate, finite short numbers, not too deep."""
    if isinstance(value, str):
        return _SURROGATE.search(value) is None
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return len(str(abs(value))) <= 40
    if isinstance(value, float):
        return value == value and abs(value) != float("inf")
    if depth >= 32:
        return False
    members = [*value, *value.values()] if isinstance(value, dict) else value
    return all(_clean(m, depth + 1) for m in members)


def meaning(endpoint: str, obj: Any) -> tuple[Any, ...] | None:
    """The values a body carries, read strictly, or None when it is malformed."""
    if not isinstance(obj, dict) or not _clean(obj):
        return None
    try:
        return MEANINGS[endpoint](obj)
    except (Malformed, binascii.Error):
        return None


# --- mutations ---------------------------------------------------------------------------------


def leaves(obj: Any, path: Path = ()) -> list[Path]:
    """The paths of every string in a request (the fields a mutation can aim at)."""
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in leaves(v, (*path, k))]
    return [path] if isinstance(obj, str) else []


def objects(obj: Any, path: Path = ()) -> list[Path]:
    if not isinstance(obj, dict):
        return []
    return [path, *(p for k, v in obj.items() for p in objects(v, (*path, k)))]


def get(obj: Any, path: Path) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def put(obj: Any, path: Path, value: Any) -> None:
    get(obj, path[:-1])[path[-1]] = value


def delete(obj: Any, path: Path) -> None:
    del get(obj, path[:-1])[path[-1]]


any_text = st.text(st.characters(exclude_categories=()), max_size=12)  # surrogates too
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=False, allow_infinity=False),
    any_text,
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=6,
)
wrong_types = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), scalars, max_size=3),
)
non_ascii = st.characters(min_codepoint=0x80, exclude_categories=())
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=())
base64_chars = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


@dataclass(frozen=True)
class Case:
    """One request: an endpoint, a mutation of a good body (`kind` and its arguments)."""

    endpoint: str
    kind: str
    pick: int = 0  # which field or object (modulo how many there are)
    value: Any = None
    at: int = 0  # a position inside a string or a body
    ascii: bool = True  # how the JSON text is written
    indent: int | None = None


#: What each mutation must lead to: "malformed" -> 400 malformed; "keeps" -> the same meaning
#: (a fresh one is accepted); "changes" -> anything documented, never ok unless it means the same.
EXPECT = {
    "none": "keeps",
    "spelling": "keeps",
    "extra": "keeps",  # unless the extra member is itself unreadable (then malformed)
    "wrong_type": "malformed",
    "missing": "malformed",
    "surrogate": "malformed",
    "non_ascii_base64": "malformed",
    "text": "changes",
    "base64_char": "changes",
    "bytes": "changes",
    "hostile_der": "changes",
    "duplicate": "malformed",
    "nan": "malformed",
    "huge_number": "malformed",
    "deep": "malformed",
    "not_utf8": "malformed",
    "cut": "malformed",
    "bom": "malformed",
    "utf16": "malformed",
    "trailing": "malformed",
    "content_type": "malformed",
    "not_object": "malformed",
}

endpoints = st.sampled_from(ENDPOINTS)
picks = st.integers(0, 40)
positions = st.integers(0, 10_000)


def _case(kind: str, value: st.SearchStrategy[Any] = st.none(), **more: Any) -> Any:
    return st.builds(Case, endpoints, st.just(kind), picks, value, positions, **more)


cases = st.one_of(
    _case("none"),
    _case("spelling", ascii=st.booleans(), indent=st.none() | st.integers(0, 2)),
    _case("extra", st.tuples(any_text, junk)),
    _case("wrong_type", wrong_types),
    _case("missing"),
    _case("surrogate", surrogates),
    _case("non_ascii_base64", non_ascii),
    _case("text", any_text),
    _case("base64_char", base64_chars),
    _case("bytes", st.sampled_from(["flip", "cut", "append", "insert", "empty"])),
    _case("hostile_der", st.sampled_from(sorted(HOSTILE))),
    _case("duplicate", junk),
    _case("nan", st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])),
    _case("huge_number", st.integers(41, 5000)),
    _case("deep", st.integers(32, 3000)),
    _case("not_utf8", st.sampled_from([b"\xff", b"\xc0\xaf", b"\xe3\x81", b"\xed\xa0\x80"])),
    _case("cut"),
    _case("bom"),
    _case("utf16"),
    _case("trailing", st.sampled_from([b"x", b"{}", b",", b"]", b"\x00"])),
    _case("content_type", st.sampled_from(["text/plain", "", "application/json; charset=latin-1"])),
    _case("not_object", st.sampled_from([b"null", b"[]", b'"x"', b"1", b"true"])),
)


def mutate(
    case: Case, body: dict[str, Any], hostile: dict[tuple[str, str], str]
) -> tuple[bytes, str, str]:
    """The request's bytes, content type and expectation after `case`'s mutation of `body`
    (`hostile`: certificates to put in a certificate's place)."""
    kind, expect = case.kind, EXPECT[case.kind]
    strings = leaves(body)
    target = strings[case.pick % len(strings)]
    b64 = [p for p in strings if p[-1] in BASE64_FIELDS] or strings
    b64_target = b64[case.pick % len(b64)]
    if kind == "extra":
        name, value = case.value
        where = objects(body)[case.pick % len(objects(body))]
        if name not in get(body, where):  # a new member, not a field replaced
            get(body, where)[name] = value
    elif kind == "wrong_type":
        put(body, target, case.value)
    elif kind == "missing":
        delete(body, target)
    elif kind == "surrogate":
        text = get(body, target)
        at = case.at % (len(text) + 1)
        put(body, target, text[:at] + case.value + text[at:])
    elif kind == "non_ascii_base64":
        text = get(body, b64_target)
        at = case.at % (len(text) + 1)
        put(body, b64_target, text[:at] + case.value + text[at:])
    elif kind == "text":
        put(body, target, case.value)
    elif kind == "base64_char":
        text = get(body, b64_target)
        at = case.at % max(len(text), 1)
        put(body, b64_target, text[:at] + case.value + text[at + 1 :])
    elif kind == "hostile_der":
        certificates = [p for p in strings if p[-1] in ("certificate", "sign_certificate")]
        if certificates:  # not in a challenge request
            where = certificates[case.pick % len(certificates)]
            put(
                body,
                where,
                hostile["sign" if where[-1] == "sign_certificate" else "auth", case.value],
            )
    elif kind == "bytes":
        put(body, b64_target, _changed_base64(get(body, b64_target), case.value, case.at))
    text = json.dumps(body, ensure_ascii=case.ascii, indent=case.indent)
    raw = text.encode("utf-8", "surrogatepass")  # a raw lone surrogate is not UTF-8 either
    return _mutate_text(case, raw, next(iter(body))), _content_type(case), expect


def _changed_base64(value: str, how: str, at: int) -> str:
    """The bytes behind `value` changed (flipped, cut, lengthened, emptied), in base64."""
    try:
        data = bytearray(base64.b64decode(value, validate=True))
    except binascii.Error:  # an id of a challenge request: its UTF-8
        data = bytearray(value.encode())
    i = at % max(len(data), 1)
    if how == "flip" and data:
        data[i] ^= 1 << (at % 8)
    elif how == "cut":
        del data[i:]
    elif how == "append":
        data += bytes([at % 256])
    elif how == "insert":
        data.insert(i, at % 256)
    else:
        data.clear()
    return base64.b64encode(bytes(data)).decode("ascii")


def _mutate_text(case: Case, raw: bytes, name: str) -> bytes:
    """The JSON text changed (`name` is its first member's)."""
    kind, value = case.kind, case.value
    if kind == "duplicate":
        member = json.dumps(name).encode() + b": " + json.dumps(value).encode()
        return raw[: raw.rindex(b"}")] + b", " + member + b"}"
    if kind in ("nan", "huge_number", "deep"):
        if kind == "nan":
            number = value.encode()
        elif kind == "huge_number":
            number = b"9" * value
        else:
            number = b"[" * value + b"]" * value
        return raw[: raw.rindex(b"}")] + b', "zz": ' + number + b"}"
    if kind == "not_utf8":
        quote = raw.index(b'"', raw.index(b":"))  # inside the first string value
        return raw[: quote + 1] + value + raw[quote + 1 :]
    if kind == "cut":
        return raw[: case.at % (len(raw) - 1)]
    if kind == "bom":
        return b"\xef\xbb\xbf" + raw
    if kind == "utf16":
        return raw.decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass")
    if kind == "trailing":
        return raw + value
    if kind == "not_object":
        return value
    return raw


def _content_type(case: Case) -> str:
    return case.value if case.kind == "content_type" else "application/json"


# --- the harness -----------------------------------------------------------------------------


def check(platform: Platform, case: Case) -> None:
    # a fresh challenge (a signature or two) wherever the verifier is reached, so that a
    # changed certificate or signature is judged on its own, not refused as a replay
    fresh = EXPECT[case.kind] != "malformed"
    body = platform.good(case.endpoint, fresh=fresh)
    signed = meaning(case.endpoint, body)
    raw, content_type, expect = mutate(case, body, platform.hostile)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if content_type:
        headers["Content-Type"] = content_type
    r = platform.post(case.endpoint, raw, headers)

    assert r.status_code in DOCUMENTED[case.endpoint], (r.status_code, r.text)
    answer = r.json()
    event(f"{case.endpoint} {r.status_code} {answer.get('reason') or answer.get('error', '')}")
    if r.status_code >= 400:
        assert set(answer) == {"error", "message"}, answer
        assert answer["error"] == ERROR_CODES[r.status_code], answer
        assert "Traceback" not in r.text
    sent = meaning(case.endpoint, body)
    if expect == "keeps" and sent is None:
        expect = "malformed"  # an extra member the platform cannot read
    if expect == "malformed":
        assert (r.status_code, answer["error"]) == (400, "malformed"), (case, r.text)
    ok = r.status_code == 201 or (r.status_code == 200 and answer["ok"] is True)
    if ok and case.endpoint == "/v1/challenges":  # any terminal of the token's provider
        assert sent is not None and sent[0] == PROVIDER, (case, r.text)
    elif ok:  # never for a body that means anything else than what was signed
        assert sent is not None and sent == signed, (case, r.text)
    if expect == "keeps" and sent == signed:
        assert ok, (case, r.text)


@FUZZ
@given(case=cases)
@example(case=Case("/v1/proofs", "non_ascii_base64", pick=2, value="é"))
@example(case=Case("/v1/proofs", "surrogate", pick=0, value="\ud800"))
@example(case=Case("/v1/enrolments", "surrogate", pick=6, value="\ud800"))
@example(case=Case("/v1/enrolments", "surrogate", pick=1, value="\udfff", ascii=False))
@example(case=Case("/v1/proofs", "duplicate", value="demo-shop"))
@example(case=Case("/v1/proofs", "deep", value=3000))
@example(case=Case("/v1/challenges", "huge_number", value=5000))
@example(case=Case("/v1/enrolments", "extra", pick=3, value=("x", [1.5, None, "日本"])))
def test_platform_bodies(platform: Platform, case: Case) -> None:
    check(platform, case)
