"""The one boundary for untrusted DER: certificates, CRL headers and OCSP responses from a card,
a request, a file or a responder are decoded here, and nowhere else.

`cryptography` parses lazily: loading checks the outer structure, and a duplicated extension,
an invalid version, a name whose bytes do not fit its string type or an unknown signature
algorithm raise only when that field is first read — from any of a dozen exception classes
(ValueError, TypeError, UnsupportedAlgorithm, InvalidVersion, DuplicateExtension, UnicodeError,
OverflowError, …), which vary between releases. So each loader here reads every field the
verifier and the profile later use, once, and turns *any* exception into one typed refusal:
`Refused(Reason.MALFORMED)`. What it returns can then be read without raising (a parsed field
reads the same every time).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509 import ocsp

from kiosk.verify.verdict import Reason, Refused

_INTEGER = 0x02
_EXPLICIT_0 = 0xA0


@dataclass(frozen=True, slots=True)
class DecodedCertificate:
    """A certificate whose every field used by the checks decoded, and whose serial is positive.

    `public_key` is None when the key's type or encoding is one `cryptography` cannot read:
    a policy question (the checks call that a weak key), not a decoding one."""

    certificate: x509.Certificate
    serial: int
    public_key: CertificatePublicKeyTypes | None


def load_certificate(der: bytes) -> DecodedCertificate:
    """Decode a DER certificate completely, or raise Refused(malformed)."""
    try:
        serial = _positive_serial(der)  # before loading, which warns on such a serial
        cert = x509.load_der_x509_certificate(der)
        touch_certificate(cert)
    except Refused:
        raise
    except Exception as e:  # the boundary: see the module docstring
        raise Refused(Reason.MALFORMED, "The certificate cannot be decoded.") from e
    try:
        key: CertificatePublicKeyTypes | None = cert.public_key()
    except Exception:  # an unknown key type or a broken key encoding
        key = None
    return DecodedCertificate(cert, serial, key)


def touch_certificate(cert: x509.Certificate) -> None:
    """Read every field of a loaded certificate the code uses (raises what cryptography raises).

    For callers that load certificates themselves (PEM bundles of trust anchors) and map the
    exceptions to their own error."""
    _ = cert.version, cert.serial_number
    _touch_name(cert.issuer)
    _touch_name(cert.subject)
    _ = cert.not_valid_before_utc, cert.not_valid_after_utc
    _ = cert.signature_algorithm_oid, cert.signature_hash_algorithm
    _ = cert.signature_algorithm_parameters, cert.signature
    _touch_extensions(cert.extensions)


def load_crl_header(der: bytes) -> x509.CertificateRevocationList:
    """Decode a CRL's header (issuer, dates, extensions, algorithm), or raise Refused(malformed).

    Given the entry-less skeleton of a large CRL (`crlstream.read_layout`), it reads only the
    header; its entries are checked as they stream (`crlstream.iter_entries`)."""
    try:
        crl = x509.load_der_x509_crl(der)
        _touch_name(crl.issuer)
        _ = crl.last_update_utc, crl.next_update_utc
        _ = crl.signature_algorithm_oid, crl.signature_hash_algorithm
        _ = crl.signature_algorithm_parameters
        _touch_extensions(crl.extensions)
    except Exception as e:  # the boundary: see the module docstring
        raise Refused(Reason.MALFORMED, "The CRL cannot be decoded.") from e
    return crl


def load_ocsp_response(der: bytes) -> ocsp.OCSPResponse:
    """Decode an OCSP response completely (its status; when successful, the signed data, every
    single response and certificate), or raise Refused(ocsp_unavailable)."""
    try:
        response = ocsp.load_der_ocsp_response(der)
        if response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL:
            _touch_ocsp(response)
    except Exception as e:  # the boundary: see the module docstring
        raise Refused(Reason.OCSP_UNAVAILABLE, "The OCSP response cannot be decoded.") from e
    return response


def _touch_ocsp(response: ocsp.OCSPResponse) -> None:
    _ = response.responder_key_hash, response.responder_name, response.produced_at_utc
    _ = response.signature_algorithm_oid, response.signature_hash_algorithm
    _ = response.signature, response.tbs_response_bytes
    _touch_extensions(response.extensions)
    for cert in response.certificates:
        touch_certificate(cert)
        cert.public_key()
    for single in response.responses:
        _ = single.hash_algorithm, single.serial_number, single.certificate_status
        _ = single.issuer_name_hash, single.issuer_key_hash
        _ = single.this_update_utc, single.next_update_utc, single.revocation_time_utc


def _touch_name(name: x509.Name) -> None:
    name.public_bytes()
    name.rfc4514_string()
    for attribute in name:
        _ = attribute.value


def _touch_extensions(extensions: x509.Extensions) -> None:
    for extension in extensions:
        value = extension.value
        if isinstance(value, x509.SubjectAlternativeName | x509.IssuerAlternativeName):
            list(value)
        elif isinstance(value, x509.CertificatePolicies | x509.ExtendedKeyUsage):
            list(value)


def _positive_serial(der: bytes) -> int:
    """The serial of a certificate, read from its DER; Refused unless it is positive.

    Read here, before `cryptography` loads the certificate: it warns on a serial RFC 5280
    forbids (and will raise in a later release). Whatever this misreads, loading refuses."""
    pos = _content_start(der, _content_start(der, 0))  # Certificate, then tbsCertificate
    if der[pos] == _EXPLICIT_0:  # [0] version
        pos = _end(der, pos)
    if der[pos] != _INTEGER:
        raise ValueError("no serial number")
    start, end = _content_start(der, pos), _end(der, pos)
    if end > len(der) or start == end:
        raise ValueError("truncated serial number")
    serial = int.from_bytes(der[start:end], "big", signed=True)
    if serial <= 0:
        raise Refused(Reason.MALFORMED, "The certificate's serial number is not positive.")
    return serial


def _content_start(der: bytes, pos: int) -> int:
    first = der[pos + 1]
    return pos + 2 + (first & 0x7F if first & 0x80 else 0)


def _end(der: bytes, pos: int) -> int:
    first = der[pos + 1]
    if not first & 0x80:
        return pos + 2 + first
    n = first & 0x7F
    return pos + 2 + n + int.from_bytes(der[pos + 2 : pos + 2 + n], "big")
