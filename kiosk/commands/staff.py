"""`kiosk staff credential STAFF_NUMBER`: make a member of staff's credential.

The PIN (6 to 12 digits, typed on the kiosk's keypad) is read from a prompt that does not
echo it, twice, or as one line from standard input when that is not a terminal; it is never
an argument (arguments show in `ps` and in shell history). The command prints the `[[staff]]`
table to paste into the kiosk's configuration: the staff number and the PIN's scrypt key with
its random salt and parameters, never the PIN.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any, TextIO


def register(subparsers: Any) -> None:
    """Add the `staff` command and its actions."""
    parser = subparsers.add_parser("staff", help="staff of the kiosk (credentials)")
    sub = parser.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    credential = sub.add_parser(
        "credential",
        help="make a staff credential from a PIN read at a prompt or from stdin "
        "(prints the [[staff]] table for the configuration)",
    )
    credential.add_argument("staff_id", metavar="STAFF_NUMBER", help="1 to 10 digits")
    credential.set_defaults(func=credential_command)


def read_pin(stdin: TextIO, prompt: Any = getpass.getpass) -> str:
    """The PIN: asked twice at a terminal (not echoed), else the first line of `stdin`."""
    from kiosk.config import ConfigError

    if not stdin.isatty():
        return stdin.readline().rstrip("\r\n")
    pin = str(prompt("staff PIN (6-12 digits): "))
    if str(prompt("the same PIN again: ")) != pin:
        raise ConfigError("the two PINs differ; nothing was made")
    return pin


def credential_command(args: argparse.Namespace) -> int:
    """Print the [[staff]] table for the staff number and the PIN read."""
    from kiosk.config import ConfigError
    from kiosk.flow.staff import STAFF_ID_RE, STAFF_PIN_RE, Credential

    if STAFF_ID_RE.fullmatch(args.staff_id) is None:
        raise ConfigError("the staff number must be 1 to 10 digits (it is typed on the keypad)")
    pin = read_pin(sys.stdin)
    if STAFF_PIN_RE.fullmatch(pin) is None:
        raise ConfigError("the staff PIN must be 6 to 12 digits; nothing was made")
    credential = Credential.make(pin)
    print("[[staff]]")
    print(f'id = "{args.staff_id}"')
    print(f'credential = "{credential.encode()}"')
    return 0
