"""The local verification context: trust anchors, the store's verifier, challenges, links
and audit log, built from the configuration, and the CRLs of `crl_dir` put in force.

Shared by the kiosk (`verification = "local"`), the platform (`kiosk platform serve`) and the
`verify-card` / `enrol` commands: the one place both the kiosk's composition root and the
platform build verification from, so the platform never imports the kiosk's wiring. Heavy
imports happen inside the functions.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.config import Config
    from kiosk.oidc.provider import OpenIdProvider
    from kiosk.store.audit import AuditLog
    from kiosk.store.engine import Database
    from kiosk.store.links import LinkRepository
    from kiosk.verify.certcheck import RevocationSource
    from kiosk.verify.challenge import ChallengeService
    from kiosk.verify.trust import TrustStore
    from kiosk.verify.verifier import Verifier

log = logging.getLogger(__name__)


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
        from kiosk.clock import utc_now
        from kiosk.store.audit import AuditLog
        from kiosk.store.engine import Database
        from kiosk.store.links import LinkRepository
        from kiosk.store.renewal import LinkRenewals, RenewingVerificationStore, SqlSuccessionSource
        from kiosk.verify.challenge import ChallengeService
        from kiosk.verify.verifier import Verifier

        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(cfg.effective_database_url)
        db.upgrade()
        challenges = ChallengeService(ttl_s=cfg.challenge_ttl_s, keys=challenge_keys(cfg))
        verifier = Verifier(
            trust_store(cfg),
            # a renewed card's first proof moves its link (the CA's link data, `kiosk renewal`)
            RenewingVerificationStore(db, LinkRenewals(db, SqlSuccessionSource(db)), utc_now),
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
            AuditLog(db, terminal_id=cfg.terminal_id),
            db,
        )


def phones_accepted(cfg: Config) -> bool:
    """Smartphone certificates are taken: `[tokens] accept_phones` is on and their anchors
    are configured — `phone_trust_dir` holds at least one, or a `[trust_groups.<name>]`
    group is of kind "phone" (its directory is checked where the anchors load). Enabled
    without anchors is logged and refused (a phone then gets the screen that says to use
    the card)."""
    tokens = cfg.tokens
    if not tokens.accept_phones:
        return False
    from kiosk.verify.trust import TokenClass, TrustError, TrustStore

    if any(group.kind == TokenClass.PHONE for group in cfg.trust_groups):
        return True
    if not tokens.phone_trust_dir:
        log.warning("phones are not taken: [tokens] accept_phones needs their anchors")
        return False
    try:
        found = len(TrustStore.from_dir(tokens.phone_trust_dir)) > 0
    except TrustError as e:
        log.warning("phones are not taken: [tokens] phone_trust_dir: %s", e)
        return False
    if not found:
        log.warning("phones are not taken: [tokens] phone_trust_dir holds no trust anchor")
    return found


def trust_store(cfg: Config) -> TrustStore:
    """The anchors verification pins: the cards' (`trust_dir`: today's RSA roots and the next
    card's P-384 roots, each in the group its key implies), each `[trust_groups.<name>]`
    group, and, when phones are taken, the phone certificates' own (`[tokens]
    phone_trust_dir`, a group of their own)."""
    from kiosk.verify.scheme import SchemeName
    from kiosk.verify.trust import AnchorGroup, TokenClass, TrustStore

    groups = [
        (
            AnchorGroup(g.name, TokenClass(g.kind), frozenset(SchemeName(s) for s in g.schemes)),
            Path(g.dir),
        )
        for g in cfg.trust_groups
    ]
    if cfg.tokens.phone_trust_dir and phones_accepted(cfg):
        # phone certificates are RSA-2048 like today's card's (../shared/jpki-lifecycle.md §2) [L]
        rsa = frozenset({SchemeName.RSA_PKCS1V15_SHA256})
        phones = AnchorGroup("phone", TokenClass.PHONE, rsa)
        groups.append((phones, Path(cfg.tokens.phone_trust_dir)))
    return TrustStore.from_dirs(cfg.trust_dir, groups)


def challenge_keys(cfg: Config) -> list[bytes]:
    """The challenge keys (32 bytes each, for the tokens' keyed BLAKE2s tags), the signing
    one first.

    Configured as `challenge_keys = ["<64 hex digits>", …]` (workers that share a database
    share these; to rotate, put a new key first and drop the old one after a ttl); else one
    key in `<data_dir>/challenge.key`, made on first use."""
    if cfg.challenge_keys:
        return list(cfg.challenge_keys)
    return [key_file(cfg.data_dir / "challenge.key")]


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
    """CAs whose revocation is asked of an OCSP responder instead of the CRL (`[ocsp]`: one
    `"<CA subjectKeyIdentifier hex>" = "<URL>"` each, checked when the configuration loads)."""
    from kiosk.verify.ocsp import OcspChecker, UrllibTransport

    transport = UrllibTransport()
    return {key_id: OcspChecker(url, transport) for key_id, url in cfg.ocsp.items()}


def import_crls(cfg: Config, local: LocalContext) -> None:
    """Put the CRLs in `crl_dir` in force (as `kiosk crl import` does), for the kiosk in
    local mode and for the platform alike. A bad file is logged with the reason and skipped,
    the good ones are imported; a CA left with no CRL in force is named, since its cards are
    refused (crl_missing) until one is imported."""
    from functools import partial

    from kiosk.clock import utc_now
    from kiosk.store.crlimport import import_sources
    from kiosk.store.revocation import SqlRevocationIndex
    from kiosk.verify.crl import check_crl

    if not cfg.crl_dir.exists():
        return
    trust = trust_store(cfg)
    index = SqlRevocationIndex(local.db)
    now = utc_now()
    check = partial(check_crl, trust=trust, now=now)
    for outcome in import_sources([str(cfg.crl_dir)], check, index, now):
        if outcome.result is None:
            log.warning("CRL skipped: %s", outcome.line())
    for anchor in trust:
        if index.crl_info(anchor.key_id) is None:
            log.warning(
                "no CRL in force for the CA %s (%s): its cards are refused (crl_missing) "
                "unless OCSP answers for it",
                anchor.certificate.subject.rfc4514_string(),
                anchor.key_id,
            )


def openid_provider(cfg: Config, db: Database) -> OpenIdProvider | None:
    """The OpenID Provider of `[oidc]` over the store (None without an issuer): its clients
    from `[[oidc_clients]]`, its signing keys in `keys_dir` (made on first use), the pairwise
    secret in `pairwise_secret_file` (made on first use, 0600), and links that sign in only
    while active (a revoked link, or one that must be made again, never does)."""
    if not cfg.oidc.issuer:
        return None
    from kiosk.clock import utc_now
    from kiosk.oidc.keys import KeyRing
    from kiosk.oidc.provider import ID_TOKEN_LIFETIME, OpenIdProvider, link_active_in
    from kiosk.store.links import LinkRepository
    from kiosk.store.oidc import OidcStore

    oidc = cfg.oidc
    keys = KeyRing(Path(oidc.keys_dir or cfg.data_dir / "oidc-keys"), ID_TOKEN_LIFETIME)
    secret = key_file(Path(oidc.pairwise_secret_file or cfg.data_dir / "oidc-pairwise.key"))
    return OpenIdProvider(
        OidcStore(db),
        cfg.oidc_clients,
        keys,
        oidc.issuer,
        secret,
        utc_now,
        link_active_in(LinkRepository(db)),
    )
