"""The streaming DER reader of CRL entries, against CRLs made by `cryptography`."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from kiosk.store.records import serial_from_bytes, serial_to_bytes
from kiosk.verify.crlstream import CrlFormatError, iter_entries, read_layout

NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Stream Test CA")])
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def key(test_pki):
    return test_pki.ca_key("auth")


def build(key: rsa.RSAPrivateKey, entries) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(NAME)
        .last_update(WHEN)
        .next_update(datetime(2026, 1, 2, tzinfo=UTC))
        .add_extension(x509.CRLNumber(42), critical=False)
    )
    for serial, at, reason in entries:
        rb = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(at)
        if reason is not None:
            rb = rb.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(rb.build())
    crl = builder.sign(key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.DER)


def walk(der: bytes, batch=50_000):
    layout = read_layout(der)
    return [
        e
        for chunk in iter_entries(der, layout.entries_start, layout.entries_end, batch)
        for e in chunk
    ]


def test_entries_match_cryptography_including_both_time_forms(key):
    entries = [
        (1, datetime(1999, 12, 31, 23, 59, 58, tzinfo=UTC), None),  # UTCTime 19xx
        ((1 << 158) + 3, datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), x509.ReasonFlags.superseded),
        (255, datetime(2051, 6, 7, 8, 9, 10, tzinfo=UTC), x509.ReasonFlags.key_compromise),
    ]
    der = build(key, entries)
    parsed = walk(der)
    expected = [
        (
            serial_to_bytes(s),
            calendar.timegm(at.timetuple()),
            None if r is None else {"superseded": 4, "keyCompromise": 1}[r.value],
        )
        for s, at, r in entries
    ]
    assert sorted(parsed) == sorted(expected)
    assert sorted(serial_from_bytes(p[0]) for p in parsed) == sorted(s for s, _, _ in entries)


def test_batches_split_the_entries(key):
    der = build(key, [(s, WHEN, None) for s in range(1, 8)])
    layout = read_layout(der)
    sizes = [len(b) for b in iter_entries(der, layout.entries_start, layout.entries_end, 3)]
    assert sizes == [3, 3, 1]


def test_empty_crl_and_skeleton_parse(key):
    der = build(key, [])
    layout = read_layout(der)
    assert walk(der) == []
    header = x509.load_der_x509_crl(layout.skeleton)
    assert header.issuer == NAME and header.next_update_utc == datetime(2026, 1, 2, tzinfo=UTC)
    assert der[layout.tbs_start : layout.tbs_end] == x509.load_der_x509_crl(der).tbs_certlist_bytes


def test_skeleton_drops_only_the_entries(key):
    der = build(key, [(s, WHEN, None) for s in range(1, 50)])
    layout = read_layout(der)
    header = x509.load_der_x509_crl(layout.skeleton)
    full = x509.load_der_x509_crl(der)
    assert len(header) == 0 and len(full) == 49
    assert [e.value for e in header.extensions] == [x509.CRLNumber(42)]
    assert header.last_update_utc == WHEN


def test_serial_codec_is_minimal_and_round_trips():
    for serial in (0, 1, 127, 128, 255, 256, (1 << 159) + 1, -1):
        octets = serial_to_bytes(serial)
        assert serial_from_bytes(octets) == serial
        assert octets == serial.to_bytes(len(octets), "big", signed=True)
        assert (
            len(octets) == 1
            or octets[:2] not in (b"\x00" + bytes([octets[1]]),)
            or octets[1] >= 0x80
        )
    assert serial_to_bytes(128) == b"\x00\x80"
    assert len(serial_to_bytes((1 << 160) - 1)) == 21


def test_a_plain_entry_is_read():
    entry = b"\x30\x12\x02\x01\x05\x17\x0d" + b"260101000000Z"
    assert list(iter_entries(entry, 0, len(entry))) == [[(b"\x05", 1767225600, None)]]


def ext(oid: bytes, value: bytes, critical: bool = False) -> bytes:
    """One Extension TLV (OID content octets, OCTET STRING content)."""
    flag = b"\x01\x01\xff" if critical else b""
    body = b"\x06" + bytes([len(oid)]) + oid + flag + b"\x04" + bytes([len(value)]) + value
    return b"\x30" + bytes([len(body)]) + body


def entry_with(*extensions: bytes) -> bytes:
    exts = b"".join(extensions)
    body = b"\x02\x01\x05\x17\x0d260101000000Z" + b"\x30" + bytes([len(exts)]) + exts
    return b"\x30" + bytes([len(body)]) + body


REASON, INVALIDITY = bytes.fromhex("551d15"), bytes.fromhex("551d18")
ISSUER = bytes.fromhex("551d1d")


def test_entry_extensions_that_are_understood():
    reason = ext(REASON, b"\x0a\x01\x01")
    invalidity = ext(INVALIDITY, b"\x18\x0f20251231235959Z")
    unknown = ext(bytes.fromhex("2a0304"), b"\x05\x00")  # 1.2.3.4, not critical: ignored
    entry = entry_with(reason, invalidity, unknown)
    assert list(iter_entries(entry, 0, len(entry))) == [[(b"\x05", 1767225600, 1)]]


@pytest.mark.parametrize(
    "bad",
    [
        b"\x30\x13\x02\x02\x00\x05\x17\x0d260101000000Z",  # serial 00 05: not minimal
        b"\x30\x81\x12\x02\x01\x05\x17\x0d260101000000Z",  # length 81 12: not minimal
        b"\x30\x12\x02\x01\x05\x17\x0d261301000000Z",  # month 13
        b"\x30\x12\x02\x01\x05\x17\x0d260230000000Z",  # 30 February
        b"\x30\x12\x02\x01\x05\x17\x0d2601010000 0Z",  # a space in the seconds
        b"\x30\x12\x02\x01\x05\x17\x0d260101000000+",  # no Z
        entry_with(ext(REASON, b"\x0a\x01\x07")),  # reason 7 does not exist
        entry_with(ext(REASON, b"\x0a\x01\x01"), ext(REASON, b"\x0a\x01\x01")),  # twice
        entry_with(ext(bytes.fromhex("2a0304"), b"\x05\x00", critical=True)),  # unknown critical
        entry_with(ext(ISSUER, b"\x30\x00")),  # an indirect CRL's entry
        entry_with(ext(REASON, b"\x0a\x01\x01", critical=False) + b"\x00"),  # trailing byte
    ],
)
def test_entries_cryptography_would_refuse_are_refused(bad):
    with pytest.raises(CrlFormatError):
        list(iter_entries(bad, 0, len(bad)))


@pytest.mark.parametrize(
    "bad",
    [
        b"\x31\x11\x02\x01\x05\x17\x0d260101000000Z",  # not a SEQUENCE
        b"\x30\x11\x04\x01\x05\x17\x0d260101000000Z",  # serial not an INTEGER
        b"\x30\x11\x02\x01\x05\x04\x0d260101000000Z",  # date not a time
        b"\x30\x11\x02\x01\x05\x17\x0d2601010000",  # truncated
    ],
)
def test_malformed_entries_are_refused(bad):
    with pytest.raises(CrlFormatError):
        list(iter_entries(bad, 0, len(bad)))


def test_not_a_crl_is_refused():
    for bad in (b"", b"\x30\x00", b"\x30\x05\x30\x03\x02\x01\x01", b"\x04\x02ab"):
        with pytest.raises(CrlFormatError):
            read_layout(bad)
