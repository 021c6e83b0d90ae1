"""Renewal as the operator and the person meet it (issue 16, parts 2 and 4): the link-data
file (checked whole, refused by line), `kiosk renewal import` and `kiosk renewal sweep` over
the store (SQLite and PostgreSQL), and the expiry notice's 90-day window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kiosk.cli import main
from kiosk.pki.authority import Revocation, make_crl
from kiosk.services.renewal import (
    HEADER,
    ExpiryAhead,
    SuccessionFileError,
    expiry_ahead,
    parse_successions,
    sweep,
)
from kiosk.store.links import LinkRepository
from kiosk.store.records import LinkStatus
from kiosk.store.renewal import Outcome, Renewal, SqlSuccessionSource, Succession
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.crl import check_crl
from kiosk.verify.trust import TrustStore
from kiosk.verify.verdict import CertRef

AT = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
KA, KB = "a1" * 20, "b2" * 32


# --- the file ---------------------------------------------------------------------------------


def test_a_well_formed_file_gives_its_records():
    text = (
        "# delivery 2026-04-01\n"
        f"{HEADER}\n"
        f"{KA},0100,{KA},0A1f\n"
        "\n"
        f" {KB.upper()} , 7fffffffffffffffffffffffffffffffffffffff , {KB} , 1 \n"
        f"{KA},0100,{KA},a1f\n"  # the same record again: once
    )
    assert parse_successions(text) == [
        Succession(CertRef(0x100, KA), CertRef(0xA1F, KA)),
        Succession(CertRef((1 << 159) - 1, KB), CertRef(1, KB)),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "header"),
        ("old,new\n", "header"),
        (f"{HEADER}\n{KA},1,{KA}\n", "line 2: four"),
        (f"{HEADER}\n{KA},1,{KA},2\n{KA},xyz,{KA},2\n", "line 3: a serial is hex"),
        (f"{HEADER}\n{KA},0,{KA},2\n", "positive"),
        (f"{HEADER}\n{KA},1{'0' * 40},{KA},2\n", "20 octets"),
        (f"{HEADER}\nA1B,1,{KA},2\n", "issuer key id"),
        (f"{HEADER}\n{KA},1,{KA},1\n", "succeed itself"),
        (f"{HEADER}\n{KA},1,{KA},2\n{KA},1,{KA},3\n", "line 3: a second successor"),
        (f"{HEADER}\n{KA};1;{KA};2\n", "four"),
    ],
)
def test_a_bad_file_is_refused_naming_the_line(body, message):
    with pytest.raises(SuccessionFileError, match=message):
        parse_successions(body)


# --- the commands over the store ------------------------------------------------------------


def key_id(pki, which: str) -> str:
    return x509.SubjectKeyIdentifier.from_public_key(pki.ca_key(which).public_key()).digest.hex()


@pytest.fixture
def conf(store_url, tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(f'data_dir = "{tmp_path / "kiosk"}"\ndatabase_url = "{store_url}"\n')
    return str(path)


@pytest.fixture
def renewed(db, test_pki):
    """Three links: one superseded (successor in the file), one superseded (no successor
    known), one revoked for key compromise; the auth CA's key id."""
    auth, sign = key_id(test_pki, "auth"), key_id(test_pki, "sign")
    links = LinkRepository(db)
    links.add_provider("demo-clinic", "Demo Clinic", AT)
    for serial, account in ((0x10, "a"), (0x20, "b"), (0x30, "c")):
        links.create(
            provider_id="demo-clinic",
            account_ref=account,
            auth_issuer_key_id=auth,
            auth_serial=serial,
            sign_issuer_key_id=sign,
            sign_serial=serial,
            at=AT,
        )
    der = make_crl(
        test_pki.ca_certificate("auth"),
        test_pki.ca_key("auth"),
        [
            Revocation(0x10, AT, x509.ReasonFlags.superseded),
            Revocation(0x20, AT, x509.ReasonFlags.superseded),
            Revocation(0x30, AT, x509.ReasonFlags.key_compromise),
        ],
        this_update=AT,
        next_update=AT + timedelta(days=1),
        number=1,
    ).public_bytes(serialization.Encoding.DER)
    SqlRevocationIndex(db).replace(check_crl(der, TrustStore.from_dir(test_pki.trust_dir), AT), AT)
    return auth, links


def test_import_then_sweep_moves_the_renewed_links_and_reports_the_rest(
    db, conf, renewed, tmp_path, capsys
):
    auth, links = renewed
    data = tmp_path / "successions.csv"
    data.write_text(f"{HEADER}\n{auth},10,{auth},11\n", encoding="utf-8")

    assert main(["renewal", "import", str(data), "--config", conf]) == 0
    assert "imported 1 new link record(s) of 1" in capsys.readouterr().out
    assert SqlSuccessionSource(db).successor(CertRef(0x10, auth)) == CertRef(0x11, auth)

    assert main(["renewal", "sweep", "--config", conf]) == 0
    out = capsys.readouterr().out
    assert "moved=1 not_superseded=1 awaiting_successor=1" in out
    assert links.find_by_account("demo-clinic", "a").auth_serial == 0x11
    assert links.find_by_account("demo-clinic", "b").auth_serial == 0x20
    assert links.find_by_account("demo-clinic", "c").status is LinkStatus.ACTIVE


def test_a_bad_file_imports_nothing_and_says_which_line(db, conf, renewed, tmp_path, capsys):
    auth, _ = renewed
    data = tmp_path / "successions.csv"
    data.write_text(f"{HEADER}\n{auth},10,{auth},11\n{auth},zz,{auth},12\n", encoding="utf-8")

    assert main(["renewal", "import", str(data), "--config", conf]) == 2
    assert "line 3" in capsys.readouterr().err
    assert SqlSuccessionSource(db).successor(CertRef(0x10, auth)) is None


def test_a_file_that_is_not_text_is_refused(conf, tmp_path, capsys):
    data = tmp_path / "successions.csv"
    data.write_bytes(b"\xff\xfe\x00binary")
    assert main(["renewal", "import", str(data), "--config", conf]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_a_kiosk_verifying_at_a_platform_keeps_no_link_data(tmp_path, capsys):
    path = tmp_path / "kiosk.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "kiosk"}"\nverification = "platform"\n'
        'platform_url = "https://platform.example"\nplatform_token = "t0123456789abcdef"\n'
    )
    assert main(["renewal", "sweep", "--config", str(path)]) == 2
    assert "the platform's to import" in capsys.readouterr().err


def test_the_sweep_reports_each_outcome_over_the_port():
    class Port:
        def revoked_links(self):
            return [CertRef(1, KA), CertRef(2, KA)]

        def renew(self, old_auth, at):
            outcome = Outcome.MOVED if old_auth.serial == 1 else Outcome.AWAITING_SUCCESSOR
            return [Renewal(outcome, old_auth)]

    report = sweep(Port(), AT)
    assert report.counts == {Outcome.MOVED: 1, Outcome.AWAITING_SUCCESSOR: 1}
    assert report.line() == "moved=1 awaiting_successor=1"


def test_an_empty_sweep_says_so():
    class Empty:
        def revoked_links(self):
            return []

        def renew(self, old_auth, at):  # pragma: no cover - never asked
            raise AssertionError

    assert sweep(Empty(), AT).line() == "nothing to do"


# --- expiry ahead ----------------------------------------------------------------------------

NOT_AFTER = datetime(2027, 1, 15, 14, 59, 59, tzinfo=UTC)  # 23:59:59 JST


@pytest.mark.parametrize(
    ("before", "notice"),
    [
        (timedelta(days=91), None),
        (timedelta(days=90, seconds=1), None),
        (timedelta(days=90), ExpiryAhead(date(2027, 1, 15), 90)),
        (timedelta(days=30, hours=5), ExpiryAhead(date(2027, 1, 15), 30)),
        (timedelta(hours=3), ExpiryAhead(date(2027, 1, 15), 0)),
        (timedelta(seconds=-1), None),  # expired: the verifier refuses it
    ],
)
def test_the_notice_shows_within_90_days_and_never_after_expiry(before, notice):
    assert expiry_ahead(NOT_AFTER, NOT_AFTER - before) == notice


def test_the_date_is_japans():
    late = datetime(2027, 1, 15, 16, 0, tzinfo=UTC)  # 2027-01-16 01:00 JST
    assert expiry_ahead(late, late - timedelta(days=1)).expires_on == date(2027, 1, 16)
