"""Shared helpers for the verification tests: one test PKI world per session, odd certificates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.x509.oid import NameOID

from kiosk.demo.verification import MemoryVerificationStore
from kiosk.pki.authority import Revocation, TestPki, generate_key, make_crl, make_end_entity
from kiosk.pki.cardfile import CardFile
from kiosk.verify.challenge import ChallengeService
from kiosk.verify.crl import verify_crl_in
from kiosk.verify.enrolment import EnrolmentApplication
from kiosk.verify.ports import IssuedChallenge
from kiosk.verify.proof import UserProof, signed_message
from kiosk.verify.trust import TrustStore, subject_key_id
from kiosk.verify.verifier import Verifier

PROVIDER, TERMINAL = "demo-clinic", "kiosk-1"


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def private_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def sign(key: rsa.RSAPrivateKey, message: bytes) -> bytes:
    return key.sign(message, PKCS1v15(), hashes.SHA256())


@dataclass
class World:
    pki: TestPki
    card: CardFile
    trust: TrustStore
    now: datetime
    auth_key: rsa.RSAPrivateKey
    sign_key: rsa.RSAPrivateKey
    other_key: rsa.RSAPrivateKey  # a spare 2048-bit key for odd CAs

    @property
    def auth_cert(self) -> bytes:
        return self.card.auth.certificate

    @property
    def sign_cert(self) -> bytes:
        return self.card.sign.certificate

    def ca(self, which: str) -> x509.Certificate:
        return self.pki.ca_certificate(which)

    def key_id(self, which: str) -> str:
        return subject_key_id(self.ca(which))

    def odd_cert(self, kind: str = "auth", **kw) -> bytes:
        """A certificate from the test CA of that kind, with overrides (validity, key...)."""
        args = {
            "issuer_cert": self.ca(kind),
            "issuer_key": self.pki.ca_key(kind),
            "subject_key": self.auth_key if kind == "auth" else self.sign_key,
            "not_before": self.now - timedelta(days=1),
            "not_after": self.now + timedelta(days=365),
        }
        args.update(kw)
        return der(make_end_entity(kind, **args))

    def crl(
        self, which: str, revoked=(), *, key=None, this_update=None, next_update=None, number=7
    ) -> bytes:
        this_update = this_update or self.now - timedelta(hours=1)
        crl = make_crl(
            self.ca(which),
            key or self.pki.ca_key(which),
            [Revocation(s, this_update) for s in revoked],
            this_update=this_update,
            next_update=next_update or this_update + timedelta(days=1),
            number=number,
        )
        return crl.public_bytes(serialization.Encoding.DER)


def other_dn_ca(key: rsa.RSAPrivateKey, now: datetime) -> x509.Certificate:
    """A self-signed CA nobody configured (another DN)."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Not JPKI"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI for user authentication"),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=10))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )


@pytest.fixture(scope="session")
def world(test_pki: TestPki, card_file: CardFile) -> World:
    return World(
        pki=test_pki,
        card=card_file,
        trust=TrustStore.from_dir(test_pki.trust_dir),
        now=datetime.now(UTC).replace(microsecond=0),  # certificate times have no fraction
        auth_key=private_key(card_file.auth.private_key_pem),
        sign_key=private_key(card_file.sign.private_key_pem),
        other_key=generate_key(),
    )


@pytest.fixture
def index(world: World) -> MemoryVerificationStore:
    index = MemoryVerificationStore()
    for which in ("auth", "sign"):
        index.import_crl(verify_crl_in(world.crl(which), world.trust, world.now))
    return index


@pytest.fixture
def challenges() -> ChallengeService:
    return ChallengeService()


@pytest.fixture
def verifier(
    world: World, index: MemoryVerificationStore, challenges: ChallengeService
) -> Verifier:
    return Verifier(world.trust, index, challenges)


def make_proof(
    world: World,
    challenge: IssuedChallenge | EnrolmentApplication,
    *,
    cert: bytes | None = None,
    key: rsa.RSAPrivateKey | None = None,
    provider: str | None = None,
    terminal: str | None = None,
) -> UserProof:
    """What the kiosk sends: the card's auth cert and its signature over the bound challenge
    (of an issued challenge, or the one an enrolment application names)."""
    provider = provider or challenge.provider_id
    terminal = terminal or challenge.terminal_id
    signature = sign(key or world.auth_key, signed_message(provider, terminal, challenge.nonce))
    return UserProof(provider, terminal, challenge.nonce, cert or world.auth_cert, signature)
