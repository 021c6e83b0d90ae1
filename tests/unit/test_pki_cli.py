"""`kiosk pki init | issue | revoke` through the real entry point."""

from __future__ import annotations

from datetime import date

import pytest
from cryptography import x509

from kiosk.cli import main
from kiosk.pki.authority import DEFAULT_PERSON, card_serials, load_pki
from kiosk.pki.cardfile import load_card
from kiosk.verify.profile import BasicFourInfo, parse_basic_four


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory):
    """One PKI made by `kiosk pki init`, shared by the tests that only issue from it."""
    directory = tmp_path_factory.mktemp("cli") / "pki"
    assert main(["pki", "init", str(directory)]) == 0
    return directory


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["pki", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out, err


def test_init_creates_both_cas_and_crls(tmp_path, capsys):
    rc, out, _ = _run(capsys, "init", str(tmp_path / "p"))
    assert rc == 0
    assert "trust anchors" in out
    pki = load_pki(tmp_path / "p")
    for which in ("auth", "sign"):
        assert len(pki.crl(which)) == 0
        assert (pki.trust_dir / f"{which}-ca.pem").is_file()


def test_init_refuses_an_existing_pki(pki_dir, capsys):
    rc, _, err = _run(capsys, "init", str(pki_dir))
    assert rc == 2
    assert "refusing to overwrite" in err


def test_issue_with_defaults(pki_dir, tmp_path, capsys):
    out_path = tmp_path / "card.json"
    rc, out, _ = _run(capsys, "issue", str(pki_dir), "--out", str(out_path))
    assert rc == 0
    assert str(out_path) in out
    card = load_card(out_path)
    assert (card.auth.pin, card.sign.pin) == ("1234", "ABC123")
    assert (card.auth.retries_left, card.sign.retries_left) == (3, 5)
    assert parse_basic_four(x509.load_der_x509_certificate(card.sign.certificate)) == DEFAULT_PERSON
    issued = {r.serial for r in load_pki(pki_dir).issued()}
    assert set(card_serials(card).values()) <= issued


def test_issue_with_a_person_and_credentials(pki_dir, tmp_path, capsys):
    out_path = tmp_path / "card.json"
    rc, _, _ = _run(
        capsys,
        "issue",
        str(pki_dir),
        "--out",
        str(out_path),
        "--name",
        "試験 次郎",
        "--address",
        "テスト県テスト市4-5-6",
        "--birth",
        "1926-12-25",
        "--sex",
        "unknown",
        "--pin",
        "9876",
        "--sign-password",
        "Z9Y8X7W6",
    )
    assert rc == 0
    card = load_card(out_path)
    assert (card.auth.pin, card.sign.pin) == ("9876", "Z9Y8X7W6")
    sign = x509.load_der_x509_certificate(card.sign.certificate)
    assert parse_basic_four(sign) == BasicFourInfo(
        "試験\u3000次郎", "テスト県テスト市4-5-6", date(1926, 12, 25), "unknown"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--pin", "123"], "4 digits"),
        (["--pin", "12a4"], "4 digits"),
        (["--sign-password", "abc123"], "A-Z and 0-9"),
        (["--sign-password", "AB12"], "A-Z and 0-9"),
        (["--sign-password", "A" * 17], "A-Z and 0-9"),
        (["--birth", "1980-02-30"], "--birth"),
        (["--birth", "17/02/1980"], "--birth"),
        (["--sex", "x"], "--sex"),
        (["--name", "  "], "name"),
        (["--address", "住" * 201], "address"),
    ],
)
def test_issue_rejects_bad_input(pki_dir, tmp_path, capsys, extra, message):
    out_path = tmp_path / "card.json"
    rc, _, err = _run(capsys, "issue", str(pki_dir), "--out", str(out_path), *extra)
    assert rc == 2
    assert message in err
    assert not out_path.exists()


def test_issue_will_not_overwrite_without_force(pki_dir, tmp_path, capsys):
    out_path = tmp_path / "card.json"
    out_path.write_text("keep me")
    rc, _, err = _run(capsys, "issue", str(pki_dir), "--out", str(out_path))
    assert rc == 2 and "--force" in err
    assert out_path.read_text() == "keep me"
    rc, _, _ = _run(capsys, "issue", str(pki_dir), "--out", str(out_path), "--force")
    assert rc == 0
    load_card(out_path)


def test_issue_without_a_pki(tmp_path, capsys):
    rc, _, err = _run(capsys, "issue", str(tmp_path / "none"), "--out", str(tmp_path / "c.json"))
    assert rc == 2
    assert "kiosk pki init" in err


def test_revoke_publishes_the_crl(tmp_path, capsys):
    pki_path, card_path = tmp_path / "pki", tmp_path / "card.json"
    assert _run(capsys, "init", str(pki_path))[0] == 0
    assert _run(capsys, "issue", str(pki_path), "--out", str(card_path))[0] == 0
    serials = card_serials(load_card(card_path))
    rc, out, _ = _run(
        capsys, "revoke", str(pki_path), str(card_path), "--which", "sign",
        "--reason", "keyCompromise",
    )  # fmt: skip
    assert rc == 0
    assert f"{serials['sign']:x}" in out
    pki = load_pki(pki_path)
    crl = pki.crl("sign")
    assert crl.is_signature_valid(pki.ca_certificate("sign").public_key())
    entry = crl.get_revoked_certificate_by_serial_number(serials["sign"])
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason == x509.ReasonFlags.key_compromise
    assert len(pki.crl("auth")) == 0

    rc, _, _ = _run(capsys, "revoke", str(pki_path), str(card_path), "--which", "auth")
    assert rc == 0
    entry = pki.crl("auth").get_revoked_certificate_by_serial_number(serials["auth"])
    assert entry is not None and len(entry.extensions) == 0

    rc, _, err = _run(capsys, "revoke", str(pki_path), str(card_path), "--which", "auth")
    assert rc == 2 and "already revoked" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--which", "both"], "--which"),
        (["--which", "sign", "--reason", "lostIt"], "--reason"),
    ],
)
def test_revoke_rejects_bad_input(pki_dir, tmp_path, capsys, extra, message):
    card_path = tmp_path / "card.json"
    assert _run(capsys, "issue", str(pki_dir), "--out", str(card_path))[0] == 0
    rc, _, err = _run(capsys, "revoke", str(pki_dir), str(card_path), *extra)
    assert rc == 2
    assert message in err


def test_revoke_a_card_from_another_pki(pki_dir, tmp_path, capsys):
    other, card_path = tmp_path / "other", tmp_path / "card.json"
    assert _run(capsys, "init", str(other))[0] == 0
    assert _run(capsys, "issue", str(other), "--out", str(card_path))[0] == 0
    rc, _, err = _run(capsys, "revoke", str(pki_dir), str(card_path), "--which", "auth")
    assert rc == 2
    assert "not issued by" in err


def test_revoke_with_a_missing_or_broken_card_file(pki_dir, tmp_path, capsys):
    rc, _, err = _run(capsys, "revoke", str(pki_dir), str(tmp_path / "no.json"), "--which", "auth")
    assert rc == 2 and "cannot read" in err
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    rc, _, err = _run(capsys, "revoke", str(pki_dir), str(broken), "--which", "auth")
    assert rc == 2 and "not JSON" in err


def test_missing_arguments_exit_with_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["pki", "issue", "somewhere"])  # --out is required
    assert exc.value.code == 2
    assert "--out" in capsys.readouterr().err
