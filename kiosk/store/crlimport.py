"""Reading CRLs from files, directories and HTTP, and checking them against trust anchors.

The signature is checked over the tbsCertList bytes sliced from the DER (hashed in place, not
copied), the header is parsed from the entry-less skeleton (see `crlstream`), so a CRL of
millions of entries is read once, as bytes, and its entries only ever as batches of tuples.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mmap
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from kiosk.store.crlstream import CrlFormatError, CrlLayout, read_layout
from kiosk.store.errors import (
    CrlImportError,
    CrlIssuerUnknown,
    CrlMalformed,
    CrlSignatureInvalid,
)
from kiosk.verify.trust import TrustStore, authority_key_id

_PEM_BEGIN = b"-----BEGIN X509 CRL-----"
_PEM_END = b"-----END X509 CRL-----"
_CRL_SUFFIXES = (".crl", ".der", ".pem")
_URL_TIMEOUT_S = 120
_HASHES = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}


@dataclass(frozen=True, slots=True)
class CheckedCrl:
    """A CRL whose signature verified with a trust anchor; `buf` holds its DER."""

    buf: bytes
    layout: CrlLayout
    issuer_key_id: str  # hex of the signing CA's subjectKeyIdentifier
    this_update: datetime
    next_update: datetime | None
    crl_number: int | None


def to_der(data: bytes) -> bytes:
    """The DER of a CRL given as DER or PEM."""
    if data.lstrip()[:1] != b"-":
        return data
    begin = data.find(_PEM_BEGIN)
    end = data.find(_PEM_END, begin)
    if begin < 0 or end < 0:
        raise CrlMalformed("the PEM file holds no X509 CRL")
    try:
        return base64.b64decode(data[begin + len(_PEM_BEGIN) : end])  # skips line breaks
    except binascii.Error as e:
        raise CrlMalformed("the PEM CRL is malformed") from e


@contextmanager
def open_crl(path: Path) -> Iterator[bytes]:
    """The DER of a CRL file: mapped, not copied, when it is DER."""
    with path.open("rb") as f:
        head = f.read(64)
        if head.lstrip()[:1] == b"-":
            yield to_der(head + f.read())
            return
        if not head:
            raise CrlMalformed(f"{path.name} is empty")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            yield mapped  # type: ignore[misc]  # supports the bytes operations we use


def crl_paths(source: Path) -> list[Path]:
    """The CRL files of a file or a directory (by suffix .crl, .der, .pem)."""
    if source.is_dir():
        return sorted(p for p in source.iterdir() if p.suffix.lower() in _CRL_SUFFIXES)
    if source.is_file():
        return [source]
    raise CrlImportError(f"no such CRL file or directory: {source}")


def fetch_url(url: str) -> bytes:
    """Download a CRL over HTTP(S) (CRL distribution points are plain HTTP)."""
    if not url.startswith(("http://", "https://")):
        raise CrlImportError("only http:// and https:// CRL URLs are supported")
    try:
        with urllib.request.urlopen(url, timeout=_URL_TIMEOUT_S) as response:  # noqa: S310
            return to_der(response.read())
    except OSError as e:
        raise CrlImportError(f"cannot download the CRL from {url}: {e}") from e


def check_crl(buf: bytes, anchors: TrustStore) -> CheckedCrl:
    """Parse the header and verify the signature of a DER CRL against the trust anchors."""
    try:
        layout = read_layout(buf)
        header = x509.load_der_x509_crl(layout.skeleton)
        hash_algorithm = header.signature_hash_algorithm
        extensions = header.extensions
    except (CrlFormatError, ValueError) as e:
        raise CrlMalformed("not a well-formed X.509 CRL") from e
    _refuse_partial(extensions)
    candidates = anchors.candidates(header.issuer, authority_key_id(extensions))
    if not candidates:
        raise CrlIssuerUnknown(
            f"no trust anchor for the CRL issuer {header.issuer.rfc4514_string()}"
        )
    if hash_algorithm is None or hash_algorithm.name not in _HASHES:
        raise CrlMalformed("unsupported CRL signature algorithm")
    digest = _HASHES[hash_algorithm.name](memoryview(buf)[layout.tbs_start : layout.tbs_end])
    for anchor in candidates:
        if _signature_ok(anchor.certificate, layout.signature, digest.digest(), hash_algorithm):
            try:
                number = extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
            except x509.ExtensionNotFound:
                number = None
            return CheckedCrl(
                buf=buf,
                layout=layout,
                issuer_key_id=anchor.key_id,
                this_update=header.last_update_utc,
                next_update=header.next_update_utc,
                crl_number=number,
            )
    raise CrlSignatureInvalid(
        f"the CRL signature of {header.issuer.rfc4514_string()} does not verify"
    )


def _refuse_partial(extensions: x509.Extensions) -> None:
    """Refuse delta and indirect CRLs: importing one would replace a full list with a part."""
    for ext in extensions:
        if isinstance(ext.value, x509.DeltaCRLIndicator):
            raise CrlMalformed("delta CRLs are not supported; import the full CRL")
        if isinstance(ext.value, x509.IssuingDistributionPoint) and (
            ext.value.indirect_crl or ext.value.only_some_reasons
        ):
            raise CrlMalformed("indirect or partial-reason CRLs are not supported")


def _signature_ok(
    anchor: x509.Certificate, signature: bytes, digest: bytes, algorithm: hashes.HashAlgorithm
) -> bool:
    try:
        usage = anchor.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.crl_sign:
            return False
    except x509.ExtensionNotFound:
        pass
    key = anchor.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PKCS1v15(), Prehashed(algorithm))
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(Prehashed(algorithm)))
        else:
            return False
    except InvalidSignature:
        return False
    return True
