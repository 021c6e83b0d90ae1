"""`kiosk pki`: make a test PKI, issue virtual cards, revoke their certificates."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

_REASONS = (
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "certificateHold",
    "privilegeWithdrawn",
    "aACompromise",
)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "pki",
        help="the test PKI: CAs, virtual cards, CRLs (TEST only)",
        description="A JPKI-shaped test PKI. Everything it makes says TEST; never real data.",
    )
    cmds = parser.add_subparsers(dest="pki_command", required=True, metavar="ACTION")

    p = cmds.add_parser("init", help="create the two test CAs and empty CRLs in DIR")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.set_defaults(func=_init)

    p = cmds.add_parser("issue", help="issue a new virtual card")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--out", type=Path, required=True, metavar="CARD.json")
    p.add_argument("--name", help="氏名, surname and given name (a space becomes U+3000)")
    p.add_argument("--address", help="住所, without postcode")
    p.add_argument("--birth", metavar="YYYY-MM-DD", help="生年月日")
    p.add_argument("--sex", help="male, female or unknown")
    p.add_argument("--pin", default="1234", help="authentication PIN, 4 digits (default 1234)")
    p.add_argument(
        "--sign-password",
        default="ABC123",
        help="signature password, 6-16 of A-Z0-9 (default ABC123)",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing CARD.json")
    p.add_argument(
        "--generation",
        choices=("current", "next"),
        default="current",
        help="today's card (RSA-2048) or a next-generation card (ECDSA P-384, certificates to "
        "the 10th birthday, from its own TEST roots made on first use; docs/next-card.md)",
    )
    p.set_defaults(func=_issue)

    p = cmds.add_parser("revoke", help="revoke one certificate of a card and publish the CRL")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("card", type=Path, metavar="CARD.json")
    p.add_argument("--which", required=True, help="auth or sign")
    p.add_argument("--reason", help=f"one of {', '.join(_REASONS)}")
    p.set_defaults(func=_revoke)


def _init(args: argparse.Namespace) -> int:
    from kiosk.pki.authority import init_pki

    pki = init_pki(args.dir)
    print(f"test PKI created in {pki.directory}")
    print(f"  trust anchors: {pki.trust_dir}")
    print(f"  CRLs:          {pki.crl_dir}")
    return 0


def _person(args: argparse.Namespace) -> Any:
    from kiosk.pki.authority import DEFAULT_PERSON, PkiError
    from kiosk.verify.profile import SEX_CODES, BasicFourInfo, ProfileError

    if args.name is None and args.address is None and args.birth is None and args.sex is None:
        return None
    birth = DEFAULT_PERSON.birth_date
    if args.birth is not None:
        try:
            birth = date.fromisoformat(args.birth)
        except ValueError as e:
            raise PkiError(f"--birth must be a date YYYY-MM-DD, not {args.birth!r}") from e
    sex = args.sex if args.sex is not None else DEFAULT_PERSON.sex
    if sex not in SEX_CODES:
        raise PkiError(f"--sex must be one of {', '.join(SEX_CODES)}, not {sex!r}")
    name = DEFAULT_PERSON.name if args.name is None else args.name.replace(" ", "\u3000")
    try:
        return BasicFourInfo(
            name=name,
            address=args.address if args.address is not None else DEFAULT_PERSON.address,
            birth_date=birth,
            sex=sex,
        )
    except ProfileError as e:
        raise PkiError(str(e)) from e


def _issue(args: argparse.Namespace) -> int:
    from cryptography import x509

    from kiosk.pki.authority import (
        Generation,
        PkiError,
        check_auth_pin,
        check_sign_password,
        load_pki,
    )
    from kiosk.pki.cardfile import save_card

    check_auth_pin(args.pin)
    check_sign_password(args.sign_password)
    person = _person(args)
    if args.out.exists() and not args.force:
        raise PkiError(f"{args.out} exists; pass --force to overwrite it")
    pki = load_pki(args.dir)
    card = pki.issue_card(
        person,
        pin=args.pin,
        sign_password=args.sign_password,
        generation=Generation(args.generation),
    )
    try:
        save_card(args.out, card)
    except OSError as e:
        raise PkiError(f"cannot write {args.out}: {e.strerror}") from e
    auth = x509.load_der_x509_certificate(card.auth.certificate)
    sign = x509.load_der_x509_certificate(card.sign.certificate)
    print(f"card written to {args.out}")
    print(f"  auth certificate serial {auth.serial_number:x}, until {auth.not_valid_after_utc}")
    print(f"  sign certificate serial {sign.serial_number:x}, until {sign.not_valid_after_utc}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from cryptography import x509

    from kiosk.pki.authority import Generation, PkiError, card_serials, load_pki
    from kiosk.pki.cardfile import load_card

    if args.which not in ("auth", "sign"):
        raise PkiError(f"--which must be auth or sign, not {args.which!r}")
    reason = None
    if args.reason is not None:
        if args.reason not in _REASONS:
            raise PkiError(f"--reason must be one of {', '.join(_REASONS)}")
        reason = x509.ReasonFlags(args.reason)
    pki = load_pki(args.dir)
    card = load_card(args.card)
    serial = card_serials(card)[args.which]
    ca_der = (card.auth if args.which == "auth" else card.sign).ca_certificate
    generation = Generation(card.generation)
    if x509.load_der_x509_certificate(ca_der) != pki.ca_certificate(args.which, generation):
        raise PkiError(f"{args.card} was not issued by the test PKI in {args.dir}")
    pki.revoke(serial, args.which, reason, generation=generation)
    crl = pki.crl_path(args.which, generation)
    print(f"revoked {args.which} certificate {serial:x}; CRL published to {crl}")
    return 0
