"""`kiosk platform operator add|list|remove`: the operators of the platform's console.

`add NAME` reads the password from a prompt that does not echo it, twice (or one line of
standard input when that is not a terminal); it is never an argument, which would show in `ps`
and in shell history. The store keeps the password's scrypt key (`kiosk.flow.staff.Credential`:
memory-hard, a random salt, its parameters in the string), never the password. `remove NAME`
also ends every console session of that operator.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from kiosk.store.engine import Database
    from kiosk.store.operators import Operators

#: The shortest password accepted (NIST SP 800-63B asks at least 8; the console is an
#: administrator's door, so more).
MIN_PASSWORD = 12
#: The longest password accepted (the console refuses longer ones before any KDF runs).
MAX_PASSWORD = 1024


def register(sub: Any) -> None:
    """Add `operator` and its actions under `kiosk platform`."""
    parser = sub.add_parser("operator", help="operators of the platform's web console")
    actions = parser.add_subparsers(dest="operator_command", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add", help="add an operator; the password is read at a prompt (or from stdin)"
    )
    add.add_argument("name", help="the login name (letters, digits, _ . : -; at most 64)")
    add.add_argument("--config", default=None, help="configuration file (TOML)")
    add.set_defaults(func=add_command)
    listing = actions.add_parser("list", help="list the operators")
    listing.add_argument("--config", default=None, help="configuration file (TOML)")
    listing.set_defaults(func=list_command)
    remove = actions.add_parser("remove", help="remove an operator and end their sessions")
    remove.add_argument("name", help="the operator's login name")
    remove.add_argument("--config", default=None, help="configuration file (TOML)")
    remove.set_defaults(func=remove_command)


def read_password(stdin: TextIO, prompt: Callable[[str], str] = getpass.getpass) -> str:
    """The new password: asked twice at a terminal (not echoed), else the first line of
    `stdin`; ConfigError when the two differ or it is too short or too long."""
    from kiosk.config import ConfigError

    if stdin.isatty():
        password = str(prompt("new operator password: "))
        if str(prompt("the same password again: ")) != password:
            raise ConfigError("the two passwords differ; nothing was added")
    else:
        password = stdin.readline().rstrip("\r\n")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ConfigError(
            f"an operator's password is {MIN_PASSWORD} to {MAX_PASSWORD} characters; "
            "nothing was added"
        )
    return password


def _operators(config_path: str | None) -> tuple[Operators, Database]:
    """The store's operators (migrated first: the tables come with the schema, 0012) and
    the database to close."""
    from kiosk import config
    from kiosk.store.engine import Database
    from kiosk.store.operators import Operators

    cfg = config.load(config_path)
    db = Database(cfg.effective_database_url)
    db.upgrade()
    return Operators(db), db


def add_command(args: argparse.Namespace) -> int:
    """Add the operator with the password read."""
    from kiosk.clock import utc_now
    from kiosk.flow.staff import Credential
    from kiosk.store.operators import check_name

    check_name(args.name)  # before asking for a password
    key = Credential.make(read_password(sys.stdin)).encode()
    operators, db = _operators(args.config)
    try:
        operators.add(args.name, key, utc_now())
    finally:
        db.dispose()
    print(f"operator {args.name} added: they sign in at /console on the platform")
    return 0


def list_command(args: argparse.Namespace) -> int:
    """Print each operator: name, added, last login, wrong tries, locked until."""
    operators, db = _operators(args.config)
    try:
        found = operators.all()
    finally:
        db.dispose()
    if not found:
        print("no operators (kiosk platform operator add NAME)")
    for operator in found:
        last = (
            operator.last_login_at.isoformat(timespec="seconds")
            if operator.last_login_at
            else "never"
        )
        locked = (
            f", locked until {operator.locked_until.isoformat(timespec='seconds')}"
            if operator.locked_until
            else ""
        )
        print(
            f"{operator.name}\tadded {operator.created_at.isoformat(timespec='seconds')}"
            f"\tlast login {last}\twrong tries {operator.failed_logins}{locked}"
        )
    return 0


def remove_command(args: argparse.Namespace) -> int:
    """Remove the operator (and end their sessions)."""
    from kiosk.config import ConfigError

    operators, db = _operators(args.config)
    try:
        removed = operators.remove(args.name)
    finally:
        db.dispose()
    if not removed:
        raise ConfigError(f"there is no operator named {args.name!r}")
    print(f"operator {args.name} removed; their console sessions have ended")
    return 0
