"""A process killed in the middle of moving a renewed card's link leaves the link on the old
certificates or on the new ones, never both and never none, with its history and audit rows
exactly when it moved (issue 16, part 2). A real process (tests/renewal_child.py) moves the
link over the imported link data and is SIGKILLed at a step of the transaction; then the move
is run again, as the next sweep or the card's next proof would. Both stores."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import text

from kiosk.pki.authority import Revocation, make_crl
from kiosk.store.engine import Database
from kiosk.store.links import LinkRepository
from kiosk.store.renewal import LinkRenewals, Outcome, SqlSuccessionSource, Succession
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.crl import check_crl
from kiosk.verify.trust import TrustStore
from kiosk.verify.verdict import CertRef

CHILD = Path(__file__).parents[1] / "renewal_child.py"
AT = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
OLD, NEW, SIGN = 0x100, 0x101, 0x200


def _key_id(pki, which: str) -> str:
    return x509.SubjectKeyIdentifier.from_public_key(pki.ca_key(which).public_key()).digest.hex()


@pytest.fixture
def renewed(db, test_pki):
    """A link on the old auth certificate, the CRL listing it superseded, the link data
    imported; the auth CA's key id."""
    auth, sign = _key_id(test_pki, "auth"), _key_id(test_pki, "sign")
    links = LinkRepository(db)
    links.add_provider("demo-clinic", "Demo Clinic", AT)
    links.create(provider_id="demo-clinic", account_ref="acct-1", auth_issuer_key_id=auth,
                 auth_serial=OLD, sign_issuer_key_id=sign, sign_serial=SIGN, at=AT)  # fmt: skip
    der = make_crl(
        test_pki.ca_certificate("auth"),
        test_pki.ca_key("auth"),
        [Revocation(OLD, AT - timedelta(days=1), x509.ReasonFlags.superseded)],
        this_update=AT,
        next_update=AT + timedelta(days=1),
        number=1,
    ).public_bytes(serialization.Encoding.DER)
    SqlRevocationIndex(db).replace(check_crl(der, TrustStore.from_dir(test_pki.trust_dir), AT), AT)
    SqlSuccessionSource(db).put([Succession(CertRef(OLD, auth), CertRef(NEW, auth))], AT)
    return auth


def _run_child(mode: str, db: Database, auth: str) -> subprocess.CompletedProcess[str]:
    url = db.engine.url.render_as_string(hide_password=False)
    return subprocess.run(
        [sys.executable, str(CHILD), mode, url, auth, f"{OLD:x}"],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _state(db: Database) -> tuple[list[int], int, int]:
    """The auth serials the account's links hold, and how many history and audit rows."""
    with db.engine.connect() as conn:
        serials = conn.execute(
            text("SELECT auth_serial FROM links WHERE account_ref = 'acct-1'")
        ).scalars()
        held = [int.from_bytes(s, "big", signed=True) for s in serials]
        history = conn.execute(text("SELECT count(*) FROM link_renewals")).scalar_one()
        audit = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'link.renewed'")
        ).scalar_one()
    return held, history, audit


@pytest.mark.parametrize("mode", ["at-history", "at-commit"])
def test_a_move_killed_midway_leaves_the_old_link_and_the_next_run_moves_it_once(db, renewed, mode):
    child = _run_child(mode, db, renewed)
    assert child.returncode == -signal.SIGKILL, child.stderr

    assert _state(db) == ([OLD], 0, 0)  # the old link, whole: nothing of the move is left

    renewals = LinkRenewals(db, SqlSuccessionSource(db))
    assert [r.outcome for r in renewals.renew(CertRef(OLD, renewed), AT)] == [Outcome.MOVED]
    assert _state(db) == ([NEW], 1, 1)


def test_a_move_that_completes_leaves_the_new_link_with_its_history_and_audit(db, renewed):
    child = _run_child("none", db, renewed)
    assert (child.returncode, child.stdout.strip()) == (0, "moved"), child.stderr

    assert _state(db) == ([NEW], 1, 1)
