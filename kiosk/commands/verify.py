"""`kiosk verify-card`: one user proof against the card in the reader, verified locally.

The PIN is read from the terminal (or one line of stdin with --pin-stdin), sent to the card
once, and forgotten; the verdict is printed as JSON (exit 0 when verified, 1 when refused).
Also the local verification context `kiosk enrol` shares: trust anchors, the store's
challenges, CRLs, links and audit log.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from kiosk.card.connection import CardConnection
    from kiosk.config import Config
    from kiosk.jpki.session import JpkiSession
    from kiosk.store.audit import AuditLog
    from kiosk.store.engine import Database
    from kiosk.store.links import LinkRepository
    from kiosk.verify.certcheck import RevocationSource
    from kiosk.verify.challenge import ChallengeService
    from kiosk.verify.verdict import Verdict
    from kiosk.verify.verifier import Verifier

Clock = Callable[[], datetime]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `verify-card` command."""
    parser = subparsers.add_parser(
        "verify-card", help="prove who holds the card in the reader (local verification, JSON)"
    )
    add_card_options(parser)
    parser.add_argument(
        "--pin-stdin", action="store_true", help="read the PIN as one line of standard input"
    )
    parser.set_defaults(func=run)


def add_card_options(parser: argparse.ArgumentParser) -> None:
    """The options every card command shares: --reader and --config."""
    parser.add_argument("--reader", default=None, help="PC/SC reader (default: config, else any)")
    parser.add_argument("--config", default=None, help="configuration file (TOML)")


def utc_now() -> datetime:
    """The wall clock, in UTC (read at the edge only)."""
    return datetime.now(UTC)


def read_secret(prompt: str, from_stdin: bool = False) -> str:
    """A PIN or password from the terminal without echo, or one line of stdin; never logged."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return getpass.getpass(prompt)


@dataclass(frozen=True, slots=True)
class LocalContext:
    """What local verification needs, built from the configuration over the store."""

    provider_id: str
    terminal_id: str
    verifier: Verifier
    challenges: ChallengeService
    links: LinkRepository
    audit: AuditLog
    db: Database

    @classmethod
    def from_config(cls, cfg: Config) -> LocalContext:
        """Open the store (migrated to the latest schema) and load the trust anchors."""
        from kiosk.store.audit import AuditLog
        from kiosk.store.engine import Database
        from kiosk.store.links import LinkRepository
        from kiosk.store.verification import SqlVerificationStore
        from kiosk.verify.challenge import ChallengeService
        from kiosk.verify.trust import TrustStore
        from kiosk.verify.verifier import Verifier

        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(cfg.effective_database_url)
        db.upgrade()
        challenges = ChallengeService(ttl_s=cfg.challenge_ttl_s, keys=challenge_keys(cfg))
        verifier = Verifier(
            TrustStore.from_dir(cfg.trust_dir),
            SqlVerificationStore(db),
            challenges,
            crl_grace_s=cfg.crl_grace_s,
            sources=ocsp_sources(cfg),
        )
        return cls(
            cfg.provider_id,
            cfg.terminal_id,
            verifier,
            challenges,
            LinkRepository(db),
            AuditLog(db),
            db,
        )


def challenge_keys(cfg: Config) -> list[bytes]:
    """The challenge keys (32 bytes each, for the tokens' keyed BLAKE2s tags), the signing
    one first.

    Configured as `[extra] challenge_keys = ["<64 hex digits>", …]` (workers that share a
    database share these; to rotate, put a new key first and drop the old one after a ttl);
    else one key in `<data_dir>/challenge.key`, made on first use."""
    from kiosk.config import ConfigError
    from kiosk.verify.challenge import KEY_BYTES

    configured = cfg.extra.get("challenge_keys")
    if configured is None:
        return [key_file(cfg.data_dir / "challenge.key")]
    try:
        keys = [bytes.fromhex(k) for k in configured]
    except (TypeError, ValueError) as e:
        raise ConfigError("'extra.challenge_keys' must be a list of hex strings") from e
    if not keys or any(len(k) != KEY_BYTES for k in keys):
        raise ConfigError(f"'extra.challenge_keys' must hold keys of {KEY_BYTES} bytes")
    return keys


def key_file(path: Path) -> bytes:
    """The 32-byte key in `path`, made (mode 0600, atomically) if it does not exist yet."""
    import os
    import tempfile

    from kiosk.config import ConfigError
    from kiosk.verify.challenge import KEY_BYTES

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".challenge-key-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(os.urandom(KEY_BYTES))
                f.flush()
                os.fsync(f.fileno())
            with suppress(FileExistsError):  # another worker made it first: use theirs
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ConfigError(f"{path} must hold exactly {KEY_BYTES} bytes")
    return key


def ocsp_sources(cfg: Config) -> dict[str, RevocationSource]:
    """CAs whose revocation is asked of an OCSP responder instead of the CRL.

    Configured as `[extra.ocsp]` with one `"<CA subjectKeyIdentifier hex>" = "<URL>"` each."""
    from kiosk.config import ConfigError
    from kiosk.verify.ocsp import OcspChecker, UrllibTransport

    table = cfg.extra.get("ocsp", {})
    if not isinstance(table, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in table.items()
    ):
        raise ConfigError("'extra.ocsp' must map CA key ids (hex) to responder URLs")
    transport = UrllibTransport()
    return {key_id.lower(): OcspChecker(url, transport) for key_id, url in table.items()}


@contextmanager
def open_card(reader: str) -> Iterator[CardConnection]:
    """Exclusive PC/SC access to the card in `reader` (empty: the first reader with a card);
    the card is reset on the way out, so no verified PIN outlives the command."""
    from kiosk.card.pcsc import connect

    with connect(reader or None) as connection, connection.transaction():
        yield connection


def prove(session: JpkiSession, pin: str, local: LocalContext, clock: Clock) -> Verdict:
    """Have the card answer a fresh challenge and verify the proof (the verifier records the
    verdict and flags the link when its signature certificate was revoked)."""
    from kiosk.jpki.operations import authenticate
    from kiosk.verify.proof import UserProof, signed_message

    provider, terminal = local.provider_id, local.terminal_id
    challenge = local.challenges.issue(provider, terminal, clock())
    signed = authenticate(session, pin, signed_message(provider, terminal, challenge.nonce))
    proof = UserProof(provider, terminal, challenge.nonce, signed.certificate_der, signed.signature)
    return local.verifier.verify_user_proof(proof, clock(), action="verify_card")


def print_json(obj: dict[str, Any]) -> None:
    """Print one JSON object on stdout."""
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def run(args: argparse.Namespace) -> int:
    """Read the PIN, run one proof on the card, print the verdict."""
    from kiosk import config
    from kiosk.jpki.session import JpkiSession

    cfg = config.load(args.config)
    local = LocalContext.from_config(cfg)
    try:
        pin = read_secret("利用者証明用暗証番号 / authentication PIN (4 digits): ", args.pin_stdin)
        with open_card(args.reader or cfg.reader) as connection:
            verdict = prove(JpkiSession(connection), pin, local, utc_now)
    finally:
        local.db.dispose()
    print_json(verdict.to_json())
    return 0 if verdict.ok else 1
