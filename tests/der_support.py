"""Hand-made DER for the hostile-input tests: take a certificate or CRL apart, change one
field, sign it again.

`cryptography`'s builders refuse to write most of what these tests need (a duplicated
extension, a negative serial, a SHA-1 signature, an invalid string in a name), so the tests
edit the signed structure itself. Only what the tests use; the inputs are well-formed DER.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SEQUENCE, SET, INTEGER, OID, OCTET_STRING, BOOLEAN, BIT_STRING = 0x30, 0x31, 0x02, 0x06, 4, 1, 3
EXPLICIT_0, EXPLICIT_3 = 0xA0, 0xA3

#: AlgorithmIdentifiers (with their NULL parameters) of RSA PKCS#1 v1.5 signatures.
SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
SHA1_RSA = bytes.fromhex("300d06092a864886f70d0101050500")
UNKNOWN_ALG = bytes.fromhex("300b06092b060104018237ff01")  # 1.3.6.1.4.1.311.55.1, no params
_HASH_OF = {SHA256_RSA: hashes.SHA256(), SHA1_RSA: hashes.SHA1()}


def length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + length(len(content)) + content


def header(der: bytes, pos: int = 0) -> tuple[int, int, int]:
    """(tag, content start, end) of the TLV at pos."""
    tag, first = der[pos], der[pos + 1]
    pos += 2
    if first & 0x80:
        n = first & 0x7F
        first, pos = int.from_bytes(der[pos : pos + n], "big"), pos + n
    return tag, pos, pos + first


def children(der: bytes) -> list[bytes]:
    """The TLVs inside one constructed TLV."""
    _, pos, end = header(der)
    out = []
    while pos < end:
        _, _, child_end = header(der, pos)
        out.append(der[pos:child_end])
        pos = child_end
    return out


def content(der: bytes) -> bytes:
    _, start, end = header(der)
    return der[start:end]


def integer(value: int) -> bytes:
    return tlv(INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytes([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        body += bytes(reversed(chunk))
    return tlv(OID, body)


def extension(dotted: str, value: bytes, *, critical: bool = False) -> bytes:
    flag = tlv(BOOLEAN, b"\xff") if critical else b""
    return tlv(SEQUENCE, oid(dotted) + flag + tlv(OCTET_STRING, value))


def sign(tbs: bytes, key: rsa.RSAPrivateKey, algorithm: bytes = SHA256_RSA) -> bytes:
    """A certificate or CRL: tbs, the algorithm, and key's signature over tbs."""
    signature = key.sign(tbs, padding.PKCS1v15(), _HASH_OF.get(algorithm, hashes.SHA256()))
    return tlv(SEQUENCE, tbs + algorithm + tlv(BIT_STRING, b"\x00" + signature))


def tbs_fields(der: bytes) -> list[bytes]:
    """The fields of a certificate's or CRL's signed part."""
    return children(children(der)[0])


def resign(
    der: bytes,
    key: rsa.RSAPrivateKey,
    edit: Callable[[list[bytes]], list[bytes]],
    algorithm: bytes = SHA256_RSA,
) -> bytes:
    """The certificate or CRL with its tbs fields edited, signed again by key."""
    fields = edit(tbs_fields(der))
    return sign(tlv(SEQUENCE, b"".join(fields)), key, algorithm)


# --- certificates -----------------------------------------------------------------------
# tbsCertificate: [0] version, serial, signature, issuer, validity, subject, spki, [3] exts

CERT_SERIAL, CERT_ALG, CERT_ISSUER, CERT_SUBJECT, CERT_EXTENSIONS = 1, 2, 3, 5, -1


def cert_extensions(fields: Sequence[bytes]) -> list[bytes]:
    return children(content(fields[CERT_EXTENSIONS]))


def with_cert_extensions(fields: list[bytes], extensions: Sequence[bytes]) -> list[bytes]:
    wrapped = tlv(EXPLICIT_3, tlv(SEQUENCE, b"".join(extensions)))
    return [*fields[:CERT_EXTENSIONS], wrapped]


def cert_with(
    der: bytes, key: rsa.RSAPrivateKey, *, algorithm: bytes = SHA256_RSA, **changes: object
) -> bytes:
    """A copy of a certificate with one change, signed again by the issuer's key.

    serial=int, version=int (0 = v1 … 2 = v3), add_extension=DER, duplicate_extension=True,
    subject_cn=(tag, bytes), algorithm=AlgorithmIdentifier (in tbs and outside)."""

    def edit(fields: list[bytes]) -> list[bytes]:
        fields = list(fields)
        if "serial" in changes:
            fields[CERT_SERIAL] = integer(changes["serial"])  # type: ignore[arg-type]
        if "version" in changes:
            fields[0] = tlv(EXPLICIT_0, integer(changes["version"]))  # type: ignore[arg-type]
        if "add_extension" in changes:
            extra = changes["add_extension"]
            fields = with_cert_extensions(fields, [*cert_extensions(fields), extra])  # type: ignore[list-item]
        if changes.get("duplicate_extension"):
            exts = cert_extensions(fields)
            fields = with_cert_extensions(fields, [*exts, exts[0]])
        if "subject_cn" in changes:
            tag, value = changes["subject_cn"]  # type: ignore[misc]
            fields[CERT_SUBJECT] = with_last_rdn_value(fields[CERT_SUBJECT], tag, value)
        fields[CERT_ALG] = algorithm
        return fields

    return resign(der, key, edit, algorithm)


def with_last_rdn_value(name: bytes, tag: int, value: bytes) -> bytes:
    """The Name with its last attribute's value replaced by a TLV of that tag."""
    rdns = children(name)
    attribute = children(rdns[-1])[0]
    attr_type = children(attribute)[0]
    new_rdn = tlv(SET, tlv(SEQUENCE, attr_type + tlv(tag, value)))
    return tlv(SEQUENCE, b"".join([*rdns[:-1], new_rdn]))


# --- CRLs -------------------------------------------------------------------------------
# tbsCertList: version?, signature, issuer, thisUpdate, nextUpdate?, revoked?, [0] exts?


def crl_with_extensions(
    der: bytes,
    key: rsa.RSAPrivateKey,
    extra: Sequence[bytes],
    *,
    algorithm: bytes = SHA256_RSA,
) -> bytes:
    """A copy of a CRL with more crlExtensions, signed again (and with that algorithm)."""

    def edit(fields: list[bytes]) -> list[bytes]:
        fields = list(fields)
        start = 1 if fields[0][0] == INTEGER else 0
        fields[start] = algorithm
        if fields[-1][0] == EXPLICIT_0:
            existing = children(content(fields[-1]))
            fields = fields[:-1]
        else:
            existing = []
        return [*fields, tlv(EXPLICIT_0, tlv(SEQUENCE, b"".join([*existing, *extra])))]

    return resign(der, key, edit, algorithm)


def der_of(value: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return value.public_bytes(serialization.Encoding.DER)


CRL_ALG, CRL_ISSUER, CRL_THIS_UPDATE = 1, 2, 3  # with the version INTEGER a v2 CRL has


def crl_with(
    der: bytes,
    key: rsa.RSAPrivateKey,
    *,
    algorithm: bytes = SHA256_RSA,
    version: int | None = None,
    duplicate_extension: bool = False,
    issuer_cn: tuple[int, bytes] | None = None,
    entries: Sequence[bytes] | None = None,
) -> bytes:
    """A copy of a v2 CRL with one change, signed again by key (and with that algorithm)."""

    def edit(fields: list[bytes]) -> list[bytes]:
        fields = list(fields)
        fields[CRL_ALG] = algorithm
        if version is not None:
            fields[0] = integer(version)
        if issuer_cn is not None:
            fields[CRL_ISSUER] = with_last_rdn_value(fields[CRL_ISSUER], *issuer_cn)
        if duplicate_extension:
            exts = children(content(fields[-1]))
            fields[-1] = tlv(EXPLICIT_0, tlv(SEQUENCE, b"".join([*exts, exts[0]])))
        if entries is not None:
            revoked = [tlv(SEQUENCE, b"".join(entries))] if entries else []
            # after version, signature, issuer, thisUpdate and nextUpdate
            rest = fields[6:] if fields[5][0] == SEQUENCE else fields[5:]
            fields = [*fields[:5], *revoked, *rest]
        return fields

    return resign(der, key, edit, algorithm)


def crl_entry(serial: int, when: bytes = b"260101000000Z", extensions: bytes = b"") -> bytes:
    """One revokedCertificates entry: serial, UTCTime, and extensions (a SEQUENCE TLV) if any."""
    return tlv(SEQUENCE, integer(serial) + tlv(0x17, when) + extensions)
