"""RFC 5280's rules for revocation data, the same on both CRL paths — the in-memory index
(`verify_crl_in`) and the store's streaming import (`check_crl` + `replace`, on SQLite and
PostgreSQL) — and bad CRL files skipped one by one (`kiosk crl import`, the platform's start).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from datetime import timedelta
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from der_support import SHA1_RSA, UNKNOWN_ALG, crl_entry, crl_with, der_of, extension, tlv
from enrolment_support import bound_application
from fastapi.testclient import TestClient
from test_verify_support import PROVIDER, TERMINAL, make_proof

from kiosk import config
from kiosk.cli import main as kiosk_main
from kiosk.demo.verification import MemoryRevocationIndex
from kiosk.pki.authority import Revocation, make_crl
from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.crl import check_crl, verify_crl_in
from kiosk.verify.verdict import Reason, Refused

pytest_plugins = ["test_verify_support"]


class InForce:
    """One CRL path: put a CRL in force, and ask whether a serial is revoked."""

    def __init__(self, name: str, world, index) -> None:
        self.name, self.world, self.index = name, world, index

    def put(self, der: bytes, now) -> None:
        if isinstance(self.index, MemoryRevocationIndex):
            self.index.import_crl(verify_crl_in(der, self.world.trust, now))
        else:
            self.index.replace(check_crl(der, self.world.trust, now), now)

    def number(self, which: str) -> int | None:
        info = self.index.crl_info(self.world.key_id(which))
        return None if info is None else info.crl_number

    def revoked(self, which: str, serial: int) -> bool:
        return self.index.lookup(self.world.key_id(which), serial) is not None


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def path(request, world, tmp_path):
    if request.param == "memory":
        yield InForce("memory", world, MemoryRevocationIndex())
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'kiosk.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_db_url")
    db = Database(url)
    db.upgrade()
    yield InForce(request.param, world, SqlRevocationIndex(db))
    db.dispose()


def refusal(fn) -> Reason:
    with pytest.raises(Refused) as e:
        fn()
    return e.value.reason


def auth_serial(world) -> int:
    return x509.load_der_x509_certificate(world.auth_cert).serial_number


def crl(world, extensions=(), *, number=7, revoked=(), this_update=None, which="auth") -> bytes:
    """A CRL of the test CA with extra crlExtensions (cryptography's builder)."""
    this_update = this_update or world.now - timedelta(hours=1)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(world.ca(which).subject)
        .last_update(this_update)
        .next_update(this_update + timedelta(days=1))
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    for value, critical in extensions:
        builder = builder.add_extension(value, critical=critical)
    for serial in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(this_update)
        builder = builder.add_revoked_certificate(entry.build())
    return der_of(builder.sign(world.pki.ca_key(which), hashes.SHA256()))


def idp(**scope) -> tuple[x509.IssuingDistributionPoint, bool]:
    fields = {
        "full_name": None,
        "relative_name": None,
        "only_contains_user_certs": False,
        "only_contains_ca_certs": False,
        "only_some_reasons": None,
        "indirect_crl": False,
        "only_contains_attribute_certs": False,
    }
    return x509.IssuingDistributionPoint(**{**fields, **scope}), True


PARTIAL = {
    "only CA certificates": [idp(only_contains_ca_certs=True)],
    "only attribute certificates": [idp(only_contains_attribute_certs=True)],
    "only some reasons": [idp(only_some_reasons=frozenset({x509.ReasonFlags.key_compromise}))],
    "indirect": [idp(indirect_crl=True)],
    "delta": [(x509.DeltaCRLIndicator(7), True)],
}


def test_a_crl_whose_this_update_is_in_the_future_is_not_in_force(world, path):
    future = crl(world, this_update=world.now + timedelta(minutes=5))
    assert refusal(lambda: path.put(future, world.now)) is Reason.CRL_STALE
    assert path.number("auth") is None


@pytest.mark.parametrize("extensions", PARTIAL.values(), ids=PARTIAL.keys())
def test_a_partial_crl_never_replaces_the_full_one(world, path, extensions):
    path.put(crl(world, revoked=[auth_serial(world)]), world.now)
    later = world.now + timedelta(minutes=1)
    partial = crl(world, extensions, number=8, this_update=later)
    assert refusal(lambda: path.put(partial, later + timedelta(minutes=1))) is Reason.MALFORMED
    assert path.number("auth") == 7 and path.revoked("auth", auth_serial(world))


def test_a_crl_for_end_entity_certificates_only_covers_the_cards(world, path):
    path.put(crl(world, [idp(only_contains_user_certs=True)], revoked=[5]), world.now)
    assert path.number("auth") == 7 and path.revoked("auth", 5)


def test_an_unknown_critical_crl_extension_is_refused_and_a_plain_one_ignored(world, path):
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"), b"\x05\x00")
    assert refusal(lambda: path.put(crl(world, [(unknown, True)]), world.now)) is (Reason.MALFORMED)
    path.put(crl(world, [(unknown, False)]), world.now)
    assert path.number("auth") == 7


def test_a_crl_signed_with_sha1_is_refused(world, path):
    sha1 = crl_with(world.crl("auth"), world.pki.ca_key("auth"), algorithm=SHA1_RSA)
    assert refusal(lambda: path.put(sha1, world.now)) is Reason.CRL_BAD_SIGNATURE
    assert path.number("auth") is None


#: CRL headers cryptography loads and then refuses on access.
UNDECODABLE = {
    "duplicated extension": {"duplicate_extension": True},
    "version 6": {"version": 5},
    "issuer UTF8String that is not UTF-8": {"issuer_cn": (0x0C, b"\xff\xfe")},
    "unknown signature algorithm": {"algorithm": UNKNOWN_ALG},
}


@pytest.mark.parametrize("changes", UNDECODABLE.values(), ids=UNDECODABLE.keys())
def test_an_undecodable_crl_header_is_malformed(world, path, changes):
    bad = crl_with(world.crl("auth"), world.pki.ca_key("auth"), **changes)
    assert refusal(lambda: path.put(bad, world.now)) is Reason.MALFORMED
    assert path.number("auth") is None


REASON = "2.5.29.21"
BAD_ENTRIES = {
    "reason 7 (unused)": crl_entry(5, extensions=tlv(0x30, extension(REASON, b"\x0a\x01\x07"))),
    "unknown critical entry extension": crl_entry(
        5, extensions=tlv(0x30, extension("1.2.3.4", b"\x05\x00", critical=True))
    ),
    "30 February": crl_entry(5, when=b"260230000000Z"),
    "no time zone": crl_entry(5, when=b"2601010000000"),
}


@pytest.mark.parametrize("entry", BAD_ENTRIES.values(), ids=BAD_ENTRIES.keys())
def test_a_crl_with_a_malformed_entry_changes_nothing(world, path, entry):
    path.put(world.crl("auth", [5, 6], number=7), world.now)
    newer = world.crl("auth", number=8, this_update=world.now - timedelta(minutes=5))
    bad = crl_with(newer, world.pki.ca_key("auth"), entries=[crl_entry(9), entry])
    with pytest.raises((Refused, StoreError)):
        path.put(bad, world.now)
    assert path.number("auth") == 7
    assert (path.revoked("auth", 5), path.revoked("auth", 6), path.revoked("auth", 9)) == (
        True,
        True,
        False,
    )


# --- bad files among good ones ------------------------------------------------------------


def crl_files(world, tmp_path):
    """A CRL directory: the auth CRL good, the sign CRL undecodable, and a file of junk."""
    crls = tmp_path / "crl"
    crls.mkdir()
    (crls / "auth.crl").write_bytes(world.crl("auth"))
    bad = crl_with(world.crl("sign"), world.pki.ca_key("sign"), duplicate_extension=True)
    (crls / "sign.crl").write_bytes(bad)
    (crls / "junk.der").write_bytes(b"\x30\x03\x02\x01\x01")
    return crls


def test_crl_import_skips_the_bad_files_and_imports_the_good_ones(world, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'k.sqlite3'}"
    crls = crl_files(world, tmp_path)
    args = ["crl", "import", str(crls), "--trust", str(world.pki.trust_dir), "--url", url]
    assert kiosk_main(args) == 2
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ")[1] for line in lines] == ["imported", "refused", "refused"]
    assert "sign.crl: refused: malformed:" in lines[2]
    assert "junk.der: refused: malformed:" in lines[1]
    db = Database(url)
    index = SqlRevocationIndex(db)
    assert index.crl_info(world.key_id("auth")) is not None
    assert index.crl_info(world.key_id("sign")) is None
    db.dispose()


TOKEN = secrets.token_urlsafe(32)


def test_a_platform_with_a_bad_crl_starts_and_refuses_only_that_issuers_cards(
    world, tmp_path, caplog
):
    from kiosk.platform.service import app_from_config

    cfg = config.from_mapping(
        {
            "data_dir": str(tmp_path / "data"),
            "trust_dir": str(world.pki.trust_dir),
            "crl_dir": str(crl_files(world, tmp_path)),
            "platform_tokens": {PROVIDER: hashlib.sha256(TOKEN.encode()).hexdigest()},
        }
    )
    with caplog.at_level(logging.WARNING, logger="kiosk.local"):
        app = app_from_config(cfg)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "sign.crl: refused: malformed" in logged and "junk.der: refused" in logged
    assert f"no CRL in force for the CA {world.ca('sign').subject.rfc4514_string()}" in logged
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(app) as http:

        def challenge() -> SimpleNamespace:
            body = {"provider_id": PROVIDER, "terminal_id": TERMINAL}
            answer = http.post("/v1/challenges", json=body, headers=headers)
            assert answer.status_code == 201
            nonce = base64.b64decode(answer.json()["nonce"])
            return SimpleNamespace(provider_id=PROVIDER, terminal_id=TERMINAL, nonce=nonce)

        proof = make_proof(world, challenge())
        verdict = http.post("/v1/proofs", json=proof.to_json(), headers=headers).json()
        assert (verdict["ok"], verdict["reason"]) == (True, "ok")  # the auth CA's cards work

        application = bound_application(PROVIDER, TERMINAL, challenge().nonce, sign_card=world)
        answer = http.post("/v1/enrolments", json=application.to_json(), headers=headers)
        assert answer.status_code == 200
        assert (answer.json()["ok"], answer.json()["reason"]) == (False, "crl_missing")


def test_revocations_are_read_the_same_on_both_paths(world, path):
    serials = [1, 127, 128, (1 << 159) - 1]
    when = world.now - timedelta(days=1)
    revocations = [Revocation(s, when, x509.ReasonFlags.superseded) for s in serials]
    der = der_of(
        make_crl(
            world.ca("auth"),
            world.pki.ca_key("auth"),
            revocations,
            this_update=world.now - timedelta(hours=1),
            next_update=world.now + timedelta(days=1),
            number=3,
        )
    )
    path.put(der, world.now)
    assert [path.revoked("auth", s) for s in [*serials, 2, 129]] == [True] * 4 + [False] * 2
