"""The local verification context: trust anchors, the store's verifier, challenges, links
and audit log, built from the configuration.

Shared by the kiosk (`verification = "local"`), the platform (`kiosk platform serve`) and the
`verify-card` / `enrol` commands. Heavy imports happen inside the functions.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.config import Config
    from kiosk.store.audit import AuditLog
    from kiosk.store.engine import Database
    from kiosk.store.links import LinkRepository
    from kiosk.verify.certcheck import RevocationSource
    from kiosk.verify.challenge import ChallengeService
    from kiosk.verify.verifier import Verifier


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
        """Open the store (migrated to the latest schema) and load the trust anchors.

        Refused for a kiosk configured with `verification = "platform"`: such an operator is
        not an authorised verifier (公的個人認証法 §63), and verifying here would record every
        verdict's certificate serial and the links' serials in its own store."""
        from kiosk.config import ConfigError

        if cfg.verification == "platform":
            raise ConfigError(
                'this configuration verifies at a platform (verification = "platform"): '
                "local verification, and the certificate records it keeps, are for authorised "
                "verifiers only"
            )
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
