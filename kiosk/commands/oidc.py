"""`kiosk oidc rotate-key|keys`: the OpenID Provider's ID-token signing keys.

`rotate-key` makes a new signing key (ES256) the current one; the old key stays in the
published JWKS until the ID tokens it signed have expired (docs/oidc.md), so online services
keep validating them, and then drops out. Run it on the platform (or the one-box kiosk) on a
schedule or when a key may be exposed; every worker reading the same key directory signs with
the new key from its next token. `keys` lists the published keys' ids.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from kiosk.clock import utc_now


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("oidc", help="the OpenID Provider's signing keys")
    sub = parser.add_subparsers(dest="oidc_command", required=True, metavar="ACTION")
    rotate = sub.add_parser("rotate-key", help="a new current signing key (the old one is "
                            "published until its tokens expire)")  # fmt: skip
    rotate.add_argument("--config", help="configuration file (TOML)")
    rotate.set_defaults(func=rotate_command)
    keys = sub.add_parser("keys", help="the published signing keys (JWKS), as JSON")
    keys.add_argument("--config", help="configuration file (TOML)")
    keys.set_defaults(func=keys_command)


def _ring(config_path: str | None) -> Any:
    from kiosk import config
    from kiosk.errors import KioskError
    from kiosk.oidc.keys import KeyRing
    from kiosk.oidc.provider import ID_TOKEN_LIFETIME

    cfg = config.load(config_path)
    if not cfg.oidc.issuer:
        raise KioskError("[oidc] issuer is not set: this configuration has no OpenID Provider")
    return KeyRing(Path(cfg.oidc.keys_dir or cfg.data_dir / "oidc-keys"), ID_TOKEN_LIFETIME)


def rotate_command(args: argparse.Namespace) -> int:
    """Make a new current key; print its id."""
    key = _ring(args.config).rotate(utc_now())
    print(f"new signing key {key.kid}: the old key stays published until its tokens expire")
    return 0


def keys_command(args: argparse.Namespace) -> int:
    """Print the JWKS the provider publishes now (public keys only)."""
    print(json.dumps(_ring(args.config).jwks(utc_now()), indent=2))
    return 0
