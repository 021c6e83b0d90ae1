"""`kiosk platform credential`: the kiosk terminals' credentials at the platform.

`issue --terminal T --provider P [--provider Q]` makes a credential for terminal T acting for
the providers named, and prints its token once with the lines the kiosk's configuration needs
(the platform keeps the token's SHA-256 only); `list` shows every credential without a token;
`revoke ID` refuses a credential's token from now on; `rotate ID` gives it a new token and
refuses the old one. The platform applies a revocation or rotation made here within its
`platform_credential_cache_s` (2 s by default), without a restart.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from kiosk.errors import KioskError

if TYPE_CHECKING:
    from datetime import datetime

    from kiosk.store.credentials import TerminalCredential, TerminalCredentials
    from kiosk.store.engine import Database


def register(platform_actions: Any) -> None:
    """Add `credential` and its actions under `kiosk platform`."""
    parser = platform_actions.add_parser(
        "credential", help="kiosk terminals' credentials at the platform (issue, list, revoke)"
    )
    sub = parser.add_subparsers(dest="credential_command", required=True, metavar="ACTION")

    issue = sub.add_parser("issue", help="a new credential for a terminal (prints its token once)")
    issue.add_argument("--terminal", required=True, help="the terminal id it names")
    issue.add_argument(
        "--provider",
        required=True,
        action="append",
        help="a provider it may act for (repeat for each)",
    )
    issue.set_defaults(func=issue_command)

    listing = sub.add_parser("list", help="every credential (never a token)")
    listing.set_defaults(func=list_command)

    revoke = sub.add_parser("revoke", help="refuse a credential's token from now on")
    revoke.add_argument("credential_id", metavar="ID", help="the credential id (tc-…)")
    revoke.set_defaults(func=revoke_command)

    rotate = sub.add_parser("rotate", help="a new token for a credential (the old one refused)")
    rotate.add_argument("credential_id", metavar="ID", help="the credential id (tc-…)")
    rotate.set_defaults(func=rotate_command)

    for action in (issue, listing, revoke, rotate):
        action.add_argument("--config", default=None, help="the platform's configuration (TOML)")


def _credentials(config_path: str | None) -> tuple[Database, TerminalCredentials]:
    """The platform's store (migrated: the credentials come with the schema)."""
    from kiosk import config
    from kiosk.store.credentials import TerminalCredentials
    from kiosk.store.engine import Database

    cfg = config.load(config_path)
    if not cfg.database_url:
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(cfg.effective_database_url)
    db.upgrade()
    return db, TerminalCredentials(db)


def _show_token(credential: TerminalCredential, token: str) -> None:
    """The token, once, with the kiosk's configuration lines."""
    print(f"token: {token}")
    print("  (shown once: the platform keeps only its SHA-256; put it in the kiosk's")
    print("   configuration now, and keep it out of tickets, chats and logs)")
    print("kiosk configuration:")
    print(f'terminal_id = "{credential.terminal_id}"')
    print(f'platform_token = "{token}"')


def _when(at: datetime | None) -> str:
    return "-" if at is None else at.isoformat(timespec="seconds")


def _describe(credential: TerminalCredential) -> str:
    """One line of `list`: id, terminal, providers, issued, last rotated, state."""
    state = "active" if credential.active else f"revoked {_when(credential.revoked_at)}"
    return "  ".join(
        (
            credential.credential_id,
            credential.terminal_id,
            ",".join(credential.providers),
            _when(credential.created_at),
            _when(credential.rotated_at),
            state,
        )
    )


def issue_command(args: argparse.Namespace) -> int:
    """Issue a credential and print its token once."""
    from kiosk.clock import utc_now

    db, credentials = _credentials(args.config)
    try:
        credential, token = credentials.issue(args.terminal, args.provider, utc_now())
    finally:
        db.dispose()
    print(
        f"credential {credential.credential_id}: terminal {credential.terminal_id}, "
        f"providers {', '.join(credential.providers)}"
    )
    _show_token(credential, token)
    return 0


def list_command(args: argparse.Namespace) -> int:
    """Print every credential, one a line (never a token or its digest)."""
    db, credentials = _credentials(args.config)
    try:
        found = credentials.all()
    finally:
        db.dispose()
    print("id  terminal  providers  created  rotated  state")
    for credential in found:
        print(_describe(credential))
    return 0


def revoke_command(args: argparse.Namespace) -> int:
    """Revoke a credential; an unknown or revoked one is an error (exit status 2)."""
    from kiosk.clock import utc_now

    db, credentials = _credentials(args.config)
    try:
        revoked = credentials.revoke(args.credential_id, utc_now())
    finally:
        db.dispose()
    if not revoked:
        raise KioskError(f"no active credential {_printable(args.credential_id)}")
    print(f"revoked {args.credential_id}: the platform refuses its token within seconds")
    return 0


def rotate_command(args: argparse.Namespace) -> int:
    """Give a credential a new token (printed once); the old one is refused."""
    from kiosk.clock import utc_now

    db, credentials = _credentials(args.config)
    try:
        credential, token = credentials.rotate(args.credential_id, utc_now())
    finally:
        db.dispose()
    print(f"rotated {credential.credential_id}: the old token is refused within seconds")
    _show_token(credential, token)
    return 0


def _printable(text: str, limit: int = 40) -> str:
    """An id as typed, for a message: printable ASCII only, cut short."""
    return "".join(c if " " < c < "\x7f" else "?" for c in text[:limit])
