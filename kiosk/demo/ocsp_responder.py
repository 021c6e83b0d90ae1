"""A test OCSP responder: a pure function from a request (DER) to a signed response (DER).

It answers for one CA, signed by the CA or by a delegated responder certificate; the status
of each serial comes from a callable, so it can serve a `TestPki` (see `for_test_pki`) or
any fixture. Mount `answer` behind HTTP POST (application/ocsp-request) to serve it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp

from kiosk.verify.ocsp import key_hash, name_hash

if TYPE_CHECKING:
    from kiosk.jpki_facts import Which
    from kiosk.pki.authority import TestPki


@dataclass(frozen=True, slots=True)
class SerialStatus:
    """What the responder says about one serial."""

    status: ocsp.OCSPCertStatus
    revoked_at: datetime | None = None
    reason: x509.ReasonFlags | None = None


GOOD = SerialStatus(ocsp.OCSPCertStatus.GOOD)
UNKNOWN = SerialStatus(ocsp.OCSPCertStatus.UNKNOWN)


@dataclass(frozen=True, slots=True)
class OcspResponder:
    """One CA's responder: who signs, how each serial stands, how long an answer lasts."""

    issuer: x509.Certificate
    signer_certificate: x509.Certificate  # the CA itself, or a delegated responder cert
    signer_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey  # a next-generation CA's: P-384
    status_of: Callable[[int], SerialStatus]
    validity: timedelta = timedelta(hours=1)


def answer(request_der: bytes, responder: OcspResponder, now: datetime) -> bytes:
    """The DER response to a DER request (malformed or foreign requests get an error status)."""
    try:
        request = ocsp.load_der_ocsp_request(request_der)
    except ValueError:
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    algorithm = request.hash_algorithm
    if request.issuer_name_hash != name_hash(
        responder.issuer, algorithm
    ) or request.issuer_key_hash != key_hash(responder.issuer, algorithm):
        return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    state = responder.status_of(request.serial_number)
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            request.issuer_name_hash,
            request.issuer_key_hash,
            request.serial_number,
            algorithm,
            state.status,
            now,
            now + responder.validity,
            state.revoked_at,
            state.reason,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, responder.signer_certificate)
    )
    if responder.signer_certificate != responder.issuer:
        builder = builder.certificates([responder.signer_certificate])
    try:
        nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value
        builder = builder.add_extension(nonce, critical=False)
    except x509.ExtensionNotFound:
        pass
    response = builder.sign(responder.signer_key, hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER)


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


def for_test_pki(pki: TestPki, which: Which) -> OcspResponder:
    """A responder for one CA of a test PKI, signed by the CA: issued serials are good unless
    revoked; serials the PKI never issued are unknown. It reads the PKI's state per request."""

    def status_of(serial: int) -> SerialStatus:
        for revocation in pki.revocations(which):
            if revocation.serial == serial:
                return SerialStatus(
                    ocsp.OCSPCertStatus.REVOKED, revocation.revoked_at, revocation.reason
                )
        if any(r.serial == serial and r.kind == which for r in pki.issued()):
            return GOOD
        return UNKNOWN

    return OcspResponder(
        pki.ca_certificate(which), pki.ca_certificate(which), pki.ca_key(which), status_of
    )
