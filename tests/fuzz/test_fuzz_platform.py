"""Fuzz the platform's three POST endpoints with JSON bodies: no 5xx, only documented answers,
no accepted malformed proof, and no refused good one.

Each case starts from a real request — a challenge request, a user proof signed by the test
card's authentication key, an enrolment application made as the kiosk makes it — and applies
one mutation. To a field: the wrong type, missing, any Unicode text (lone surrogates
included), non-ASCII or another character in base64, the bytes behind base64 changed (DER
inside a well-formed body), a certificate replaced by one its CA signed with a field
cryptography refuses on access (a duplicated extension, version 6, a name that is not its
string type, an unknown signature algorithm, a negative serial, an unknown critical
extension), an extra member, another JSON spelling. Or to the JSON text or the request: a
duplicate name, NaN, a huge number, deep nesting, bytes that are not UTF-8, a cut, a
byte-order mark, trailing bytes, another content type, not an object.

The fields (names, nesting, required, bytes or date or text, lengths and patterns) are read
from the platform's own request models, so a field added to the API is mutated and checked
too; the values are read by this harness's strict rules (`meaning`), not by the models.

What each case asserts:
- the status is one the API documents for that endpoint, an error has the documented shape;
- what the strict reading finds malformed, and every change to the JSON text, is
  `400 malformed` (nothing verified);
- a verdict that is ok carries exactly the values that were signed;
- a request that means what was signed (an extra member, another spelling) is accepted.

The ASGI app runs in-process over one SQLite store for the whole harness: httpx's ASGI
transport on one event loop that lives as long as the harness, as uvicorn's does (starlette's
TestClient costs a thread hop per ASGI message). 10,000 cases take about 25 s.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from der_support import UNKNOWN_ALG, cert_with, extension
from enrolment_support import CardKeys, bound_application, signer
from hypothesis import event, example, given
from hypothesis import strategies as st
from pydantic import BaseModel

from fuzz.budget import FUZZ
from kiosk import config
from kiosk.local import LocalContext, import_crls
from kiosk.pki.authority import TestPki
from kiosk.pki.cardfile import CardFile
from kiosk.platform.schema import (
    ChallengeRequest,
    EnrolmentBody,
    EnrolmentDocument,
    UserProofBody,
)
from kiosk.platform.service import create_app
from kiosk.verify.profile import MAX_ADDRESS_LENGTH
from kiosk.verify.proof import UserProof, signed_message

pytestmark = pytest.mark.fuzz

PROVIDER, TERMINAL = "demo-clinic", "kiosk-1"
TOKEN = "fuzz-token"
ENDPOINTS = ("/v1/challenges", "/v1/proofs", "/v1/enrolments")
#: Every status the API documents for a POST of these endpoints with a good token, a body
#: under 64 KiB read whole, no peer and a working store (docs/platform-api.md).
DOCUMENTED = {
    "/v1/challenges": {201, 400, 403},
    "/v1/proofs": {200, 400, 403},
    "/v1/enrolments": {200, 400, 403},
}
ERROR_CODES = {400: "malformed", 403: "provider_not_allowed"}  # the body names another provider
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
    card: CardKeys
    clock: Clock
    used: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ("auth" or "sign", a HOSTILE change) -> the card's certificate so changed, in base64
    hostile: dict[tuple[str, str], str] = field(default_factory=dict)

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

    def _nonce(self) -> bytes:
        return self.local.challenges.issue(PROVIDER, TERMINAL, self.clock.tick()).nonce

    def _proof(self) -> UserProof:
        nonce = self._nonce()
        signature = signer(self.card.auth_key)(signed_message(PROVIDER, TERMINAL, nonce))
        return UserProof(PROVIDER, TERMINAL, nonce, self.card.auth_cert, signature)

    def _application(self) -> dict[str, Any]:
        nonce = self._nonce()
        return bound_application(PROVIDER, TERMINAL, nonce, sign_card=self.card).to_json()


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
        platform = Platform(client, portal, local, CardKeys.of(card_file), clock)
        for kind, slot in (("auth", card_file.auth), ("sign", card_file.sign)):
            for name, change in HOSTILE.items():
                der = cert_with(slot.certificate, test_pki.ca_key(kind), **change)
                platform.hostile[kind, name] = base64.b64encode(der).decode("ascii")
        yield platform


# --- the strict reading: what a body means, or None when it is malformed ---------------------
# The fields (names, nesting, required or not, bytes or date or text) come from the platform's
# request models, so a field added to the API is read here too; the values are read by this
# harness's own strict rules, not by the models.

_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_SURROGATE = re.compile("[\ud800-\udfff]")
MODELS: dict[str, type[BaseModel]] = {
    "/v1/challenges": ChallengeRequest,
    "/v1/proofs": UserProofBody,
    "/v1/enrolments": EnrolmentBody,
}


class Malformed(Exception):
    pass


def _kinds(annotation: Any) -> tuple[set[Any], list[Any]]:
    """The types a field's annotation allows (Annotated and Optional unwrapped), and the
    literal values when it is a Literal."""
    if get_origin(annotation) is Annotated:
        return _kinds(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        kinds: set[Any] = set()
        literals: list[Any] = []
        for member in get_args(annotation):
            more, values = _kinds(member)
            kinds |= more
            literals += values
        return kinds, literals
    if get_origin(annotation) is Literal:
        return {str}, list(get_args(annotation))
    return {annotation}, []


def _read(model: type[BaseModel], obj: Any) -> tuple[Any, ...]:
    """A model's fields as this harness reads them (members the model does not name are
    ignored, as the platform ignores them)."""
    if not isinstance(obj, dict):
        raise Malformed(model.__name__)
    values = []
    for name, info in model.model_fields.items():
        if name not in obj:
            if info.is_required():
                raise Malformed(name)
            values.append(info.default)
            continue
        values.append(_value(name, info, obj[name]))
    return tuple(values)


def _value(name: str, info: Any, value: Any) -> Any:
    kinds, literals = _kinds(info.annotation)
    if value is None and type(None) in kinds:
        return None
    nested = [k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)]
    if nested:
        return _read(nested[0], value)
    if not isinstance(value, str):
        raise Malformed(name)
    if bytes in kinds:
        if _BASE64.fullmatch(value) is None:
            raise Malformed(name)
        return base64.b64decode(value, validate=True)
    if date in kinds:
        try:
            return date.fromisoformat(value)
        except ValueError as e:
            raise Malformed(name) from e
    if literals and value not in literals:
        raise Malformed(name)
    for rule in info.metadata:  # min_length, max_length, pattern (^…$, anchored at the ends)
        shortest, longest = getattr(rule, "min_length", None), getattr(rule, "max_length", None)
        if (shortest is not None and len(value) < shortest) or (
            longest is not None and len(value) > longest
        ):
            raise Malformed(name)
        pattern = getattr(rule, "pattern", None)
        if pattern is not None and re.fullmatch(pattern.strip("^$"), value) is None:
            raise Malformed(name)
    return value


def _fits_the_profile(endpoint: str, read: tuple[Any, ...]) -> None:
    """The one rule no field states: the 4 info as the certificate profile allows."""
    if endpoint == "/v1/enrolments":
        name, address, *_ = read[0][list(EnrolmentDocument.model_fields).index("four_info")]
        if not name.strip() or not address.strip() or len(address) > MAX_ADDRESS_LENGTH:
            raise Malformed("four_info")


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
        read = _read(MODELS[endpoint], obj)
        _fits_the_profile(endpoint, read)
    except Malformed:
        return None
    return read


def _bytes_fields(model: type[BaseModel]) -> set[str]:
    names = set()
    for name, info in model.model_fields.items():
        kinds, _ = _kinds(info.annotation)
        if bytes in kinds:
            names.add(name)
        for kind in kinds:
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                names |= _bytes_fields(kind)
    return names


#: The names of the fields that carry bytes (in base64), in any of the requests.
BASE64_FIELDS = set().union(*(_bytes_fields(model) for model in MODELS.values()))


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


#: Mutations of a field (what they lead to is the strict reading's answer: malformed -> 400
#: malformed; the same meaning -> accepted when fresh; another meaning -> never ok).
FIELD_KINDS = (
    "none",
    "spelling",
    "extra",
    "wrong_type",
    "missing",
    "surrogate",
    "non_ascii_base64",
    "text",
    "base64_char",
    "bytes",
    "hostile_der",
)
#: Mutations of the JSON text or the request: always 400 malformed.
TEXT_KINDS = (
    "duplicate",
    "nan",
    "huge_number",
    "deep",
    "not_utf8",
    "cut",
    "bom",
    "utf16",
    "trailing",
    "content_type",
    "not_object",
)

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
) -> tuple[bytes, str]:
    """The request's bytes and content type after `case`'s mutation of `body` (changed in
    place; `hostile`: certificates to put in a certificate's place)."""
    kind = case.kind
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
    return _mutate_text(case, raw, next(iter(body))), _content_type(case)


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
    # a fresh challenge (a signature or two) wherever the verifier may be reached, so that a
    # changed certificate or signature is judged on its own, not refused as a replay
    body = platform.good(case.endpoint, fresh=case.kind in FIELD_KINDS)
    signed = meaning(case.endpoint, body)
    assert signed is not None  # the harness's good request reads as good
    raw, content_type = mutate(case, body, platform.hostile)
    sent = meaning(case.endpoint, body)
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
    if case.kind in ("surrogate", "non_ascii_base64"):
        assert sent is None  # the strict reading is not more lenient than the API
    if case.kind in TEXT_KINDS or sent is None:
        assert (r.status_code, answer["error"]) == (400, "malformed"), (case, r.text)
    ok = r.status_code == 201 or (r.status_code == 200 and answer["ok"] is True)
    if ok and case.endpoint == "/v1/challenges":  # any terminal of the token's provider
        assert sent is not None and sent[0] == PROVIDER, (case, r.text)
    elif ok:  # never for a body that means anything else than what was signed
        assert sent == signed, (case, r.text)
    elif case.kind in FIELD_KINDS and sent == signed:
        assert ok, (case, r.text)  # the same request, spelt otherwise, is accepted


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
