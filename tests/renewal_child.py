"""A process that moves one renewed card's link and is killed in the middle of the move
(tests/unit/test_renewal_crash.py runs it). Arguments: mode, store URL, auth CA key id, old
auth serial (hex).

Modes: `at-history` (killed when the link row is updated and its history row is about to be
written), `at-commit` (killed when every row is written and the transaction is about to
commit), `none` (not killed: the move completes). The kill is SIGKILL: no cleanup, no
rollback sent, as a power cut or the OOM killer."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from sqlalchemy import event

from kiosk.clock import utc_now
from kiosk.store.engine import Database
from kiosk.store.renewal import LinkRenewals, SqlSuccessionSource
from kiosk.verify.verdict import CertRef


def _die(*_: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(mode: str, store_url: str, issuer_key_id: str, serial_hex: str) -> int:
    db = Database(store_url)
    if mode == "at-history":

        def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO LINK_RENEWALS"):
                _die()

        event.listen(db.engine, "before_cursor_execute", before)
    elif mode == "at-commit":
        event.listen(db.engine, "commit", _die)
    elif mode != "none":
        raise SystemExit(f"unknown mode {mode}")
    renewals = LinkRenewals(db, SqlSuccessionSource(db))
    outcomes = renewals.renew(CertRef(int(serial_hex, 16), issuer_key_id), utc_now())
    print(" ".join(r.outcome.value for r in outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
