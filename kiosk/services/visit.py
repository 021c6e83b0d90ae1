"""The visit's card work, shared by the kiosk, `kiosk verify-card` and `kiosk enrol`.

The card-session operations (`authenticate`, `read_sign_certificate`, ...) check the PIN
format before any APDU, read the retry counter, refuse to send a PIN to a blocked counter and
send each secret exactly once: a wrong PIN is never retried here. `prove_user` and `enrol` are
the two use cases over them: one user proof against a fresh challenge, and one enrolment
application signed with both keys; each returns the verifier's verdict, which the verifier has
recorded (locally or at the platform).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from kiosk.jpki.errors import PinBlocked
from kiosk.jpki.session import JpkiSession, encode_pin
from kiosk.jpki_facts import Which
from kiosk.verify.der import load_certificate
from kiosk.verify.enrolment import EnrolmentApplication, make_application
from kiosk.verify.ports import IssuedChallenge
from kiosk.verify.profile import BasicFourInfo, parse_basic_four
from kiosk.verify.proof import UserProof, signed_message
from kiosk.verify.verdict import EnrolmentVerdict, Verdict

Clock = Callable[[], datetime]


class ProofVerifier(Protocol):
    """Local verification (`kiosk.verify.Verifier`) or the platform's (its client)."""

    def verify_user_proof(self, proof: UserProof, now: datetime, action: str = ...) -> Verdict:
        """Verify one proof; the verdict is recorded (locally or at the platform)."""

    def verify_enrolment(
        self, application: EnrolmentApplication, now: datetime
    ) -> EnrolmentVerdict:
        """Verify one enrolment application; the verdict is recorded, and when it is accepted,
        the account's link with it (locally or at the platform)."""


class ChallengeIssuer(Protocol):
    def issue(self, provider_id: str, terminal_id: str, now: datetime) -> IssuedChallenge:
        """A fresh challenge for that provider's terminal."""


@dataclass(frozen=True, slots=True)
class AuthProof:
    """A certificate read off the card and a signature made with the matching key."""

    certificate_der: bytes
    signature: bytes


# --- card-session operations ---------------------------------------------------------------


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


# --- the two use cases -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Terminal:
    """Who asks: the provider the visit is for and the kiosk it happens at."""

    provider_id: str
    terminal_id: str


def prove_user(
    session: JpkiSession,
    pin: str,
    at: Terminal,
    challenges: ChallengeIssuer,
    verifier: ProofVerifier,
    clock: Clock,
    *,
    action: str,
) -> Verdict:
    """Have the card answer a fresh challenge and verify the proof (the verifier records the
    verdict under `action` and flags the link when its signature certificate was revoked)."""
    provider, terminal = at.provider_id, at.terminal_id
    challenge = challenges.issue(provider, terminal, clock())
    signed = authenticate(session, pin, signed_message(provider, terminal, challenge.nonce))
    proof = UserProof(provider, terminal, challenge.nonce, signed.certificate_der, signed.signature)
    return verifier.verify_user_proof(proof, clock(), action=action)


def enrol(
    session: JpkiSession,
    at: Terminal,
    account_ref: str,
    password: str,
    confirm: Callable[[BasicFourInfo], bool],
    ask_pin: Callable[[], str],
    challenges: ChallengeIssuer,
    verifier: ProofVerifier,
    clock: Clock,
) -> EnrolmentVerdict | None:
    """Read and confirm the 4 info, sign with both keys, verify (the verifier records the
    verdict and, when accepted, the link, in one transaction).

    Returns None when the person does not confirm the 4 info (nothing is signed then)."""
    provider, terminal = at.provider_id, at.terminal_id
    sign_certificate = read_sign_certificate(session, password)
    # the card's bytes cross the DER boundary: a certificate that does not decode is refused
    person = parse_basic_four(load_certificate(sign_certificate).certificate)
    if not confirm(person):
        return None
    auth_certificate = read_auth_certificate(session)
    nonce = challenges.issue(provider, terminal, clock()).nonce
    # the signature key signs for the auth certificate, then the PIN is asked and the
    # authentication key signs for the signature certificate (make_application's order)
    application = make_application(
        provider,
        terminal,
        account_ref,
        person,
        nonce,
        sign_certificate,
        auth_certificate,
        sign=lambda message: session.sign_sha256("sign", message),
        authenticate=lambda message: authenticate(session, ask_pin(), message).signature,
    )
    return verifier.verify_enrolment(application, clock())  # and records it
