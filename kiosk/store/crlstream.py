"""A streaming reader of X.509 CRLs in DER, for national-scale lists (pure, no IO).

`read_layout` finds the parts of a CRL without parsing its entries: the tbsCertList bytes
(what the signature covers), the revokedCertificates range, the signature, and a *skeleton*:
the same CRL re-encoded without its entries, small enough for `cryptography` to parse the
header (issuer, dates, extensions). `iter_entries` then walks the entries in batches of plain
tuples, so a 5,000,000-entry list is never held as parsed objects.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass

#: An entry as stored: (serial DER INTEGER content octets, revocation Unix seconds, CRLReason).
Entry = tuple[bytes, int, int | None]

_SEQUENCE = 0x30
_INTEGER = 0x02
_UTC_TIME = 0x17
_GENERALIZED_TIME = 0x18
_REASON_CODE_OID = bytes.fromhex("0603551d15")  # id-ce-cRLReasons 2.5.29.21


class CrlFormatError(ValueError):
    """The bytes are not a DER CRL this reader understands."""


@dataclass(frozen=True, slots=True)
class CrlLayout:
    """Where the parts of one CRL are in its DER buffer."""

    tbs_start: int
    tbs_end: int  # buf[tbs_start:tbs_end] is the signed tbsCertList TLV
    entries_start: int
    entries_end: int  # the content of revokedCertificates (empty range when absent)
    signature: bytes  # the signatureValue bits
    skeleton: bytes  # the CRL without its entries (its signature no longer verifies)


def _header(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """The (tag, content start, content end) of the TLV at pos."""
    if pos + 2 > end:
        raise CrlFormatError("truncated DER")
    tag = buf[pos]
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > end:
            raise CrlFormatError("unsupported DER length")
        length = int.from_bytes(buf[pos : pos + n], "big")
        pos += n
    if pos + length > end:
        raise CrlFormatError("DER length runs past the end")
    return tag, pos, pos + length


def _encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _encode_length(len(content)) + content


def read_layout(buf: bytes) -> CrlLayout:
    """Locate the tbsCertList, the entries and the signature of a DER CRL."""
    tag, start, end = _header(buf, 0, len(buf))
    if tag != _SEQUENCE or end != len(buf):
        raise CrlFormatError("not a DER CertificateList")
    tag, tbs_content, tbs_end = _header(buf, start, end)
    if tag != _SEQUENCE:
        raise CrlFormatError("no tbsCertList")
    tbs_start = start
    tag, alg_start, alg_end = _header(buf, tbs_end, end)
    tag_sig, sig_start, sig_end = _header(buf, alg_end, end)
    if tag != _SEQUENCE or tag_sig != 0x03 or sig_end != end or sig_end == sig_start:
        raise CrlFormatError("no signature algorithm and value after tbsCertList")
    if buf[sig_start] != 0:
        raise CrlFormatError("signature has unused bits")
    signature = bytes(buf[sig_start + 1 : sig_end])

    # tbsCertList: version?, signature, issuer, thisUpdate, nextUpdate?, revoked?, [0] ext?
    fields: list[tuple[int, int, int]] = []  # (tag, tlv start, tlv end)
    pos = tbs_content
    while pos < tbs_end:
        ftag, _, fend = _header(buf, pos, tbs_end)
        fields.append((ftag, pos, fend))
        pos = fend
    index = 1 if fields and fields[0][0] == _INTEGER else 0  # skip version
    index += 3  # signature, issuer, thisUpdate
    if index > len(fields):
        raise CrlFormatError("tbsCertList is incomplete")
    if index < len(fields) and fields[index][0] in (_UTC_TIME, _GENERALIZED_TIME):
        index += 1  # nextUpdate
    entries_start = entries_end = tbs_end
    kept = fields
    if index < len(fields) and fields[index][0] == _SEQUENCE:
        _, entries_start, entries_end = _header(buf, fields[index][1], tbs_end)
        kept = fields[:index] + fields[index + 1 :]
    tbs_skeleton = _tlv(_SEQUENCE, b"".join(bytes(buf[s:e]) for _, s, e in kept))
    skeleton = _tlv(_SEQUENCE, tbs_skeleton + bytes(buf[tbs_end:end]))
    return CrlLayout(tbs_start, tbs_end, entries_start, entries_end, signature, skeleton)


def iter_entries(buf: bytes, start: int, end: int, batch: int = 50_000) -> Iterator[list[Entry]]:
    """Yield the revokedCertificates entries in buf[start:end] as lists of up to `batch`."""
    timegm = calendar.timegm
    hours: dict[bytes, int] = {}  # epoch of each "YYMMDDHH" (or "YYYYMMDDHH") seen
    out: list[Entry] = []
    pos = start
    try:
        while pos < end:
            length = buf[pos + 1]
            if buf[pos] != _SEQUENCE:
                raise CrlFormatError("entry is not a SEQUENCE")
            if length < 0x80:
                body = pos + 2
            else:
                n = length & 0x7F
                length = int.from_bytes(buf[pos + 2 : pos + 2 + n], "big")
                body = pos + 2 + n
            entry_end = body + length
            serial_length = buf[body + 1]
            if buf[body] != _INTEGER or serial_length > 21 or serial_length == 0:
                raise CrlFormatError("entry serial is not a short INTEGER")
            p = body + 2 + serial_length
            serial = buf[body + 2 : p]
            if len(serial) > 1 and serial[0] == 0 and serial[1] < 0x80:
                serial = serial[1:]  # tolerate a non-minimal encoding
            tag = buf[p]
            if tag == _UTC_TIME and buf[p + 1] == 13:
                key = buf[p + 2 : p + 10]
                hour = hours.get(key)
                if hour is None:
                    yy = int(key[0:2])
                    year = 1900 + yy if yy >= 50 else 2000 + yy
                    hour = timegm((year, int(key[2:4]), int(key[4:6]), int(key[6:8]), 0, 0))
                    hours[key] = hour
                revoked_at = hour + int(buf[p + 10 : p + 12]) * 60 + int(buf[p + 12 : p + 14])
                p += 15
            elif tag == _GENERALIZED_TIME and buf[p + 1] == 15:
                key = buf[p + 2 : p + 12]
                hour = hours.get(key)
                if hour is None:
                    hour = timegm(
                        (int(key[0:4]), int(key[4:6]), int(key[6:8]), int(key[8:10]), 0, 0)
                    )
                    hours[key] = hour
                revoked_at = hour + int(buf[p + 12 : p + 14]) * 60 + int(buf[p + 14 : p + 16])
                p += 17
            else:
                raise CrlFormatError("entry revocationDate is not a DER time")
            reason = None
            if p < entry_end:
                oid = buf.find(_REASON_CODE_OID, p, entry_end)
                if oid >= 0:
                    reason = _reason_after(buf, oid + len(_REASON_CODE_OID), entry_end)
            out.append((serial, revoked_at, reason))
            if len(out) >= batch:
                yield out
                out = []
            pos = entry_end
    except (IndexError, ValueError) as e:
        if isinstance(e, CrlFormatError):
            raise
        raise CrlFormatError("malformed revokedCertificates entry") from e
    if pos != end:
        raise CrlFormatError("revokedCertificates entries overrun their SEQUENCE")
    if out:
        yield out


def _reason_after(buf: bytes, pos: int, end: int) -> int:
    """The CRLReason value of a reasonCode extension whose OID ends at pos."""
    if buf[pos] == 0x01:  # critical BOOLEAN
        pos += 3
    # OCTET STRING { ENUMERATED }
    if buf[pos] != 0x04 or buf[pos + 2] != 0x0A or buf[pos + 3] != 1 or pos + 5 > end:
        raise CrlFormatError("malformed reasonCode extension")
    return buf[pos + 4]
