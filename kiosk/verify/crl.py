"""CRL checks: signed by the pinned CA, and fresh (nextUpdate + grace not passed)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from kiosk.verify.ports import CrlInfo, RevokedEntry
from kiosk.verify.trust import TrustAnchor, TrustStore, authority_key_id
from kiosk.verify.verdict import Reason, Refused


@dataclass(frozen=True, slots=True)
class VerifiedCrl:
    """A CRL whose signature and freshness were checked; `entries()` streams its serials."""

    info: CrlInfo
    crl: x509.CertificateRevocationList

    def entries(self) -> Iterator[RevokedEntry]:
        """The revoked serials, one at a time (the list is never copied)."""
        for revoked in self.crl:
            yield RevokedEntry(revoked.serial_number, revoked.revocation_date_utc, _reason(revoked))


def _reason(revoked: x509.RevokedCertificate) -> str | None:
    try:
        return revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
    except x509.ExtensionNotFound:
        return None


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """Parse a CRL given as DER or PEM, or raise Refused(malformed)."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as e:
        raise Refused(Reason.MALFORMED, "The CRL cannot be decoded.") from e


def check_fresh(next_update: datetime | None, now: datetime, grace_s: int) -> None:
    """Raise Refused(crl_stale) when nextUpdate + grace has passed (or there is no nextUpdate)."""
    if next_update is None:
        raise Refused(Reason.CRL_STALE, "The CRL has no nextUpdate, so its freshness is unknown.")
    if now > next_update + timedelta(seconds=grace_s):
        raise Refused(Reason.CRL_STALE, "The revocation list is out of date.")


def verify_crl(crl_der: bytes, anchor: TrustAnchor, now: datetime, grace_s: int = 0) -> VerifiedCrl:
    """Check that the CRL is signed by that anchor and fresh; return it with its metadata."""
    return _verify(load_crl(crl_der), anchor, now, grace_s)


def _verify(
    crl: x509.CertificateRevocationList, anchor: TrustAnchor, now: datetime, grace_s: int
) -> VerifiedCrl:
    if crl.issuer != anchor.certificate.subject or not crl.is_signature_valid(anchor.public_key):
        raise Refused(Reason.CRL_BAD_SIGNATURE, "The CRL is not signed by the trusted CA.")
    if crl.last_update_utc > now:
        raise Refused(Reason.CRL_STALE, "The CRL's thisUpdate is in the future.")
    check_fresh(crl.next_update_utc, now, grace_s)
    try:
        number: int | None = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        number = None
    info = CrlInfo(anchor.key_id, crl.last_update_utc, crl.next_update_utc, number, len(crl))
    return VerifiedCrl(info, crl)


def verify_crl_in(
    crl_der: bytes, trust: TrustStore, now: datetime, grace_s: int = 0
) -> VerifiedCrl:
    """Find the anchor that issued the CRL (DN, then key id) and verify the CRL under it."""
    crl = load_crl(crl_der)
    candidates = trust.candidates(crl.issuer, authority_key_id(crl.extensions))
    if not candidates:
        raise Refused(Reason.UNKNOWN_ISSUER, "The CRL's issuer is not a configured trust anchor.")
    for anchor in candidates:
        if crl.is_signature_valid(anchor.public_key):
            return _verify(crl, anchor, now, grace_s)
    raise Refused(Reason.CRL_BAD_SIGNATURE, "The CRL is not signed by the trusted CA.")
