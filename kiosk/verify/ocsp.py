"""OCSP (RFC 6960) as a revocation source: request with a nonce, strict response checks.

The response must be signed by the CA itself or by a responder certificate the CA issued for
id-kp-OCSPSigning (valid now); it must answer for this certificate, echo our nonce, and be
current (thisUpdate not in the future, nextUpdate not passed; without nextUpdate, thisUpdate
no older than `max_age_s`). Anything else refuses. The HTTP exchange is a port
(`OcspTransport`), so this module does no I/O itself.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from kiosk.verify.certcheck import check_validity
from kiosk.verify.der import load_ocsp_response
from kiosk.verify.verdict import Reason, Refused, VerifyError

NONCE_BYTES = 32


class OcspTransport(Protocol):
    def post(self, url: str, request_der: bytes) -> bytes:
        """POST an application/ocsp-request and return the body; raise OSError on failure."""


class UrllibTransport:
    """OcspTransport over HTTP(S) with the standard library (the kiosk's only OCSP I/O)."""

    def __init__(self, timeout_s: float = 10.0, max_bytes: int = 1 << 20) -> None:
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes

    def post(self, url: str, request_der: bytes) -> bytes:
        """POST the request; OSError on network failure, a non-200 answer or an oversize body."""
        if not url.startswith(("http://", "https://")):
            raise OSError(f"not an HTTP URL: {url}")
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            url, request_der, {"Content-Type": "application/ocsp-request"}
        )
        with urllib.request.urlopen(request, timeout=self._timeout_s) as response:  # noqa: S310
            body: bytes = response.read(self._max_bytes + 1)
        if len(body) > self._max_bytes:
            raise OSError("the OCSP response is too large")
        return body


@dataclass(frozen=True, slots=True)
class OcspResult:
    """A checked answer about one certificate."""

    status: ocsp.OCSPCertStatus
    this_update: datetime
    next_update: datetime | None
    revoked_at: datetime | None


def key_hash(cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    """Hash of the certificate's subjectPublicKey BIT STRING value (RFC 6960 issuerKeyHash)."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        raw = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        raw = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    else:
        raise ValueError("only RSA and EC issuers are supported")
    return _digest(raw, algorithm)


def name_hash(cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    """Hash of the certificate's subject DN (RFC 6960 issuerNameHash)."""
    return _digest(cert.subject.public_bytes(), algorithm)


def _digest(data: bytes, algorithm: hashes.HashAlgorithm) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def build_request(issuer: x509.Certificate, serial: int, nonce: bytes) -> bytes:
    """A DER OCSPRequest for one serial under `issuer`, with a nonce extension."""
    algorithm = hashes.SHA256()
    builder = (
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(
            name_hash(issuer, algorithm), key_hash(issuer, algorithm), serial, algorithm
        )
        .add_extension(x509.OCSPNonce(nonce), critical=False)
    )
    return builder.build().public_bytes(serialization.Encoding.DER)


def check_response(
    response_der: bytes,
    issuer: x509.Certificate,
    serial: int,
    nonce: bytes,
    now: datetime,
    *,
    max_age_s: int = 3600,
    skew_s: int = 60,
) -> OcspResult:
    """Check a DER OCSPResponse about `serial` under `issuer`; raise Refused when unusable."""
    response = load_ocsp_response(response_der)  # the DER boundary: ocsp_unavailable if not
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise Refused(
            Reason.OCSP_UNAVAILABLE,
            f"The OCSP responder refused: {response.response_status.name.lower()}.",
        )
    _check_signature(response, _signer(response, issuer, now))
    single = _single_response(response, issuer, serial)
    try:
        echoed = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        echoed = None
    if echoed != nonce:
        raise Refused(Reason.OCSP_NONCE_MISMATCH, "The OCSP response does not echo our nonce.")
    skew = timedelta(seconds=skew_s)
    this_update, next_update = single.this_update_utc, single.next_update_utc
    if this_update > now + skew:
        raise Refused(Reason.OCSP_STALE, "The OCSP response is dated in the future.")
    expiry = next_update + skew if next_update else this_update + timedelta(seconds=max_age_s)
    if now > expiry:
        raise Refused(Reason.OCSP_STALE, "The OCSP response is out of date.")
    return OcspResult(
        single.certificate_status, this_update, next_update, single.revocation_time_utc
    )


def _is_responder(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    if response.responder_key_hash is not None:
        return response.responder_key_hash == key_hash(cert, hashes.SHA1())  # noqa: S303 - RFC 6960 ResponderID
    return response.responder_name == cert.subject


def _signer(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime
) -> x509.Certificate:
    if _is_responder(response, issuer):
        return issuer
    for cert in response.certificates:
        if _is_responder(response, cert) and _is_delegated_responder(cert, issuer, now):
            return cert
    raise Refused(
        Reason.OCSP_BAD_SIGNATURE, "The OCSP response is not signed by the CA or its responder."
    )


def _is_delegated_responder(
    cert: x509.Certificate, issuer: x509.Certificate, now: datetime
) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        check_validity(cert, now)
    except (InvalidSignature, ValueError, TypeError, x509.ExtensionNotFound, Refused):
        return False
    return ExtendedKeyUsageOID.OCSP_SIGNING in eku


def _check_signature(response: ocsp.OCSPResponse, signer: x509.Certificate) -> None:
    key = signer.public_key()
    algorithm = response.signature_hash_algorithm
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(response.signature, response.tbs_response_bytes, PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))
        else:
            raise InvalidSignature
    except InvalidSignature as e:
        raise Refused(Reason.OCSP_BAD_SIGNATURE, "The OCSP response's signature is wrong.") from e


def _single_response(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, serial: int
) -> ocsp.OCSPSingleResponse:
    for single in response.responses:
        algorithm = single.hash_algorithm
        if (
            single.serial_number == serial
            and single.issuer_name_hash == name_hash(issuer, algorithm)
            and single.issuer_key_hash == key_hash(issuer, algorithm)
        ):
            return single
    raise Refused(Reason.OCSP_UNAVAILABLE, "The OCSP response is about another certificate.")


class OcspChecker:
    """A RevocationSource asking one OCSP responder (fresh nonce per request, no caching)."""

    def __init__(
        self,
        url: str,
        transport: OcspTransport,
        random: Callable[[int], bytes] = os.urandom,
        *,
        max_age_s: int = 3600,
        skew_s: int = 60,
    ) -> None:
        self._url = url
        self._transport = transport
        self._random = random
        self._max_age_s = max_age_s
        self._skew_s = skew_s

    def query(self, issuer: x509.Certificate, serial: int, now: datetime) -> OcspResult:
        """Ask the responder about one serial and check its answer."""
        nonce = self._random(NONCE_BYTES)
        try:
            body = self._transport.post(self._url, build_request(issuer, serial, nonce))
        except (OSError, VerifyError) as e:
            raise Refused(Reason.OCSP_UNAVAILABLE, "The OCSP responder cannot be reached.") from e
        return check_response(
            body, issuer, serial, nonce, now, max_age_s=self._max_age_s, skew_s=self._skew_s
        )

    def check(self, issuer: x509.Certificate, serial: int, now: datetime) -> None:
        """Return when the responder says good; raise Refused otherwise."""
        result = self.query(issuer, serial, now)
        if result.status is ocsp.OCSPCertStatus.REVOKED:
            raise Refused(Reason.REVOKED, "This certificate has been revoked.")
        if result.status is not ocsp.OCSPCertStatus.GOOD:
            raise Refused(Reason.OCSP_UNKNOWN, "The OCSP responder does not know this certificate.")
