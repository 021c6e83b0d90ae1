"""Serving the POS API (kiosk.pos.server): uvicorn on a thread of the kiosk's process, over a
real socket on 127.0.0.1, in plain HTTP and in TLS; a port it cannot take is a typed error."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import socket
import ssl
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kiosk.pos.api import create_pos_app
from kiosk.pos.server import PosServer, PosServerError
from kiosk.store.engine import Database
from kiosk.store.payment_requests import PaymentRequests

AT = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
TOKEN = "pos-server-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BODY = {"amount_yen": 500, "order_ref": "order-1", "shop": "counter-1"}
RING_UP = "/v1/terminals/t1/payment-requests"


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'kiosk.sqlite3'}")
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def app(db):
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    return create_pos_app(PaymentRequests(db), {"shop-a": digest}, lambda: AT)


@pytest.fixture
def served(app):
    server = PosServer(app, "127.0.0.1", 0)
    server.start()
    yield server
    server.stop()


def self_signed(directory):
    """A certificate for 127.0.0.1 and localhost and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kiosk POS API test")])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(minutes=5))
        .not_valid_after(datetime.now(UTC) + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "pos.crt", directory / "pos.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_the_pos_rings_up_reads_and_cancels_over_the_served_socket(served):
    base = f"http://127.0.0.1:{served.port}"
    with httpx.Client(base_url=base) as pos:
        created = pos.post(RING_UP, json=BODY, headers=AUTH)
        assert created.status_code == 201
        request = created.json()
        assert (request["state"], request["amount_yen"]) == ("open", 500)

        second = pos.post(RING_UP, json=BODY, headers=AUTH)
        assert (second.status_code, second.json()["error"]) == (409, "terminal_busy")

        read = pos.get(f"/v1/payment-requests/{request['request_id']}", headers=AUTH)
        assert (read.status_code, read.json()) == (200, request)

        cancelled = pos.post(f"/v1/payment-requests/{request['request_id']}/cancel", headers=AUTH)
        assert (cancelled.status_code, cancelled.json()["state"]) == (200, "cancelled")


def test_port_0_is_a_free_port_that_is_bound_when_start_returns(app):
    server = PosServer(app, "127.0.0.1", 0)
    server.start()
    try:
        assert server.port > 0
        with socket.create_connection(("127.0.0.1", server.port), timeout=5):
            pass  # connected at once: start returned with the socket listening
    finally:
        server.stop()


def test_a_stopped_server_refuses_connections_and_stop_is_idempotent(app):
    server = PosServer(app, "127.0.0.1", 0)
    server.start()
    port = server.port
    server.stop()
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/openapi.json")


def test_stop_before_start_does_nothing(app):
    PosServer(app, "127.0.0.1", 0).stop()


def test_a_server_starts_once(served):
    with pytest.raises(PosServerError):
        served.start()


def test_a_taken_port_is_a_typed_error_and_nothing_is_left_running(app):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        server = PosServer(app, "127.0.0.1", port)
        with pytest.raises(PosServerError, match=f"127.0.0.1:{port}"):
            server.start()
        server.stop()  # nothing to stop, and no error


def test_a_host_that_is_not_this_machine_s_is_a_typed_error(app):
    with pytest.raises(PosServerError):
        PosServer(app, "192.0.2.1", 0).start()  # TEST-NET-1: no interface has it


def test_tls_serves_the_api_to_a_client_that_trusts_the_certificate(app, tmp_path):
    cert, key = self_signed(tmp_path)
    server = PosServer(app, "127.0.0.1", 0, tls_cert=cert, tls_key=key)
    server.start()
    try:
        trusting = ssl.create_default_context(cafile=cert)
        with httpx.Client(base_url=f"https://127.0.0.1:{server.port}", verify=trusting) as pos:
            assert pos.post(RING_UP, json=BODY, headers=AUTH).status_code == 201
        with pytest.raises(httpx.ConnectError):  # the system's roots do not know it
            httpx.get(f"https://127.0.0.1:{server.port}/openapi.json")
        with pytest.raises(httpx.TransportError):  # and plain http is not spoken
            httpx.get(f"http://127.0.0.1:{server.port}/openapi.json")
    finally:
        server.stop()


def test_a_certificate_that_does_not_load_is_a_typed_error(app, tmp_path):
    cert, key = self_signed(tmp_path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n")
    for tls_cert, tls_key in ((str(garbage), key), (cert, str(tmp_path / "missing.key"))):
        with pytest.raises(PosServerError):
            PosServer(app, "127.0.0.1", 0, tls_cert=tls_cert, tls_key=tls_key).start()


def test_a_certificate_without_its_key_is_refused(app, tmp_path):
    cert, key = self_signed(tmp_path)
    with pytest.raises(PosServerError):
        PosServer(app, "127.0.0.1", 0, tls_cert=cert)
    with pytest.raises(PosServerError):
        PosServer(app, "127.0.0.1", 0, tls_key=key)


def test_no_log_line_carries_the_bearer_token(app, caplog):
    caplog.set_level(logging.DEBUG)
    server = PosServer(app, "127.0.0.1", 0)
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as pos:
            pos.post(RING_UP, json=BODY, headers=AUTH)
            pos.get("/v1/payment-requests/nope", headers={"Authorization": "Bearer wrong-token"})
    finally:
        server.stop()
    served = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert served  # the server did log (start, stop), just never a token; the test's own
    text = "\n".join(r.getMessage() for r in served)  # client's lines are not the kiosk's
    assert TOKEN not in text and "wrong-token" not in text and "Bearer" not in text
