"""Certificate checks: chain to a pinned anchor, purpose, key and scheme, validity, revocation.

The DER is decoded at the boundary (`der.load_certificate`: anything undecodable is
`malformed`), then the RFC 5280 rules of `rules` apply (accepted signature hashes, no unknown
critical extension, an extendedKeyUsage that allows the purpose). The key decides the
signature scheme (`kiosk.verify.scheme`), which the issuing anchor's group must allow.

The time-independent part (decode, chain, purpose, key) is cached per certificate (bounded,
keyed by purpose and DER, oldest out first), so a returning card costs one dictionary lookup;
the validity period and revocation are checked on every call.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from kiosk.verify import rules
from kiosk.verify.crl import check_fresh
from kiosk.verify.der import load_certificate
from kiosk.verify.ports import CrlState, LinkState, RevocationIndex
from kiosk.verify.profile import classify
from kiosk.verify.scheme import CardPublicKey, SignatureScheme, scheme_for_key
from kiosk.verify.trust import KeyPurpose, TrustAnchor, TrustStore, authority_key_id
from kiosk.verify.verdict import CertRef, LinkStatus, Reason, Refused

_PURPOSE_NAMES = {KeyPurpose.AUTH: "an authentication", KeyPurpose.SIGN: "a signature"}


@dataclass(frozen=True, slots=True)
class CheckedCertificate:
    """A certificate that chains to `anchor`, has the expected purpose and a key whose
    signature scheme the anchor's group allows."""

    certificate: x509.Certificate
    anchor: TrustAnchor
    purpose: KeyPurpose
    scheme: SignatureScheme
    ref: CertRef
    not_before: datetime
    not_after: datetime

    @property
    def public_key(self) -> CardPublicKey:
        return self.scheme.key

    def check_validity(self, now: datetime) -> None:
        """Raise Refused when `now` is outside the certificate's validity period."""
        _check_period(self.not_before, self.not_after, now)


class RevocationSource(Protocol):
    """An alternative to the CRL for one CA (e.g. an OCSP responder under contract)."""

    def check(self, issuer: x509.Certificate, serial: int, now: datetime) -> None:
        """Return when the certificate is good; raise Refused (revoked or why unknown)."""


class CertificateValidator:
    """Checks certificates against the trust store and the revocation data, failing closed."""

    def __init__(
        self,
        trust: TrustStore,
        revocation: RevocationIndex,
        *,
        crl_grace_s: int = 0,
        sources: Mapping[str, RevocationSource] | None = None,
        cache_size: int = 4096,
    ) -> None:
        self._trust = trust
        self._revocation = revocation
        self._grace_s = crl_grace_s
        self._grace = timedelta(seconds=crl_grace_s)
        self._sources = dict(sources or {})
        self._cache: dict[KeyPurpose, dict[bytes, CheckedCertificate | Refused]] = {
            purpose: {} for purpose in KeyPurpose
        }
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @property
    def trust(self) -> TrustStore:
        return self._trust

    def static_checks(self, der: bytes, purpose: KeyPurpose) -> CheckedCertificate:
        """Decode, chain, purpose and key checks (cached: they do not depend on the time).

        The cache holds `cache_size` certificates per purpose; when full, the oldest entry
        goes (a hit reads one dictionary, without a lock: dict reads are atomic)."""
        cache = self._cache[purpose]
        hit = cache.get(der)
        if hit is None:
            try:
                hit = _static_checks(der, purpose, self._trust)
            except Refused as e:
                hit = e
            with self._lock:
                if len(cache) >= self._cache_size:
                    cache.pop(next(iter(cache)), None)
                cache[der] = hit
        if isinstance(hit, Refused):
            raise Refused(hit.reason, str(hit))
        return hit

    def check_revocation(self, anchor: TrustAnchor, serial: int, now: datetime) -> None:
        """Raise Refused when the serial is revoked or its revocation status is not known."""
        source = self._sources.get(anchor.key_id)
        if source is not None:
            source.check(anchor.certificate, serial, now)
            return
        info = self._revocation.crl_info(anchor.key_id)
        if info is None:
            raise Refused(Reason.CRL_MISSING, "No revocation list is loaded for this CA.")
        check_fresh(info.next_update, now, self._grace_s)
        if self._revocation.lookup(anchor.key_id, serial) is not None:
            raise Refused(Reason.REVOKED, "This certificate has been revoked.")

    def check_crl_state(
        self, anchor: TrustAnchor, serial: int, state: CrlState | None, now: datetime
    ) -> None:
        """`check_revocation` with the CRL's state already read (`VerificationStore`)."""
        source = self._sources.get(anchor.key_id)
        if source is not None:
            source.check(anchor.certificate, serial, now)
            return
        if state is None:
            raise Refused(Reason.CRL_MISSING, "No revocation list is loaded for this CA.")
        next_update = state.next_update
        if next_update is None or now > next_update + self._grace:
            check_fresh(next_update, now, self._grace_s)  # raises, saying why
        if state.revoked:
            raise Refused(Reason.REVOKED, "This certificate has been revoked.")

    def linked_status(self, link: LinkState, now: datetime) -> LinkStatus:
        """Whether a link's signature certificate still stands, from the state read with it."""
        anchor = self._trust.by_key_id(link.sign_issuer_key_id)
        if anchor is None:
            return LinkStatus.UNCHECKED
        try:
            self.check_crl_state(anchor, link.sign_serial, link.sign_crl, now)
        except Refused as e:
            if e.reason is Reason.REVOKED:
                return LinkStatus.NEEDS_REENROLMENT
            return LinkStatus.UNCHECKED
        return LinkStatus.ACTIVE


def check_validity(cert: x509.Certificate, now: datetime) -> None:
    """Raise Refused when `now` is outside the certificate's validity period."""
    _check_period(cert.not_valid_before_utc, cert.not_valid_after_utc, now)


def _check_period(not_before: datetime, not_after: datetime, now: datetime) -> None:
    if now < not_before:
        raise Refused(Reason.NOT_YET_VALID, "This certificate is not valid yet.")
    if now > not_after:
        raise Refused(Reason.EXPIRED, "This certificate has expired.")


def verify_signature(checked: CheckedCertificate, signature: bytes, message: bytes) -> None:
    """Check the card's signature over `message` in the certificate's scheme, or raise
    Refused(bad_signature)."""
    checked.scheme.verify(signature, message)


def _static_checks(der: bytes, purpose: KeyPurpose, trust: TrustStore) -> CheckedCertificate:
    decoded = load_certificate(der)  # the DER boundary: anything undecodable is malformed
    cert = decoded.certificate
    anchor = _issuing_anchor(cert, authority_key_id(cert.extensions), trust)
    rules.check_leaf(cert, purpose)
    kind = classify(cert)
    if kind != purpose or anchor.purpose not in (None, purpose):
        raise Refused(
            Reason.WRONG_KEY_PURPOSE,
            f"This is not {_PURPOSE_NAMES[purpose]} certificate.",
        )
    scheme = scheme_for_key(decoded.public_key, anchor.group.schemes)
    ref = CertRef(decoded.serial, anchor.key_id)
    return CheckedCertificate(
        cert, anchor, purpose, scheme, ref, cert.not_valid_before_utc, cert.not_valid_after_utc
    )


def _issuing_anchor(cert: x509.Certificate, aki: str | None, trust: TrustStore) -> TrustAnchor:
    candidates = trust.candidates(cert.issuer, aki)
    if not candidates:
        raise Refused(Reason.UNKNOWN_ISSUER, "The certificate's issuer is not trusted.")
    rules.check_certificate_hash(cert)
    for anchor in candidates:
        try:
            cert.verify_directly_issued_by(anchor.certificate)
        except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
            continue
        return anchor
    raise Refused(Reason.BAD_CHAIN, "The certificate is not signed by the trusted CA.")
