"""Fuzz the DER boundary: mutated certificates into the certificate checks and the verifier's
proof and enrolment paths, mutated CRLs into the in-memory CRL check and the store's import.

Inputs are the test PKI's real certificates and CRLs, mutated (bytes flipped, inserted,
deleted, spliced; extensions duplicated, dropped or made critical) either as they are — the
signature then breaks, which tests the decoding — or inside the signed part and signed again
by the real CA, which takes them past the signature into the rules. Every harness asserts:
a typed refusal or an acceptance, never another exception; and an accepted input is one
`cryptography` decodes completely, whose signature verifies, and that the RFC 5280 rules allow.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from der_support import (
    EXPLICIT_0,
    SEQUENCE,
    children,
    content,
    der_of,
    extension,
    sign,
    tlv,
)
from hypothesis import event, example, given
from hypothesis import strategies as st

from fuzz.budget import FUZZ
from kiosk.demo.verification import MemoryVerificationStore
from kiosk.pki.authority import DEFAULT_PERSON, Revocation, TestPki, make_crl
from kiosk.pki.cardfile import CardFile
from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify import rules
from kiosk.verify.certcheck import CertificateValidator
from kiosk.verify.challenge import ChallengeService
from kiosk.verify.crl import check_crl, verify_crl_in
from kiosk.verify.der import touch_certificate
from kiosk.verify.enrolment import (
    EnrolmentApplication,
    application_document,
    auth_binding_message,
    certificate_digest,
)
from kiosk.verify.profile import ProfileError, parse_basic_four
from kiosk.verify.proof import UserProof, signed_message
from kiosk.verify.trust import KeyPurpose, TrustStore, subject_key_id
from kiosk.verify.verdict import Reason, Refused
from kiosk.verify.verifier import Verifier

pytestmark = [
    pytest.mark.fuzz,
    # cryptography warns (and reads on) when a countryName is not two letters
    pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning"),
]

PROVIDER, TERMINAL = "demo-clinic", "kiosk-1"


@dataclass(frozen=True)
class World:
    """The session's test PKI and card, as the fuzz harnesses use them."""

    pki: TestPki
    trust: TrustStore
    now: datetime
    auth_cert: bytes
    sign_cert: bytes
    auth_key: rsa.RSAPrivateKey
    sign_key: rsa.RSAPrivateKey

    def ca(self, which: str) -> x509.Certificate:
        return self.pki.ca_certificate(which)

    def key_id(self, which: str) -> str:
        return subject_key_id(self.ca(which))

    def crl(self, which: str) -> bytes:
        return der_of(
            make_crl(
                self.ca(which),
                self.pki.ca_key(which),
                [],
                this_update=self.now - timedelta(hours=1),
                next_update=self.now + timedelta(days=1),
                number=7,
            )
        )


def _private(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@pytest.fixture(scope="module")
def world(test_pki: TestPki, card_file: CardFile) -> World:
    return World(
        test_pki,
        TrustStore.from_dir(test_pki.trust_dir),
        datetime.now(UTC).replace(microsecond=0),
        card_file.auth.certificate,
        card_file.sign.certificate,
        _private(card_file.auth.private_key_pem),
        _private(card_file.sign.private_key_pem),
    )


# --- mutations ----------------------------------------------------------------------------

_offset = st.integers(0, 1 << 16)
_byte_ops = st.one_of(
    st.tuples(st.just("flip"), _offset, st.integers(1, 255)),
    st.tuples(st.just("insert"), _offset, st.binary(min_size=1, max_size=4)),
    st.tuples(st.just("delete"), _offset, st.integers(1, 8)),
    st.tuples(st.just("splice"), _offset, st.integers(1, 40), _offset),
    st.tuples(st.just("truncate"), _offset),
)
_ext_ops = st.tuples(st.sampled_from(["dup_ext", "drop_ext", "critical_ext"]), _offset)
#: Tags a TLV may be changed to: strings of every type, times, the universal basics, contexts.
_TAGS = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0A, 0x0C, 0x13, 0x14, 0x16, 0x17, 0x18, 0x1E]
_TAGS += [0x30, 0x31, 0x80, 0x81, 0xA0, 0xA3]
_tlv_ops = st.one_of(
    st.tuples(st.just("retag"), _offset, st.sampled_from(_TAGS)),
    st.tuples(st.just("recontent"), _offset, _byte_ops),
    st.tuples(st.just("duplicate"), _offset),
    st.tuples(st.just("remove"), _offset),
)
#: What one case does: the mutations, and whether they go inside the signed part (signed
#: again by the real CA) or onto the finished DER.
mutations = st.tuples(
    st.lists(st.one_of(_byte_ops, _ext_ops, _tlv_ops), min_size=1, max_size=3), st.booleans()
)


def mutate_bytes(data: bytes, op: tuple) -> bytes:
    if not data:
        return data
    kind, at = op[0], op[1] % len(data)
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ op[2]]) + data[at + 1 :]
    if kind == "insert":
        return data[:at] + op[2] + data[at:]
    if kind == "delete":
        return data[:at] + data[at + op[2] :]
    if kind == "splice":
        piece = data[at : at + op[2]]
        to = op[3] % len(data)
        return data[:to] + piece + data[to:]
    return data[:at]  # truncate


def mutate_extensions(tbs_fields: list[bytes], op: tuple) -> list[bytes]:
    """Duplicate, drop or make critical one extension of a certificate or CRL (last field)."""
    last = tbs_fields[-1]
    if last[0] not in (0xA3, EXPLICIT_0):
        return tbs_fields
    exts = children(content(last))
    if not exts:
        return tbs_fields
    at = op[1] % len(exts)
    if op[0] == "dup_ext":
        exts = [*exts, exts[at]]
    elif op[0] == "drop_ext":
        exts = exts[:at] + exts[at + 1 :]
    else:
        parts = children(exts[at])
        if len(parts) == 2:  # not critical yet
            exts[at] = tlv(SEQUENCE, parts[0] + tlv(0x01, b"\xff") + parts[1])
    return [*tbs_fields[:-1], tlv(last[0], tlv(SEQUENCE, b"".join(exts)))]


@dataclass
class Node:
    """A TLV as a tree: constructed ones hold their children, primitive ones their content."""

    tag: int
    value: bytes
    kids: list[Node] | None

    def der(self) -> bytes:
        body = self.value if self.kids is None else b"".join(k.der() for k in self.kids)
        return tlv(self.tag, body)


def tree(data: bytes) -> Node:
    """The TLV tree of well-formed DER (a constructed TLV whose content is not TLVs stays
    primitive)."""
    tag, body = data[0], content(data)
    kids = None
    if tag & 0x20:
        try:
            parts = children(data)
            if b"".join(parts) == body:
                kids = [tree(part) for part in parts]
        except (IndexError, ValueError):
            kids = None
    return Node(tag, body, kids)


def nodes(node: Node, parent: Node | None = None) -> list[tuple[Node, Node | None]]:
    found = [(node, parent)]
    for kid in node.kids or []:
        found += nodes(kid, node)
    return found


def mutate_tlv(tbs: bytes, op: tuple) -> bytes:
    """Retag, change the content of, duplicate or remove one TLV of the tbs, the lengths of
    every enclosing TLV kept right — so the outer structure stays DER and the change reaches
    the fields cryptography decodes lazily."""
    root = tree(tbs)
    everything = nodes(root)
    node, parent = everything[op[1] % len(everything)]
    if op[0] == "retag":
        node.tag = op[2]
    elif op[0] == "recontent":
        node.value, node.kids = mutate_bytes(content(node.der()), op[2]), None
    elif parent is not None and parent.kids is not None:
        at = parent.kids.index(node)
        if op[0] == "duplicate":
            parent.kids.insert(at, Node(node.tag, node.value, node.kids))
        else:
            del parent.kids[at]
    return root.der()


def mutated(der: bytes, key, case: tuple) -> bytes:
    """The DER with the case's mutations: inside the tbs and signed again, or on the outside
    (the extension edits go into the tbs either way; outside, the old signature stays)."""
    ops, inside = case
    tbs, algorithm, signature = children(der)
    for op in ops:
        try:
            if op[0] in _TLV_KINDS:
                tbs = mutate_tlv(tbs, op)
            elif op[0] not in _BYTE_KINDS:
                tbs = tlv(SEQUENCE, b"".join(mutate_extensions(children(tbs), op)))
            elif inside:
                tbs = mutate_bytes(tbs, op)
        except (IndexError, ValueError):
            pass  # the tbs is no longer DER enough for a structural edit
    if inside:
        return sign(tbs, key, algorithm)
    der = tlv(SEQUENCE, tbs + algorithm + signature)
    for op in ops:
        if op[0] in _BYTE_KINDS:
            der = mutate_bytes(der, op)
    return der


_BYTE_KINDS = {"flip", "insert", "delete", "splice", "truncate"}
_TLV_KINDS = {"retag", "recontent", "duplicate", "remove"}


# --- the oracle: what an accepted certificate or CRL must be -----------------------------


def assert_certificate_well_formed(der: bytes, anchor: x509.Certificate) -> None:
    cert = x509.load_der_x509_certificate(der)
    touch_certificate(cert)
    assert cert.serial_number > 0
    assert cert.version is x509.Version.v3
    cert.verify_directly_issued_by(anchor)
    assert rules.signature_hash_accepted(cert.signature_hash_algorithm)
    for ext in cert.extensions:
        assert not ext.critical or ext.oid in rules.LEAF_CRITICAL


@dataclass(frozen=True)
class Card:
    kind: str
    der: bytes
    ca: x509.Certificate
    ca_key: object


@pytest.fixture(scope="module")
def cards(world) -> dict[str, Card]:
    return {
        kind: Card(kind, getattr(world, f"{kind}_cert"), world.ca(kind), world.pki.ca_key(kind))
        for kind in ("auth", "sign")
    }


# --- certificates into the boundary and the checks ---------------------------------------


@FUZZ
@given(kind=st.sampled_from(["auth", "sign"]), case=mutations)
@example(kind="auth", case=([("dup_ext", 0)], True))
@example(kind="auth", case=([("remove", 1)], True))  # no version: a v1 certificate with extensions
@example(kind="sign", case=([("critical_ext", 2)], True))
@example(kind="sign", case=([("flip", 300, 0x1F)], True))
def test_mutated_certificates_are_refused_or_well_formed(world, cards, kind, case):
    card = cards[kind]
    der = mutated(card.der, card.ca_key, case)
    validator = CertificateValidator(world.trust, MemoryVerificationStore(), cache_size=1)
    purpose = KeyPurpose(kind)
    try:
        checked = validator.static_checks(der, purpose)
    except Refused as e:
        assert isinstance(e.reason, Reason)
        event(f"refused: {e.reason}")
        return
    event("accepted")
    assert_certificate_well_formed(der, card.ca)
    assert checked.purpose is purpose and checked.ref.serial > 0
    if kind == "sign":
        try:
            parse_basic_four(checked.certificate)
        except ProfileError:
            pass


# --- certificates into the verifier's proof and enrolment paths ---------------------------


@dataclass(frozen=True)
class Session:
    """One challenge and the card's signatures over it, made once (a fresh store per case
    lets the same challenge be used again)."""

    challenges: ChallengeService
    nonce: bytes
    auth_signature: bytes  # a user proof's, over M
    sign_signature: bytes  # over the enrolment document naming the card's auth certificate
    crls: tuple


@pytest.fixture(scope="module")
def session(world) -> Session:
    challenges = ChallengeService()
    nonce = challenges.issue(PROVIDER, TERMINAL, world.now).nonce
    auth = world.auth_key.sign(
        signed_message(PROVIDER, TERMINAL, nonce), PKCS1v15(), hashes.SHA256()
    )
    document = application_document(
        PROVIDER, TERMINAL, "patient-42", DEFAULT_PERSON, nonce, certificate_digest(world.auth_cert)
    )
    signature = world.sign_key.sign(document, PKCS1v15(), hashes.SHA256())
    crls = tuple(verify_crl_in(world.crl(w), world.trust, world.now) for w in ("auth", "sign"))
    return Session(challenges, nonce, auth, signature, crls)


@FUZZ
@given(kind=st.sampled_from(["auth", "sign"]), case=mutations)
@example(kind="auth", case=([("dup_ext", 1)], True))
@example(kind="sign", case=([("dup_ext", 0)], True))
def test_mutated_certificates_in_proofs_and_enrolments_are_recorded_refusals(
    world, cards, session, kind, case
):
    card = cards[kind]
    der = mutated(card.der, card.ca_key, case)
    store = MemoryVerificationStore()
    for crl in session.crls:
        store.import_crl(crl)
    verifier = Verifier(world.trust, store, session.challenges, cache_size=1)
    auth_proof = UserProof(
        PROVIDER,
        TERMINAL,
        session.nonce,
        der if kind == "auth" else world.auth_cert,
        session.auth_signature,
    )
    if kind == "auth":
        verdict = verifier.verify_user_proof(auth_proof, world.now)
    else:
        # the enrolment's auth half names the (mutated) signature certificate, as the card's
        # would: a harmless mutation still enrols
        bound = auth_binding_message(PROVIDER, TERMINAL, session.nonce, certificate_digest(der))
        auth_signature = world.auth_key.sign(bound, PKCS1v15(), hashes.SHA256())
        application = EnrolmentApplication(
            PROVIDER,
            TERMINAL,
            "patient-42",
            DEFAULT_PERSON,
            session.nonce,
            der,
            session.sign_signature,
            replace(auth_proof, signature=auth_signature),
            certificate_digest(world.auth_cert),
        )
        verdict = verifier.verify_enrolment(application, world.now)
    event(f"verdict: {verdict.reason}")
    (entry,) = store.entries  # recorded, with the challenge used up, whatever the verdict
    assert entry.challenge is not None and entry.reason == verdict.reason.value
    if verdict.ok:
        assert_certificate_well_formed(der, card.ca)
    else:
        assert verdict.reason is not Reason.OK


# --- CRLs into the pure check and the store's import -------------------------------------


def crl_base(world) -> bytes:
    """The auth CA's CRL with entries of every kind the reader understands."""
    now = world.now
    revocations = [
        Revocation(3, now - timedelta(days=2)),
        Revocation(300, now - timedelta(days=1), x509.ReasonFlags.key_compromise),
        Revocation((1 << 150) + 7, now - timedelta(hours=2), x509.ReasonFlags.superseded),
    ]
    crl = make_crl(
        world.ca("auth"),
        world.pki.ca_key("auth"),
        revocations,
        this_update=now - timedelta(hours=1),
        next_update=now + timedelta(days=1),
        number=9,
    )
    der = der_of(crl)
    # one more entry with an invalidityDate and a GeneralizedTime (year 2051), signed again
    fields = children(children(der)[0])
    entries = children(fields[5])
    invalidity = extension("2.5.29.24", tlv(0x18, b"20250101000000Z"))
    extra = tlv(
        SEQUENCE,
        bytes.fromhex("020209c4") + tlv(0x18, b"20510101000000Z") + tlv(SEQUENCE, invalidity),
    )
    fields[5] = tlv(SEQUENCE, b"".join([*entries, extra]))
    return sign(tlv(SEQUENCE, b"".join(fields)), world.pki.ca_key("auth"))


def crl_view(der: bytes, anchor: x509.Certificate) -> dict[int, str | None]:
    """What cryptography reads from the whole CRL (every field touched): serial -> reason."""
    crl = x509.load_der_x509_crl(der)
    assert crl.is_signature_valid(anchor.public_key())  # type: ignore[arg-type]
    assert rules.signature_hash_accepted(crl.signature_hash_algorithm)
    _ = crl.issuer.rfc4514_string(), crl.last_update_utc, crl.next_update_utc
    for ext in crl.extensions:
        assert not ext.critical or ext.oid in rules.CRL_CRITICAL
        value = ext.value
        assert not isinstance(value, x509.DeltaCRLIndicator)
        if isinstance(value, x509.IssuingDistributionPoint):
            assert not (
                value.indirect_crl or value.only_some_reasons or value.only_contains_ca_certs
            )
    view: dict[int, str | None] = {}
    for revoked in crl:
        _ = revoked.revocation_date_utc
        reason = None
        for ext in revoked.extensions:
            if isinstance(ext.value, x509.CRLReason):
                reason = ext.value.reason.name
        assert revoked.serial_number not in view
        view[revoked.serial_number] = reason
    return view


@pytest.fixture(scope="module")
def base_crl(world) -> bytes:
    return crl_base(world)


def test_the_fuzzed_crl_base_is_accepted(world, base_crl):
    crl = verify_crl_in(base_crl, world.trust, world.now)
    assert {e.serial: e.reason for e in crl.entries()} == crl_view(base_crl, world.ca("auth"))
    assert crl.info.entries == 4


@FUZZ
@given(case=mutations)
@example(case=([("dup_ext", 0)], True))
@example(case=([("duplicate", 2760)], True))  # two revokedCertificates lists
@example(case=([("critical_ext", 1)], True))
@example(case=([("flip", 290, 0x01)], True))
def test_mutated_crls_are_refused_or_read_as_cryptography_reads_them(world, base_crl, case):
    der = mutated(base_crl, world.pki.ca_key("auth"), case)
    try:
        crl = verify_crl_in(der, world.trust, world.now)
    except Refused as e:
        assert isinstance(e.reason, Reason)
        event(f"refused: {e.reason}")
        return
    event("accepted")
    expected = crl_view(der, world.ca("auth"))
    assert {e.serial: e.reason for e in crl.entries()} == expected
    assert crl.info.entries == len(expected)


@pytest.fixture(scope="module")
def crl_store(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz-crl') / 'kiosk.sqlite3'}"
    db = Database(url)
    db.upgrade()
    yield db
    db.dispose()


def _forget_crls(db: Database) -> None:
    with db.writing() as conn:
        for table in ("crl_current", "revoked_serials", "crl_generations"):
            conn.exec_driver_sql(f"DELETE FROM {table}")  # noqa: S608


@FUZZ
@given(case=mutations)
@example(case=([("dup_ext", 0)], True))
@example(case=([("duplicate", 9030)], True))  # two revokedCertificates lists
@example(case=([("flip", 290, 0x01)], True))
def test_mutated_crls_are_imported_whole_or_not_at_all(world, base_crl, crl_store, case):
    der = mutated(base_crl, world.pki.ca_key("auth"), case)
    index = SqlRevocationIndex(crl_store)
    _forget_crls(crl_store)
    try:
        result = index.replace(check_crl(der, world.trust, world.now), world.now)
    except (Refused, StoreError) as e:
        event(f"refused: {type(e).__name__}")
        assert index.crl_info(world.key_id("auth")) is None  # nothing half-imported
        return
    expected = crl_view(der, world.ca("auth"))
    assert result.entries == len(expected)
    key_id = world.key_id("auth")
    for serial, reason in expected.items():
        entry = index.lookup(key_id, serial)
        assert entry is not None and entry.reason == reason
