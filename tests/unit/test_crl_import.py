"""CRL import: signature and issuer checks, PEM/DER/directory/URL, atomic replacement, lookup."""

from __future__ import annotations

import http.server
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from kiosk.cli import main as kiosk_main
from kiosk.pki.authority import Revocation, make_ca, make_crl
from kiosk.store.crlimport import crl_paths, fetch_url, open_crl
from kiosk.store.engine import Database
from kiosk.store.errors import CrlMalformed, CrlOutdated
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.store.verification import SqlVerificationStore
from kiosk.verify import crl as verify_crl_module
from kiosk.verify.crl import check_crl as verify_check_crl
from kiosk.verify.crlstream import iter_entries
from kiosk.verify.ports import ChallengeClaim, LedgerEntry
from kiosk.verify.trust import TrustStore
from kiosk.verify.verdict import Reason, Refused

NOW = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def index(db):
    return SqlRevocationIndex(db)


@pytest.fixture(scope="module")
def trust(test_pki):
    return TrustStore.from_dir(test_pki.trust_dir)


def crl_der(
    pki, serials, *, number, which="auth", this_update=NOW, key=None, cert=None, reason=None
):
    crl = make_crl(
        cert or pki.ca_certificate(which),
        key or pki.ca_key(which),
        [Revocation(s, this_update - timedelta(days=1, seconds=s % 977), reason) for s in serials],
        this_update=this_update,
        next_update=this_update + timedelta(days=1),
        number=number,
    )
    return crl.public_bytes(serialization.Encoding.DER)


def check_crl(der, trust, now=NOW):
    """The verifier's check at the tests' time (a day after thisUpdate by default)."""
    return verify_check_crl(der, trust, now)


def refusal(der, trust) -> Reason:
    with pytest.raises(Refused) as e:
        check_crl(der, trust)
    return e.value.reason


def verdict(n: int) -> LedgerEntry:
    """A verdict the kiosk records (its own write), using up challenge n."""
    expires_us = (NOW + timedelta(seconds=60) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
        microseconds=1
    )
    claim = ChallengeClaim(bytes([n]) * 32, expires_us)
    return LedgerEntry(NOW, "demo-clinic", "kiosk-1", "user_proof", True, "ok", challenge=claim)


def key_id(pki, which):
    return x509.SubjectKeyIdentifier.from_public_key(pki.ca_key(which).public_key()).digest.hex()


def test_import_then_lookup_by_issuer_and_serial(test_pki, trust, index):
    big = (1 << 159) - 12345  # a 20-octet serial
    der = crl_der(test_pki, [5, 77, big], number=3, reason=x509.ReasonFlags.key_compromise)
    result = index.replace(check_crl(der, trust), NOW)
    assert (result.entries, result.replaced, result.crl_number) == (3, True, 3)
    auth = key_id(test_pki, "auth")
    entry = index.lookup(auth, big)
    assert entry is not None and entry.serial == big
    assert entry.reason == "key_compromise"
    assert entry.revoked_at == NOW - timedelta(days=1, seconds=big % 977)
    assert index.lookup(auth, 6) is None
    assert index.lookup(key_id(test_pki, "sign"), 5) is None  # another issuer's list
    info = index.crl_info(auth)
    assert (info.this_update, info.next_update, info.crl_number, info.entries) == (
        NOW,
        NOW + timedelta(days=1),
        3,
        3,
    )
    assert index.crl_info(key_id(test_pki, "sign")) is None


def test_entry_without_reason_has_none(test_pki, trust, index):
    index.replace(check_crl(crl_der(test_pki, [9], number=1), trust), NOW)
    assert index.lookup(key_id(test_pki, "auth"), 9).reason is None


def test_newer_crl_replaces_the_old_one_entirely(test_pki, trust, index, db):
    auth = key_id(test_pki, "auth")
    index.replace(check_crl(crl_der(test_pki, [1, 2, 3], number=1), trust), NOW)
    later = NOW + timedelta(hours=6)
    newer = crl_der(test_pki, [3, 4], number=2, this_update=later)
    index.replace(check_crl(newer, trust, later), later)
    assert [index.lookup(auth, s) is not None for s in (1, 2, 3, 4)] == [False, False, True, True]
    assert index.crl_info(auth).crl_number == 2
    with db.reading() as conn:  # the old generation's rows are gone
        assert conn.exec_driver_sql("SELECT count(*) FROM revoked_serials").scalar() == 2


def test_older_crl_is_refused_and_the_same_one_is_a_no_op(test_pki, trust, index):
    auth = key_id(test_pki, "auth")
    current = crl_der(test_pki, [1], number=5)
    index.replace(check_crl(current, trust), NOW)
    with pytest.raises(CrlOutdated):
        index.replace(check_crl(crl_der(test_pki, [], number=4), trust), NOW)
    again = index.replace(check_crl(current, trust), NOW)
    assert again.replaced is False
    assert index.lookup(auth, 1) is not None


def test_bad_signature_is_refused(test_pki, trust):
    der = bytearray(crl_der(test_pki, [1], number=1))
    der[-5] ^= 0x01  # inside the signature value
    assert refusal(bytes(der), trust) is Reason.CRL_BAD_SIGNATURE


def test_crl_signed_by_another_key_under_the_same_name_is_refused(test_pki, trust):
    impostor_key = test_pki.ca_key("sign")  # a different key than the auth CA's
    impostor = make_ca(
        "auth", impostor_key, not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=30)
    )
    forged = crl_der(test_pki, [1], number=1, key=impostor_key, cert=impostor)
    assert refusal(forged, trust) is Reason.CRL_BAD_SIGNATURE


def test_crl_of_an_unknown_issuer_is_refused(test_pki, trust):
    key = test_pki.ca_key("sign")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some Other CA")])
    other = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=9))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    foreign = crl_der(test_pki, [1], number=1, key=key, cert=other)
    assert refusal(foreign, trust) is Reason.UNKNOWN_ISSUER


def test_garbage_and_truncated_files_are_malformed(test_pki, trust):
    der = crl_der(test_pki, [1, 2], number=1)
    for bad in (b"not a crl", der[:-10], der + b"\x00"):
        assert refusal(bad, trust) is Reason.MALFORMED


def test_delta_crls_are_refused(test_pki, trust):
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(test_pki.ca_certificate("auth").subject)
        .last_update(NOW)
        .next_update(NOW + timedelta(days=1))
        .add_extension(x509.DeltaCRLIndicator(1), critical=True)
        .sign(test_pki.ca_key("auth"), hashes.SHA256())
    )
    with pytest.raises(Refused, match="delta") as e:
        check_crl(crl.public_bytes(serialization.Encoding.DER), trust)
    assert e.value.reason is Reason.MALFORMED


def test_pem_der_and_directory_sources(test_pki, trust, tmp_path):
    der = crl_der(test_pki, [11, 12], number=1)
    pem = x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
    (tmp_path / "a.crl").write_bytes(der)
    (tmp_path / "b.pem").write_bytes(pem)
    (tmp_path / "notes.txt").write_text("not a CRL")
    paths = crl_paths(tmp_path)
    assert [p.name for p in paths] == ["a.crl", "b.pem"]
    for path in paths:
        with open_crl(path) as buf:
            assert check_crl(buf, trust).layout == check_crl(der, trust).layout


def test_http_url_source(test_pki, trust, tmp_path):
    (tmp_path / "auth.crl").write_bytes(crl_der(test_pki, [21], number=1))

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/auth.crl"
        assert check_crl(fetch_url(url), trust).crl_number == 1
    finally:
        server.shutdown()
        server.server_close()


def test_a_reader_during_an_import_sees_the_old_crl(test_pki, trust, db, index, monkeypatch):
    auth = key_id(test_pki, "auth")
    index.replace(check_crl(crl_der(test_pki, [1, 2], number=1), trust), NOW)
    new = check_crl(crl_der(test_pki, list(range(100, 110)), number=2), trust)
    halfway, resume = threading.Event(), threading.Event()

    def paused(buf, start, end, batch=50_000):
        for i, chunk in enumerate(iter_entries(buf, start, end, batch=3)):
            yield chunk
            if i == 1:  # some of the new entries are written, not committed
                halfway.set()
                assert resume.wait(30)

    monkeypatch.setattr(verify_crl_module, "iter_entries", paused)
    importer = threading.Thread(target=index.replace, args=(new, NOW))
    importer.start()
    other = Database(db.url)
    try:
        assert halfway.wait(30)
        seen = (
            index.lookup(auth, 1) is not None,
            index.lookup(auth, 100) is not None,
            index.crl_info(auth).crl_number,
        )
        kiosk = SqlVerificationStore(other)  # the kiosk's proof reads see the old CRL too
        read = tuple(kiosk.proof_context("demo-clinic", auth, s).auth_crl.revoked for s in (1, 100))
        started = time.monotonic()
        assert kiosk.record(verdict(1))  # and its own writes go on
        assert time.monotonic() - started < 5  # not queued behind the import
    finally:
        resume.set()
        importer.join(30)
        other.dispose()
    assert (seen, read) == ((True, False, 1), (True, False))
    assert (index.lookup(auth, 1), index.crl_info(auth).entries) == (None, 10)
    assert index.lookup(auth, 109) is not None


def test_cli_imports_a_directory_and_refuses_a_bad_file(test_pki, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'k.sqlite3'}"
    assert kiosk_main(["db", "upgrade", "--url", url]) == 0
    crls = tmp_path / "crls"
    crls.mkdir()
    (crls / "auth.crl").write_bytes(crl_der(test_pki, [31], number=1))
    (crls / "sign.der").write_bytes(crl_der(test_pki, [32], number=1, which="sign"))
    args = ["crl", "import", str(crls), "--trust", str(test_pki.trust_dir), "--url", url]
    assert kiosk_main(args) == 0
    out = capsys.readouterr().out
    assert out.count(": imported:") == 2
    (crls / "zz-bad.crl").write_bytes(b"\x30\x03\x02\x01\x01")
    assert kiosk_main(args) == 2
    out = capsys.readouterr().out
    assert "zz-bad.crl: refused" in out and out.count("already in force") == 2
    index = SqlRevocationIndex(Database(url))
    assert index.lookup(key_id(test_pki, "sign"), 32) is not None


def test_a_crl_listing_a_serial_twice_changes_nothing(test_pki, trust, index):
    auth = key_id(test_pki, "auth")
    index.replace(check_crl(crl_der(test_pki, [1], number=1), trust), NOW)
    with pytest.raises(CrlMalformed, match="twice"):  # the store's key says so
        index.replace(check_crl(crl_der(test_pki, [7, 8, 7], number=2), trust), NOW)
    assert index.crl_info(auth).crl_number == 1
    assert (index.lookup(auth, 1) is not None, index.lookup(auth, 8)) == (True, None)


def test_sqlite_import_commits_in_chunks_yet_readers_see_the_old_crl(
    test_pki, trust, tmp_path, monkeypatch
):
    from kiosk.store import sqlitecrl

    url = f"sqlite:///{tmp_path / 'k.sqlite3'}"
    db = Database(url)
    db.upgrade()
    index = SqlRevocationIndex(db)
    auth = key_id(test_pki, "auth")
    index.replace(check_crl(crl_der(test_pki, [1, 2], number=1), trust), NOW)
    monkeypatch.setattr(sqlitecrl, "CHUNK_ROWS", 3)  # 10 entries: 4 write transactions
    before_flip, resume = threading.Event(), threading.Event()
    flip = sqlitecrl.SqliteCrlLoader._flip

    def paused_flip(self, *args):
        before_flip.set()
        assert resume.wait(30)
        return flip(self, *args)

    monkeypatch.setattr(sqlitecrl.SqliteCrlLoader, "_flip", paused_flip)
    new = check_crl(crl_der(test_pki, list(range(100, 110)), number=2), trust)
    importer = threading.Thread(target=index.replace, args=(new, NOW))
    importer.start()
    other = Database(url)
    try:
        assert before_flip.wait(30)
        with db.reading() as conn:  # the new entries are committed…
            rows = conn.exec_driver_sql("SELECT count(*) FROM revoked_serials").scalar()
        seen = (
            rows,
            index.lookup(auth, 1) is not None,
            index.lookup(auth, 105),
            index.crl_info(auth).crl_number,
        )  # …but not in force
        kiosk = SqlVerificationStore(other)  # not for the kiosk's proof reads either
        read = tuple(kiosk.proof_context("demo-clinic", auth, s).auth_crl.revoked for s in (1, 105))
        started = time.monotonic()
        assert kiosk.record(verdict(1))  # and the kiosk's own writes…
        assert time.monotonic() - started < 5  # …are not held up
    finally:
        resume.set()
        importer.join(30)
        other.dispose()
    assert (seen, read) == ((12, True, None, 1), (True, False))
    assert index.lookup(auth, 1) is None and index.lookup(auth, 105) is not None
    with db.reading() as conn:  # the replaced generation is gone
        assert conn.exec_driver_sql("SELECT count(*) FROM revoked_serials").scalar() == 10
    db.dispose()


def test_cli_import_into_a_fresh_store_creates_its_schema(test_pki, tmp_path, capsys):
    config = tmp_path / "kiosk.toml"
    data = tmp_path / "new-data-dir"
    config.write_text(f'data_dir = "{data}"\ntrust_dir = "{test_pki.trust_dir}"\n')
    crls = tmp_path / "crls"
    crls.mkdir()
    (crls / "auth.crl").write_bytes(crl_der(test_pki, [41], number=1))
    assert kiosk_main(["crl", "import", str(crls), "--config", str(config)]) == 0
    assert ": imported:" in capsys.readouterr().out
    index = SqlRevocationIndex(Database(f"sqlite:///{data / 'kiosk.sqlite3'}"))
    assert index.lookup(key_id(test_pki, "auth"), 41) is not None
