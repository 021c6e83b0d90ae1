"""`kiosk sim insert CARD.json`: put a virtual My Number Card into a vpcd reader.

`--as android|iphone|face_auth` makes it play another token (kiosk.simcard.personality);
an iPhone is confirmed on the phone with `--confirmed` (before it is held to the reader) or
by sending the process SIGUSR1 (the person's Face ID while it lies on the reader)."""

from __future__ import annotations

import argparse
import signal
import sys

from kiosk.simcard.personality import Personality


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `sim` command and its `insert` subcommand."""
    parser = subparsers.add_parser("sim", help="the virtual My Number Card")
    sub = parser.add_subparsers(dest="sim_command", required=True, metavar="SUBCOMMAND")
    insert = sub.add_parser(
        "insert", help="connect a card file to vpcd until stopped (stopping pulls the card)"
    )
    insert.add_argument("card", metavar="CARD.json", help="card file from `kiosk pki issue`")
    insert.add_argument("--host", default="127.0.0.1", help="vpcd host (default 127.0.0.1)")
    insert.add_argument("--port", type=int, default=35963, help="vpcd port (default 35963)")
    insert.add_argument(
        "--as",
        dest="personality",
        choices=[p.value for p in Personality],
        default=Personality.CARD.value,
        help="the token to play (default card; see docs/tokens.md)",
    )
    insert.add_argument(
        "--confirmed",
        action="store_true",
        help="iPhone: confirmed on the phone before it is held to the reader (else SIGUSR1)",
    )
    insert.set_defaults(func=insert_card)


def insert_card(args: argparse.Namespace) -> int:
    """Serve the card on vpcd, persisting retry counters, until SIGTERM/SIGINT."""
    from kiosk.pki.cardfile import load_card, save_card
    from kiosk.simcard.applet import VirtualCard
    from kiosk.simcard.vpcd import VpcdClient

    path = args.card
    personality = Personality(args.personality)
    if args.confirmed and personality is not Personality.IPHONE:
        print("--confirmed is for --as iphone only", file=sys.stderr)
        return 2
    card = VirtualCard(
        load_card(path), on_change=lambda new: save_card(path, new), personality=personality
    )
    if personality is Personality.IPHONE:
        if args.confirmed:
            card.confirm()
        signal.signal(signal.SIGUSR1, lambda *_: card.confirm())
    client = VpcdClient(
        card,
        args.host,
        args.port,
        on_connected=lambda: print(f"card inserted in vpcd {args.host}:{args.port}", flush=True),
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: client.stop())
    client.run()
    return 0
