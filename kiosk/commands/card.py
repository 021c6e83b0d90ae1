"""`kiosk card status` and `kiosk card read-cert`: look at the card in a PC/SC reader.

The signature password is asked on the terminal (getpass), never taken from the command line.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.jpki.token import Token


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `card` command and its subcommands."""
    parser = subparsers.add_parser("card", help="the card in the reader (status, certificates)")
    sub = parser.add_subparsers(dest="card_command", required=True, metavar="SUBCOMMAND")
    status = sub.add_parser(
        "status", help="readers, card, JPKI application, token label and PIN tries left"
    )
    _reader_options(status)
    status.set_defaults(func=show_status)
    read = sub.add_parser("read-cert", help="read a certificate off the card (DER or PEM)")
    _reader_options(read)
    read.add_argument(
        "--which",
        choices=("auth", "sign", "auth_ca", "sign_ca"),
        default="auth",
        help="which certificate (sign asks for the signature password; default auth)",
    )
    read.add_argument("--pem", action="store_true", help="write PEM instead of DER")
    read.add_argument("--out", default=None, help="write to this file (default: standard output)")
    read.set_defaults(func=read_cert)


def _reader_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reader", default=None, help="PC/SC reader (default: config, else any)")
    parser.add_argument("--config", default=None, help="configuration file (TOML)")


def _reader(args: argparse.Namespace) -> str | None:
    from kiosk.config import load

    return args.reader or load(args.config).reader or None


def _tries(session_retries: int) -> str:
    return "blocked" if session_retries == 0 else f"{session_retries} tries left"


def show_status(args: argparse.Namespace) -> int:
    """Print the readers, and for the chosen card its JPKI state; 0 when a JPKI card is there."""
    from kiosk.card.errors import NoCard
    from kiosk.card.pcsc import connect, reader_states
    from kiosk.jpki.errors import NotAJpkiCard
    from kiosk.jpki.session import JpkiSession
    from kiosk.jpki.token import discover

    reader = _reader(args)
    states = reader_states()
    if not states:
        print("No card reader is connected.")
        return 1
    print("Readers:")
    for name, atr in states.items():
        print(f"  {name}: {'card present' if atr is not None else 'no card'}")
    try:
        connection = connect(reader)
    except NoCard:
        print(f"No card in {reader}." if reader else "No card in any reader.")
        return 1
    with connection, connection.transaction():
        print(f"Card in {connection.reader}:")
        print(f"  ATR: {connection.atr.hex(' ').upper()}")
        session = JpkiSession(connection)
        try:
            session.select_ap()
        except NotAJpkiCard:
            print("  JPKI application: absent (not a My Number Card)")
            return 1
        print("  JPKI application: present")
        token = discover(session)  # no PIN is sent
        print(f"  Token label: {token.label or '(none)'} ({_TOKEN_NAMES[token.kind]})")
        for line in _pin_lines(token):
            print(f"  {line}")
    return 0


#: How `card status` names each token kind.
_TOKEN_NAMES = {
    "card": "My Number Card",
    "android": "Android phone (smartphone certificate)",
    "iphone": "iPhone (smartphone certificate)",
    "face_auth": "face-authentication My Number Card",
    "unknown": "unknown token",
}


def _pin_lines(token: Token) -> list[str]:
    """What the token's PINs are, as discovery found them."""
    if token.kind == "iphone":
        return ["PINs: none over NFC (the person confirms on the phone)"]
    if token.kind == "face_auth":
        return [
            "Authentication PIN: unusable (face-authentication card)",
            "No signature certificate",
        ]
    if token.kind == "unknown":
        return []
    lines = [f"Authentication PIN: {_tries(token.auth_retries)}"]
    if token.has_sign_cert:
        return [*lines, f"Signature password: {_tries(token.sign_retries)}"]
    return [*lines, "No signature certificate"]


def _write(args: argparse.Namespace, der: bytes) -> int:
    if args.pem:
        from cryptography.hazmat.primitives.serialization import Encoding
        from cryptography.x509 import load_der_x509_certificate

        data = load_der_x509_certificate(der).public_bytes(Encoding.PEM)
    else:
        data = der
    if args.out:
        with open(args.out, "wb") as f:
            f.write(data)
        return 0
    if not args.pem and sys.stdout.isatty():
        print("kiosk: not writing DER to a terminal; use --pem or --out FILE", file=sys.stderr)
        return 2
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return 0


def _ask_password() -> str:
    import getpass

    from kiosk.errors import KioskError

    try:
        return getpass.getpass("Signature password: ")
    except EOFError as e:
        raise KioskError("no signature password was given") from e


def read_cert(args: argparse.Namespace) -> int:
    """Read one certificate off the card and write it as DER or PEM."""
    from kiosk.card.pcsc import connect
    from kiosk.jpki.session import JpkiSession
    from kiosk.services.visit import read_sign_certificate

    password = _ask_password() if args.which == "sign" else ""  # asked before taking the card
    with connect(_reader(args)) as connection, connection.transaction():
        session = JpkiSession(connection)
        if args.which == "sign":
            der = read_sign_certificate(session, password)
        else:
            session.select_ap()
            der = session.read_certificate(args.which)
    return _write(args, der)
