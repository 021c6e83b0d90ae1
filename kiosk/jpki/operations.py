"""Whole card sessions for the kiosk: authentication, and the signature side for enrolment.

Each checks the PIN format before any APDU, reads the retry counter and refuses to send a PIN
to a blocked counter, and sends the PIN exactly once: a wrong PIN is never retried here.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.jpki.errors import PinBlocked
from kiosk.jpki.session import JpkiSession, encode_pin
from kiosk.jpki_facts import Which


@dataclass(frozen=True, slots=True)
class AuthProof:
    """A certificate read off the card and a signature made with the matching key."""

    certificate_der: bytes
    signature: bytes


def _verified_certificate(session: JpkiSession, which: Which, pin: str) -> bytes:
    encode_pin(which, pin)
    session.select_ap()
    session.token_label()
    if session.pin_retries(which) == 0:
        raise PinBlocked(which)
    session.verify_pin(which, pin)
    return session.read_certificate(which)


def authenticate(session: JpkiSession, pin: str, message: bytes) -> AuthProof:
    """Select, check the label, VERIFY the auth PIN, read the auth cert, sign SHA-256(message)."""
    certificate = _verified_certificate(session, "auth", pin)
    return AuthProof(certificate, session.sign_sha256("auth", message))


def read_auth_certificate(session: JpkiSession) -> bytes:
    """Read the authentication certificate, which the card gives without its PIN (an
    enrolment's signature key signs for it before the PIN is asked)."""
    return session.read_certificate("auth")


def read_sign_certificate(session: JpkiSession, password: str) -> bytes:
    """VERIFY the signature password, then read the signature certificate it protects."""
    return _verified_certificate(session, "sign", password)


def sign_with_sign_key(session: JpkiSession, password: str, message: bytes) -> AuthProof:
    """VERIFY the signature password once, read the sign cert and sign SHA-256(message)."""
    certificate = _verified_certificate(session, "sign", password)
    return AuthProof(certificate, session.sign_sha256("sign", message))
