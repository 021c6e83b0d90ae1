"""`kiosk run [--config FILE] [--windowed]`: the kiosk window on the configured reader."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `run` command."""
    parser = subparsers.add_parser("run", help="run the kiosk (full screen, hardened)")
    parser.add_argument("--config", help="configuration file (TOML)")
    parser.add_argument(
        "--windowed", action="store_true", help="a normal window, keyboard not locked (development)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the configuration and run the kiosk until staff exit it."""
    from kiosk import app, config

    return app.run(config.load(args.config), windowed=args.windowed)
