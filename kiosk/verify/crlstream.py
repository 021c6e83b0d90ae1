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
_EXTENSIONS = 0xA0  # [0] EXPLICIT crlExtensions


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
        if n == 0 or n > 4 or pos + n > end or buf[pos] == 0:
            raise CrlFormatError("unsupported DER length")
        length = int.from_bytes(buf[pos : pos + n], "big")
        if length < 0x80:
            raise CrlFormatError("DER length is not minimal")
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
    _, alg_field_start, alg_field_end = fields[index - 3]
    if buf[alg_field_start:alg_field_end] != buf[tbs_end:alg_end]:
        raise CrlFormatError("the signature algorithm differs inside and outside tbsCertList")
    if index < len(fields) and fields[index][0] in (_UTC_TIME, _GENERALIZED_TIME):
        index += 1  # nextUpdate
    entries_start = entries_end = tbs_end
    kept = fields
    if index < len(fields) and fields[index][0] == _SEQUENCE:
        _, entries_start, entries_end = _header(buf, fields[index][1], tbs_end)
        kept = fields[:index] + fields[index + 1 :]
        index += 1
    if index < len(fields) and fields[index][0] == _EXTENSIONS:
        index += 1
    if index != len(fields):  # the skeleton must be this CRL without its entries, nothing else
        raise CrlFormatError("tbsCertList has fields out of place")
    tbs_skeleton = _tlv(_SEQUENCE, b"".join(bytes(buf[s:e]) for _, s, e in kept))
    skeleton = _tlv(_SEQUENCE, tbs_skeleton + bytes(buf[tbs_end:end]))
    return CrlLayout(tbs_start, tbs_end, entries_start, entries_end, signature, skeleton)


def iter_entries(buf: bytes, start: int, end: int, batch: int = 50_000) -> Iterator[list[Entry]]:
    """Yield the revokedCertificates entries in buf[start:end] as lists of up to `batch`.

    Strict DER, as `cryptography` reads a whole CRL: minimal lengths and serials, times of the
    exact DER form and a real calendar date, every entry extension well formed and none
    repeated. A critical entry extension other than reasonCode, invalidityDate and
    holdInstructionCode, or a certificateIssuer (indirect CRLs), raises CrlFormatError: the
    CRL cannot be used (RFC 5280 §5.3)."""
    hours: dict[bytes, int] = {}  # epoch of each valid "YYMMDDHH" (or "YYYYMMDDHH") seen
    sixty = _SIXTY
    out: list[Entry] = []
    pos = start
    try:
        while pos < end:
            if buf[pos] != _SEQUENCE:
                raise CrlFormatError("entry is not a SEQUENCE")
            length = buf[pos + 1]
            if length < 0x80:
                body = pos + 2
            else:
                length, body = _long_length(buf, pos + 1)
            entry_end = body + length
            serial_length = buf[body + 1]
            if buf[body] != _INTEGER or serial_length > 21 or serial_length == 0:
                raise CrlFormatError("entry serial is not a short INTEGER")
            p = body + 2 + serial_length
            serial = buf[body + 2 : p]
            if serial_length > 1 and (
                (serial[0] == 0 and serial[1] < 0x80) or (serial[0] == 0xFF and serial[1] >= 0x80)
            ):
                raise CrlFormatError("entry serial is not minimally encoded")
            tag, time_length = buf[p], buf[p + 1]
            if tag == _UTC_TIME and time_length == 13:
                key, minute = buf[p + 2 : p + 10], p + 10
            elif tag == _GENERALIZED_TIME and time_length == 15:
                key, minute = buf[p + 2 : p + 12], p + 12
            else:
                raise CrlFormatError("entry revocationDate is not a DER time")
            time_end = minute + 5
            if time_end > entry_end or buf[minute + 4] != _Z:
                raise CrlFormatError("entry revocationDate is not a DER time")
            hour = hours.get(key)
            if hour is None:
                hour = hours[key] = _hour(key)
            seconds = sixty[buf[minute : minute + 2]] * 60 + sixty[buf[minute + 2 : minute + 4]]
            revoked_at = hour + seconds
            reason = None if time_end == entry_end else _entry_extensions(buf, time_end, entry_end)
            out.append((serial, revoked_at, reason))
            if len(out) >= batch:
                yield out
                out = []
            pos = entry_end
    except (IndexError, KeyError, ValueError) as e:
        if isinstance(e, CrlFormatError):
            raise
        raise CrlFormatError("malformed revokedCertificates entry") from e
    if pos != end:
        raise CrlFormatError("revokedCertificates entries overrun their SEQUENCE")
    if out:
        yield out


_Z = 0x5A
_BOOLEAN = 0x01
_OCTET_STRING = 0x04
_ENUMERATED = 0x0A
_OID = 0x06
#: "00" … "59" as the two bytes of a DER time's minutes or seconds, and their value.
_SIXTY = {f"{n:02d}".encode(): n for n in range(60)}
#: Entry extensions (OID content octets) this reader understands.
_REASON_CODE = bytes.fromhex("551d15")  # 2.5.29.21
_HOLD_INSTRUCTION = bytes.fromhex("551d17")  # 2.5.29.23
_INVALIDITY_DATE = bytes.fromhex("551d18")  # 2.5.29.24
_CERTIFICATE_ISSUER = bytes.fromhex("551d1d")  # 2.5.29.29
#: CRLReason values RFC 5280 defines (7 is unused).
_REASONS = frozenset({0, 1, 2, 3, 4, 5, 6, 8, 9, 10})


def _long_length(buf: bytes, pos: int) -> tuple[int, int]:
    """(length, content start) of a long-form DER length at pos, which must be minimal."""
    n = buf[pos] & 0x7F
    if n == 0 or n > 4 or buf[pos + 1] == 0:
        raise CrlFormatError("unsupported DER length")
    length = int.from_bytes(buf[pos + 1 : pos + 1 + n], "big")
    if length < 0x80:
        raise CrlFormatError("DER length is not minimal")
    return length, pos + 1 + n


def _hour(key: bytes) -> int:
    """Unix seconds of "YYMMDDHH" (UTCTime) or "YYYYMMDDHH" (GeneralizedTime), checked."""
    if not key.isdigit():
        raise CrlFormatError("time has non-digits")
    if len(key) == 8:
        yy = int(key[0:2])
        year, rest = (1900 + yy if yy >= 50 else 2000 + yy), key[2:]
    else:
        year, rest = int(key[0:4]), key[4:]
    month, day, hour = int(rest[0:2]), int(rest[2:4]), int(rest[4:6])
    if year < 1 or not 1 <= month <= 12 or hour > 23:
        raise CrlFormatError("time out of range")
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise CrlFormatError("time is not a calendar date")
    return calendar.timegm((year, month, day, hour, 0, 0))


def _strict_header(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of a strict DER TLV at pos, within end."""
    tag, length = buf[pos], buf[pos + 1]
    start = pos + 2
    if length >= 0x80:
        length, start = _long_length(buf, pos + 1)
    stop = start + length
    if stop > end:
        raise CrlFormatError("DER length runs past the end")
    return tag, start, stop


def _entry_extensions(buf: bytes, pos: int, end: int) -> int | None:
    """Check an entry's crlEntryExtensions (exactly buf[pos:end]); its CRLReason, if any."""
    tag, start, stop = _strict_header(buf, pos, end)
    if tag != _SEQUENCE or stop != end or start == stop:
        raise CrlFormatError("malformed crlEntryExtensions")
    seen: set[bytes] = set()
    reason = None
    p = start
    while p < stop:
        tag, ext, ext_end = _strict_header(buf, p, stop)
        if tag != _SEQUENCE:
            raise CrlFormatError("malformed entry extension")
        tag, oid_start, q = _strict_header(buf, ext, ext_end)
        oid = bytes(buf[oid_start:q])
        if tag != _OID or not _oid_ok(oid) or oid in seen:
            raise CrlFormatError("malformed or repeated entry extension")
        seen.add(oid)
        critical = False
        if buf[q] == _BOOLEAN:
            tag, flag, q = _strict_header(buf, q, ext_end)
            if q - flag != 1 or buf[flag] != 0xFF:  # DER: FALSE is the default, never written
                raise CrlFormatError("malformed critical flag")
            critical = True
        tag, value, value_end = _strict_header(buf, q, ext_end)
        if tag != _OCTET_STRING or value_end != ext_end:
            raise CrlFormatError("malformed entry extension value")
        if oid == _REASON_CODE:
            if bytes(buf[value:value_end]) not in _REASON_TLVS:
                raise CrlFormatError("malformed reasonCode extension")
            reason = buf[value + 2]
        elif oid == _INVALIDITY_DATE:
            _generalized_time(buf, value, value_end)
        elif oid == _HOLD_INSTRUCTION:
            tag, inner, inner_end = _strict_header(buf, value, value_end)
            if tag != _OID or inner_end != value_end or not _oid_ok(bytes(buf[inner:inner_end])):
                raise CrlFormatError("malformed holdInstructionCode extension")
        elif oid == _CERTIFICATE_ISSUER:
            raise CrlFormatError("entries of an indirect CRL are not supported")
        elif critical:
            raise CrlFormatError("an entry has a critical extension this reader does not process")
        p = ext_end
    return reason


_REASON_TLVS = frozenset(bytes([_ENUMERATED, 1, r]) for r in _REASONS)


def _generalized_time(buf: bytes, start: int, end: int) -> None:
    tag, value, value_end = _strict_header(buf, start, end)
    if tag != _GENERALIZED_TIME or value_end != end or value_end - value != 15:
        raise CrlFormatError("malformed invalidityDate extension")
    if buf[value + 14] != _Z or buf[value + 10 : value + 12] not in _SIXTY:
        raise CrlFormatError("malformed invalidityDate extension")
    if buf[value + 12 : value + 14] not in _SIXTY:
        raise CrlFormatError("malformed invalidityDate extension")
    _hour(bytes(buf[value : value + 10]))


def _oid_ok(content: bytes) -> bool:
    """Whether OID content octets are DER: non-empty, no arc starts with 0x80, last ends."""
    if not content or content[-1] & 0x80 or content[0] == 0x80:
        return False
    starts = (cur for prev, cur in zip(content, content[1:], strict=False) if not prev & 0x80)
    return 0x80 not in starts
