"""The operator's command line end to end: store, CRLs, and user proofs over pcscd + vpcd.

`kiosk db upgrade`, `kiosk crl import` and `kiosk verify-card` run as the real command, against
the virtual card in the real reader; a revocation published by the test PKI refuses the card.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from kiosk.pki.authority import TestPki, init_pki
from kiosk.pki.cardfile import load_card, save_card

pytestmark = [pytest.mark.e2e, pytest.mark.reader]

PIN = "1234"


@pytest.fixture
def own_pki(tmp_path: Path) -> TestPki:
    """A PKI of this test's own: it revokes, which must not touch the session's PKI."""
    return init_pki(tmp_path / "pki")


@pytest.fixture
def card_path(own_pki: TestPki, tmp_path: Path) -> Path:
    """The card the `inserted_card` fixture puts in the reader: issued by `own_pki`."""
    path = tmp_path / "card.json"
    save_card(path, own_pki.issue_card(pin=PIN))
    return path


@pytest.fixture
def config_path(own_pki: TestPki, reader_name: str, tmp_path: Path) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        f'trust_dir = "{own_pki.trust_dir}"\n'
        f'crl_dir = "{own_pki.crl_dir}"\n'
        f'reader = "{reader_name}"\n'
        'provider_id = "clinic-e2e"\nterminal_id = "reception-1"\n'
    )
    return path


def kiosk(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_verify_card_through_pcscd_then_revoked(
    inserted_card, own_pki: TestPki, card_path: Path, config_path: Path
):
    config = str(config_path)
    assert kiosk("db", "upgrade", "--config", config).returncode == 0
    imported = kiosk("crl", "import", str(own_pki.crl_dir), "--config", config)
    assert imported.returncode == 0, imported.stderr

    done = kiosk("verify-card", "--config", config, "--pin-stdin", stdin=PIN + "\n")
    assert done.returncode == 0, done.stderr
    verdict = json.loads(done.stdout)
    auth_cert = x509.load_der_x509_certificate(load_card(card_path).auth.certificate)
    assert verdict["ok"] is True
    assert int(
        str(verdict["auth_serial"]), 16 if isinstance(verdict["auth_serial"], str) else 10
    ) == (auth_cert.serial_number)
    assert PIN not in done.stdout + done.stderr

    own_pki.revoke(auth_cert.serial_number, "auth", x509.ReasonFlags.key_compromise)
    assert kiosk("crl", "import", str(own_pki.crl_dir), "--config", config).returncode == 0
    refused = kiosk("verify-card", "--config", config, "--pin-stdin", stdin=PIN + "\n")
    assert refused.returncode == 1, refused.stderr
    assert json.loads(refused.stdout)["reason"] == "revoked"


def test_wrong_pin_through_pcscd_says_tries_left_and_costs_one(
    inserted_card, card_path: Path, config_path: Path
):
    wrong = kiosk("verify-card", "--config", str(config_path), "--pin-stdin", stdin="9999\n")
    assert wrong.returncode != 0
    assert "2" in wrong.stderr + wrong.stdout  # two tries left, said in the message
    assert "9999" not in wrong.stderr + wrong.stdout
    assert load_card(card_path).auth.retries_left == 2

    malformed = kiosk("verify-card", "--config", str(config_path), "--pin-stdin", stdin="12a\n")
    assert malformed.returncode != 0
    assert load_card(card_path).auth.retries_left == 2  # a malformed PIN never costs a try
