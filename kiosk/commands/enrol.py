"""`kiosk enrol --provider ID --account REF`: link the card in the reader to an account.

Asks the signature password, shows the basic 4 info read from the signature certificate for
the person to confirm, asks the authentication PIN, has the card sign the application with
both keys, verifies it locally and stores the link. Each secret goes to the card once.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from kiosk.commands.verify import add_card_options

if TYPE_CHECKING:
    from kiosk.commands.verify import Clock
    from kiosk.jpki.session import JpkiSession
    from kiosk.local import LocalContext
    from kiosk.verify.profile import BasicFourInfo
    from kiosk.verify.verdict import EnrolmentVerdict

SEX_LABELS = {"male": "男 / male", "female": "女 / female", "unknown": "不明 / unknown"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `enrol` command."""
    parser = subparsers.add_parser(
        "enrol", help="link the card in the reader to a provider's account (once per customer)"
    )
    parser.add_argument("--provider", required=True, help="provider id")
    parser.add_argument("--account", required=True, help="the provider's account reference")
    add_card_options(parser)
    parser.set_defaults(func=run)


def show_four_info(person: BasicFourInfo) -> str:
    """The 4 info as shown to the person for confirmation (terminal only, never logged)."""
    return (
        f"  氏名 / name:        {person.name}\n"
        f"  住所 / address:     {person.address}\n"
        f"  生年月日 / born:    {person.birth_date.isoformat()}\n"
        f"  性別 / sex:         {SEX_LABELS[person.sex]}"
    )


def enrol(
    session: JpkiSession,
    local: LocalContext,
    account_ref: str,
    password: str,
    confirm: Callable[[BasicFourInfo], bool],
    ask_pin: Callable[[], str],
    clock: Clock,
) -> EnrolmentVerdict | None:
    """Read and confirm the 4 info, sign with both keys, verify (the verifier records the
    verdict and, when accepted, the link, in one transaction).

    Returns None when the person does not confirm the 4 info (nothing is signed then)."""
    from kiosk.services import visit

    at = visit.Terminal(local.provider_id, local.terminal_id)
    return visit.enrol(
        session,
        at,
        account_ref,
        password,
        confirm,
        ask_pin,
        local.challenges,
        local.verifier,
        clock,
    )


def run(args: argparse.Namespace) -> int:
    """Ask the secrets on the terminal, enrol, print the verdict as JSON."""
    from dataclasses import replace

    from kiosk import config
    from kiosk.clock import utc_now
    from kiosk.commands.verify import open_card, print_json, read_secret
    from kiosk.jpki.session import JpkiSession
    from kiosk.local import LocalContext

    cfg = config.load(args.config)
    local = replace(LocalContext.from_config(cfg), provider_id=args.provider)

    def confirm(person: BasicFourInfo) -> bool:
        print("署名用電子証明書の基本4情報 / the basic 4 info on the signature certificate:")
        print(show_four_info(person))
        return input("これはあなたですか / Is this you? [y/N] ").strip().lower() in ("y", "yes")

    def ask_pin() -> str:
        return read_secret("利用者証明用暗証番号 / authentication PIN (4 digits): ")

    try:
        password = read_secret("署名用パスワード / signature password (6-16 characters): ")
        with open_card(args.reader or cfg.reader) as connection:
            verdict = enrol(
                JpkiSession(connection), local, args.account, password, confirm, ask_pin, utc_now
            )
    finally:
        local.db.dispose()
    if verdict is None:
        print("not confirmed: nothing was signed or stored")
        return 1
    print_json(verdict.to_json())
    return 0 if verdict.ok else 1
