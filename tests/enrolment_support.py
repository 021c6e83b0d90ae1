"""Enrolment applications signed with the test card's keys, and TEST serial services.

`bound_application` makes an application the way the kiosk does (`make_application`: each
half names the other's certificate) from private keys instead of a card. The serial services
stand in for the certificate authority's lookup from a signature certificate to the same
card's authentication certificate; they exist only here, never in `kiosk/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15

from kiosk.pki.authority import DEFAULT_PERSON, TestPki
from kiosk.pki.cardfile import CardFile
from kiosk.verify.enrolment import (
    EnrolmentApplication,
    SerialServiceUnavailable,
    make_application,
)
from kiosk.verify.profile import BasicFourInfo
from kiosk.verify.trust import subject_key_id
from kiosk.verify.verdict import CertRef


class CardSecrets(Protocol):
    """A card's two certificates and private keys: a CardKeys, or test_verify_support's World."""

    @property
    def auth_cert(self) -> bytes: ...
    @property
    def sign_cert(self) -> bytes: ...
    @property
    def auth_key(self) -> rsa.RSAPrivateKey: ...
    @property
    def sign_key(self) -> rsa.RSAPrivateKey: ...


@dataclass(frozen=True)
class CardKeys:
    """A test card's two certificates and the private keys the card would hold."""

    auth_cert: bytes
    sign_cert: bytes
    auth_key: rsa.RSAPrivateKey
    sign_key: rsa.RSAPrivateKey

    @classmethod
    def of(cls, card: CardFile) -> CardKeys:
        return cls(
            card.auth.certificate,
            card.sign.certificate,
            _private_key(card.auth.private_key_pem),
            _private_key(card.sign.private_key_pem),
        )


def _private_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def signer(key: rsa.RSAPrivateKey):
    """What the card does with that key: RSASSA-PKCS1-v1_5 over SHA-256 of the message."""
    return lambda message: key.sign(message, PKCS1v15(), hashes.SHA256())


def bound_application(
    provider_id: str,
    terminal_id: str,
    nonce: bytes,
    *,
    sign_card: CardSecrets,
    auth_card: CardSecrets | None = None,
    account_ref: str = "patient-42",
    four_info: BasicFourInfo = DEFAULT_PERSON,
) -> EnrolmentApplication:
    """An application made as the kiosk makes it; `auth_card` (default: the same card) is the
    card whose authentication key and certificate make the other half, with both cards'
    secrets (the one thing the binding cannot stop)."""
    auth_card = auth_card or sign_card
    return make_application(
        provider_id,
        terminal_id,
        account_ref,
        four_info,
        nonce,
        sign_card.sign_cert,
        auth_card.auth_cert,
        sign=signer(sign_card.sign_key),
        authenticate=signer(auth_card.auth_key),
    )


class MemorySerialService:
    """A TEST SerialService from a mapping of signature certificates to auth certificates."""

    def __init__(self, pairs: Mapping[CertRef, CertRef]) -> None:
        self._pairs = dict(pairs)
        self.asked: list[CertRef] = []

    @classmethod
    def from_test_pki(cls, pki: TestPki) -> MemorySerialService:
        """Pair each signature certificate with the auth certificate issued just before it.

        TestPki.issue_card records a card's two certificates as adjacent entries (auth, sign)."""
        auth_id = subject_key_id(pki.ca_certificate("auth"))
        sign_id = subject_key_id(pki.ca_certificate("sign"))
        issued = pki.issued()
        return cls(
            {
                CertRef(sign.serial, sign_id): CertRef(auth.serial, auth_id)
                for auth, sign in zip(issued, issued[1:], strict=False)
                if (auth.kind, sign.kind) == ("auth", "sign")
            }
        )

    def auth_serial_for(self, sign: CertRef, now: datetime) -> CertRef | None:
        """The authentication certificate issued with that signature certificate, or None."""
        self.asked.append(sign)
        return self._pairs.get(sign)


class UnreachableSerialService:
    """A TEST SerialService that never answers, as when the issuer cannot be reached."""

    def __init__(self) -> None:
        self.asked: list[CertRef] = []

    def auth_serial_for(self, sign: CertRef, now: datetime) -> CertRef | None:
        """Fail as an unreachable service must: SerialServiceUnavailable."""
        self.asked.append(sign)
        raise SerialServiceUnavailable("the issuer's serial service did not answer")
