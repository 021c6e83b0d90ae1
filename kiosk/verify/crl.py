"""CRL checks, one implementation for both paths: decoded at the DER boundary, the RFC 5280
rules (`rules`), signed by a pinned CA with an accepted hash, thisUpdate not in the future.

`check_crl` is what the store's streaming import uses: it checks the header and the signature
over the tbsCertList bytes sliced from the DER (hashed in place, not copied), and leaves the
entries to be walked once, strictly, by whoever loads them (`CheckedCrl.batches`: a malformed
entry raises there, and the load is abandoned). `verify_crl_in` / `verify_crl` (the in-memory
index, tests and the demo) do the same, walk the entries at once, and check freshness too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from kiosk.verify import rules
from kiosk.verify.crlstream import CrlFormatError, CrlLayout, Entry, iter_entries, read_layout
from kiosk.verify.der import load_crl_header
from kiosk.verify.ports import CrlInfo, RevokedEntry
from kiosk.verify.trust import TrustAnchor, TrustStore, authority_key_id
from kiosk.verify.verdict import Reason, Refused

#: RFC 5280 CRLReason codes, named as cryptography's `x509.ReasonFlags` members.
REASON_NAMES: Final = {
    0: x509.ReasonFlags.unspecified.name,
    1: x509.ReasonFlags.key_compromise.name,
    2: x509.ReasonFlags.ca_compromise.name,
    3: x509.ReasonFlags.affiliation_changed.name,
    4: x509.ReasonFlags.superseded.name,
    5: x509.ReasonFlags.cessation_of_operation.name,
    6: x509.ReasonFlags.certificate_hold.name,
    8: x509.ReasonFlags.remove_from_crl.name,
    9: x509.ReasonFlags.privilege_withdrawn.name,
    10: x509.ReasonFlags.aa_compromise.name,
}

_PEM_BEGIN = b"-----BEGIN X509 CRL-----"
_PEM_END = b"-----END X509 CRL-----"
#: TrustStore.candidates, or one anchor only (`verify_crl`).
_Candidates = Callable[[x509.Name, str | None], list[TrustAnchor]]
_HASHES = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}


@dataclass(frozen=True, slots=True)
class CheckedCrl:
    """A CRL whose header, rules and signature checked out under a trust anchor; `buf` holds
    its DER. Its entries are checked as they are walked (`batches`, `entries`)."""

    buf: bytes
    layout: CrlLayout
    issuer_key_id: str  # hex of the signing CA's subjectKeyIdentifier
    this_update: datetime
    next_update: datetime | None
    crl_number: int | None
    #: A delta CRL's BaseCRLNumber (its deltaCRLIndicator: RFC 5280 §5.2.4): it applies on a
    #: complete CRL numbered at least that. None for a complete CRL.
    base_crl_number: int | None = None

    @property
    def is_delta(self) -> bool:
        return self.base_crl_number is not None

    def batches(self, batch: int = 50_000) -> Iterator[list[Entry]]:
        """The entries as stored, in lists of up to `batch`; Refused(malformed) mid-way when
        one is malformed (a loader must then drop what it took)."""
        try:
            yield from iter_entries(
                self.buf, self.layout.entries_start, self.layout.entries_end, batch
            )
        except CrlFormatError as e:
            raise Refused(Reason.MALFORMED, f"The CRL's entries are malformed: {e}.") from e

    def entries(self) -> Iterator[RevokedEntry]:
        """The revoked serials, one at a time (the list is never copied)."""
        for batch in self.batches():
            for serial, revoked_at, reason in batch:
                yield RevokedEntry(
                    int.from_bytes(serial, "big", signed=True),
                    datetime.fromtimestamp(revoked_at, UTC),
                    None if reason is None else REASON_NAMES[reason],
                )


@dataclass(frozen=True, slots=True)
class VerifiedCrl:
    """A CRL checked whole: header, signature, every entry, and fresh at the time given."""

    info: CrlInfo
    checked: CheckedCrl

    def entries(self) -> Iterator[RevokedEntry]:
        """The revoked serials, one at a time."""
        return self.checked.entries()


def crl_der(data: bytes) -> bytes:
    """The DER of a CRL given as DER or PEM, or Refused(malformed)."""
    if data[:64].lstrip()[:1] != b"-":
        return data
    begin = data.find(_PEM_BEGIN)
    end = data.find(_PEM_END, begin)
    if begin < 0 or end < 0:
        raise Refused(Reason.MALFORMED, "The PEM file holds no X509 CRL.")
    try:
        return base64.b64decode(data[begin + len(_PEM_BEGIN) : end])  # skips line breaks
    except (binascii.Error, ValueError) as e:
        raise Refused(Reason.MALFORMED, "The PEM CRL is malformed.") from e


def check_fresh(next_update: datetime | None, now: datetime, grace_s: int) -> None:
    """Raise Refused(crl_stale) when nextUpdate + grace has passed (or there is no nextUpdate)."""
    if next_update is None:
        raise Refused(Reason.CRL_STALE, "The CRL has no nextUpdate, so its freshness is unknown.")
    if now > next_update + timedelta(seconds=grace_s):
        raise Refused(Reason.CRL_STALE, "The revocation list is out of date.")


def check_crl(buf: bytes, trust: TrustStore, now: datetime) -> CheckedCrl:
    """Check a DER CRL's header, scope and signature against the trust anchors, and that it is
    in force at `now` (thisUpdate not in the future); its entries are checked as walked."""
    return _check(buf, trust.candidates, now)


def check_crl_or_delta(buf: bytes, trust: TrustStore, now: datetime) -> CheckedCrl:
    """`check_crl`, accepting a delta CRL too (`base_crl_number` set): one signed by a
    configured anchor, of the same scope, with a CRL number above its base. What a CRL URL
    serves is known only once it is read: the refresher takes either."""
    checked = _check(buf, trust.candidates, now, allow_delta=True)
    base = checked.base_crl_number
    if base is not None and (checked.crl_number is None or checked.crl_number <= base):
        raise Refused(Reason.MALFORMED, "The delta CRL's number is not above its base's.")
    return checked


def verify_crl_in(
    crl_data: bytes, trust: TrustStore, now: datetime, grace_s: int = 0
) -> VerifiedCrl:
    """Find the anchor that issued the CRL (DN, then key id), check it whole and fresh."""
    return _whole(_check(crl_der(crl_data), trust.candidates, now), now, grace_s)


def verify_crl(
    crl_data: bytes, anchor: TrustAnchor, now: datetime, grace_s: int = 0
) -> VerifiedCrl:
    """Check that the CRL is signed by that anchor, whole and fresh; return it with its metadata."""

    def only(issuer: x509.Name, aki: str | None) -> list[TrustAnchor]:
        return [anchor] if issuer == anchor.certificate.subject else []

    try:
        checked = _check(crl_der(crl_data), only, now)
    except Refused as e:
        if e.reason is Reason.UNKNOWN_ISSUER:  # another CA's CRL offered under this anchor
            raise Refused(Reason.CRL_BAD_SIGNATURE, "The CRL is not signed by that CA.") from e
        raise
    return _whole(checked, now, grace_s)


def _whole(checked: CheckedCrl, now: datetime, grace_s: int) -> VerifiedCrl:
    check_fresh(checked.next_update, now, grace_s)
    serials: set[bytes] = set()
    for batch in checked.batches():
        for serial, _, _ in batch:
            if serial in serials:
                raise Refused(Reason.MALFORMED, "The CRL lists a serial twice.")
            serials.add(serial)
    info = CrlInfo(
        checked.issuer_key_id,
        checked.this_update,
        checked.next_update,
        checked.crl_number,
        len(serials),
    )
    return VerifiedCrl(info, checked)


def _check(
    buf: bytes, candidates_of: _Candidates, now: datetime, *, allow_delta: bool = False
) -> CheckedCrl:
    try:
        layout = read_layout(buf)
    except (CrlFormatError, IndexError) as e:
        raise Refused(Reason.MALFORMED, "The CRL cannot be decoded.") from e
    header = load_crl_header(layout.skeleton)
    extensions = header.extensions
    rules.check_crl_scope(extensions, allow_delta=allow_delta)
    candidates = candidates_of(header.issuer, authority_key_id(extensions))
    if not candidates:
        raise Refused(Reason.UNKNOWN_ISSUER, "The CRL's issuer is not a configured trust anchor.")
    algorithm = rules.check_crl_hash(header)
    digest = _HASHES[algorithm.name](memoryview(buf)[layout.tbs_start : layout.tbs_end]).digest()
    scheme = header.signature_algorithm_parameters
    anchor = next(
        (a for a in candidates if _signature_ok(a.certificate, layout, digest, algorithm, scheme)),
        None,
    )
    if anchor is None:
        raise Refused(Reason.CRL_BAD_SIGNATURE, "The CRL is not signed by the trusted CA.")
    if header.last_update_utc > now:
        raise Refused(Reason.CRL_STALE, "The CRL's thisUpdate is in the future: not in force yet.")
    try:
        number: int | None = extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        number = None
    try:
        base: int | None = extensions.get_extension_for_class(
            x509.DeltaCRLIndicator
        ).value.crl_number
    except x509.ExtensionNotFound:
        base = None
    return CheckedCrl(
        buf, layout, anchor.key_id, header.last_update_utc, header.next_update_utc, number, base
    )


def _signature_ok(
    anchor: x509.Certificate,
    layout: CrlLayout,
    digest: bytes,
    algorithm: hashes.HashAlgorithm,
    scheme: object,
) -> bool:
    """Whether the anchor may sign CRLs (keyUsage cRLSign, when stated) and signed this one
    with the scheme the CRL names (PKCS#1 v1.5 for RSA, ECDSA)."""
    signature = layout.signature
    try:
        if not anchor.extensions.get_extension_for_class(x509.KeyUsage).value.crl_sign:
            return False
    except x509.ExtensionNotFound:
        pass
    key = anchor.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and isinstance(scheme, padding.PKCS1v15):
            key.verify(signature, digest, padding.PKCS1v15(), Prehashed(algorithm))
        elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(scheme, ec.ECDSA):
            key.verify(signature, digest, ec.ECDSA(Prehashed(algorithm)))
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True
