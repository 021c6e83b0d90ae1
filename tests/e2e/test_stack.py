"""The whole stack: pyscard → pcscd → vpcd → `kiosk sim insert` → the virtual card.

Raw pyscard and OpenSC's own clients talk to the card exactly as they would to a real one.
"""

from __future__ import annotations

import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from smartcard.Exceptions import CardConnectionException, NoCardException
from smartcard.System import readers

from kiosk.pki.authority import TestPki
from kiosk.pki.cardfile import CardFile

pytestmark = [pytest.mark.e2e, pytest.mark.reader]

ATR = bytes.fromhex("3BE000FF8131FE4514")
SELECT_JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")
SELECT_AUTH_CERT = bytes.fromhex("00A4020C02000A")


def connect(reader_name: str):
    reader = next(r for r in readers() if str(r) == reader_name)
    connection = reader.createConnection()
    connection.connect()
    return connection


def send(connection, apdu: bytes) -> bytes:
    data, sw1, sw2 = connection.transmit(list(apdu))
    assert (sw1, sw2) == (0x90, 0x00), f"{apdu.hex()} → {sw1:02X}{sw2:02X}"
    return bytes(data)


def read_certificate(connection) -> bytes:
    """Read the current certificate EF: its DER header gives the size, then ≤256-byte chunks."""
    head = send(connection, bytes.fromhex("00B0000004"))
    assert head[:2] == b"\x30\x82", head.hex()
    size = int.from_bytes(head[2:4], "big") + 4
    der = bytearray(head)
    while len(der) < size:
        left = size - len(der)
        le = 0 if left > 255 else left
        der += send(connection, bytes([0x00, 0xB0, len(der) >> 8, len(der) & 0xFF, le]))
    return bytes(der)


def test_reader_is_listed(reader_name: str) -> None:
    assert reader_name in [str(r) for r in readers()]


def test_card_arrives_reads_and_chains_to_the_test_ca(
    inserted_card, reader_name: str, test_pki: TestPki, card_file: CardFile
) -> None:
    connection = connect(reader_name)
    try:
        assert bytes(connection.getATR()) == ATR
        send(connection, SELECT_JPKI)
        send(connection, SELECT_AUTH_CERT)
        der = read_certificate(connection)
    finally:
        connection.disconnect()
    assert der == card_file.auth.certificate
    certificate = x509.load_der_x509_certificate(der)
    certificate.verify_directly_issued_by(test_pki.ca_certificate("auth"))
    with pytest.raises(ValueError):  # …and not by the other hierarchy
        certificate.verify_directly_issued_by(test_pki.ca_certificate("sign"))


def test_card_removal_is_seen(inserted_card, pull_card, reader_name: str) -> None:
    connection = connect(reader_name)
    send(connection, SELECT_JPKI)
    pull_card()
    with pytest.raises(CardConnectionException):
        send(connection, SELECT_JPKI)
    with pytest.raises((NoCardException, CardConnectionException)):
        connect(reader_name)


def opensc(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_opensc_tool_sees_the_card(inserted_card, reader_name: str) -> None:
    assert "3b:e0:00:ff:81:31:fe:45:14" in opensc("opensc-tool", "-r", reader_name, "-a")
    out = opensc("opensc-tool", "-r", reader_name, "-s", SELECT_JPKI.hex().upper())
    assert "SW1=0x90, SW2=0x00" in out
    assert opensc("opensc-tool", "-r", reader_name, "-n").strip() == "jpki"


def test_opensc_jpki_driver_reads_the_certificates(
    inserted_card, reader_name: str, card_file: CardFile
) -> None:
    listing = opensc("pkcs15-tool", "-r", reader_name, "--list-certificates")
    for label in ("User Authentication Certificate", "Digital Signature Certificate CA"):
        assert label in listing
    pem = opensc("pkcs15-tool", "-r", reader_name, "--read-certificate", "1")
    certificate = x509.load_pem_x509_certificate(pem.encode())
    assert certificate.public_bytes(Encoding.DER) == card_file.auth.certificate
