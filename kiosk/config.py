"""Kiosk settings: one frozen dataclass, one loader (TOML file, then KIOSK_* environment).

See `packaging/kiosk.example.toml` for every key with its meaning. Unknown keys and values of
the wrong type are refused with a message that names the key: a typo never silently falls back
to a default.

Legal note (公的個人認証法): only a business authorised by the Minister (総務大臣が認める
民間事業者) may verify JPKI proofs itself. `verification = "local"` is for such operators; a
clinic or shop that is not one sets `verification = "platform"` and `platform_url` to an
authorised platform.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast, get_args
from urllib.parse import urlsplit

from kiosk.errors import KioskError
from kiosk.flow.staff import STAFF_ID_RE, Credential, CredentialError, StaffMember
from kiosk.oidc.clients import ClientConfigError, OidcClient, clients_from_config
from kiosk.services.receipt import ReceiptPrinterSettings

Verification = Literal["local", "platform"]
#: The screen languages (kiosk.i18n.Language; configuration sits below it, a test keeps the
#: two the same).
Language = Literal["ja", "ja-easy", "en"]
Theme = Literal["default", "high-contrast"]
#: Where the kiosk's sound goes; a handset or headphones turn spoken guidance on for everyone.
AudioOutput = Literal["speaker", "handset", "headphones"]

#: Days the audit log keeps a row by default: three years (and a day for a leap year). A clinic
#: keeps the records of its insurance work for three years (保険医療機関及び保険医療養担当規則
#: §9: 療養の給付の担当に関する帳簿及び書類その他の記録, three years from completion; 診療録
#: five years, kept elsewhere), and the audit says who was checked in, when, and the verdict.
AUDIT_RETENTION_DAYS = 3 * 365 + 1
#: The shortest period accepted: a mistyped value never lets `kiosk audit purge` take the
#: last quarter's rows; the database holds the same floor (migration 0004).
AUDIT_RETENTION_MIN_DAYS = 90
#: The longest: ten years covers any retention duty a clinic or shop has; a longer value is a
#: typo (e.g. 36500) rather than a policy.
AUDIT_RETENTION_MAX_DAYS = 3660


class ConfigError(KioskError):
    """The configuration file or environment is wrong; the message names the key."""

    code = "config"


#: A provider id: the form challenges and the platform accept (kiosk.verify.challenge's
#: IDENTIFIER; configuration sits below verification, and a test keeps the two equal).
PROVIDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
#: Bytes of a challenge key (kiosk.verify.challenge.KEY_BYTES; a test keeps them equal).
CHALLENGE_KEY_BYTES = 32
#: A bearer token is one header value: printable ASCII without spaces.
_TOKEN = re.compile(r"[\x21-\x7e]+")
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
#: A CA's subjectKeyIdentifier in hex (SHA-1's 20 bytes usually; 1 to 64 bytes accepted).
_KEY_ID_HEX = re.compile(r"(?:[0-9a-fA-F]{2}){1,64}")
_CHALLENGE_KEY_HEX = re.compile(f"[0-9a-fA-F]{{{2 * CHALLENGE_KEY_BYTES}}}")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
#: Seconds a platform waits for a peer platform's answer unless `timeout_s` says otherwise.
PEER_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class PeerConfig:
    """`[platform_peers.<provider>]`: another platform that verifies for one provider, and
    this platform's bearer token there."""

    #: The peer's base URL (https; plain http only to this machine).
    url: str
    #: This platform's token at the peer (a secret: never in a message or log line).
    token: str = field(repr=False)
    #: The longest this platform waits for the peer's answer to one request (seconds; a
    #: relay's remaining time budget may make it shorter: kiosk.platform.relay).
    timeout_s: float = PEER_TIMEOUT_S


InsuranceDirectory = Literal["test", "roster", "http"]
EnrolTo = Literal["new_account", "patient_record"]
ReceptionDelivery = Literal["none", "http", "file"]
PaymentGatewayKind = Literal["test", "http"]


@dataclass(frozen=True, slots=True)
class InsuranceConfig:
    """`[insurance]`: where the insurance check asks whether a person is covered today."""

    #: "test" (the TEST directory of the demo wing: obviously fake data, demo and tests only),
    #: "roster" (the insurer rosters and patient records loaded into this kiosk's store with
    #: `kiosk insurance import` and `kiosk patients import`) or "http" (an insurer-side
    #: directory, docs/insurance.md).
    directory: InsuranceDirectory = "test"
    #: "http": the directory's base URL (https; plain http only to this machine).
    url: str = ""
    #: "http": this kiosk's bearer token there (a secret: never in a message or log line).
    token: str = field(default="", repr=False)
    #: "http": seconds each phase of a request may take.
    timeout_s: int = 5


@dataclass(frozen=True, slots=True)
class ReceptionConfig:
    """`[reception]`: where an eligibility result goes for the clinic's reception system
    (a FHIR R4 Bundle, through the store's outbox: docs/reception.md)."""

    #: "none" (nothing is handed off), "http" (POST to the reception system) or "file" (an
    #: atomic file drop into `directory`).
    delivery: ReceptionDelivery = "none"
    #: "http": the reception system's endpoint (https; plain http only to this machine).
    url: str = ""
    #: "http": the bearer token there (a secret: never in a message or log line).
    token: str = field(default="", repr=False)
    #: "http": seconds each phase of a delivery may take.
    timeout_s: int = 5
    #: "file": the directory the reception system reads.
    directory: str = ""
    #: The clinic's 10-digit 医療機関コード, which names its patient numbers' JP Core
    #: identifier system; empty = the kiosk's own system (docs/reception.md).
    institution_code: str = ""
    #: Seconds between the sender's passes over the outbox (it also runs at once after a visit).
    interval_s: int = 5


@dataclass(frozen=True, slots=True)
class PaymentConfig:
    """`[payment]`: the card company's gateway the payment service charges, and the limits
    the ledger checks (docs/payment-gateway.md)."""

    #: "test" (the TEST card company of the demo wing: nothing is charged, receipts say TEST)
    #: or "http" (a card company's gateway, docs/payment-gateway.md).
    gateway: PaymentGatewayKind = "test"
    #: The card company's code in the ledger and the settlement; empty = the gateway's kind.
    card_company: str = ""
    #: "http": the gateway's base URL (https; plain http only to this machine).
    url: str = ""
    #: "http": the shop's bearer token there (a secret: never in a message or log line).
    token: str = field(default="", repr=False)
    #: "http": seconds each phase of a request may take.
    timeout_s: int = 10
    #: The most one payment may be, in yen (the POS API refuses a larger request).
    per_payment_yen: int = 10_000
    #: The most one account may pay at this shop in a day (in Japan), in yen.
    daily_account_yen: int = 30_000
    #: The most this terminal may take in a day (in Japan), in yen.
    daily_terminal_yen: int = 30_000

    @property
    def company_code(self) -> str:
        """The card company's code in the ledger: `card_company`, else the gateway's kind."""
        return self.card_company or self.gateway


@dataclass(frozen=True, slots=True)
class PosConfig:
    """`[pos]`: the POS API the shop's POS rings up through (docs/pos-api.md)."""

    #: "host:port" to serve the POS API on; empty = not served. Anything but this machine
    #: (127.0.0.1, ::1, localhost) needs `tls_cert` and `tls_key`.
    listen: str = ""
    #: PEM files of the API's TLS certificate (chain) and key.
    tls_cert: str = ""
    tls_key: str = ""
    #: Seconds a payment request stays open (1 to 86,400).
    request_ttl_s: int = 180
    #: Where the result of a request is pushed (POST, JSON); empty = the POS polls.
    callback_url: str = ""
    #: The bearer token sent with the push (a secret: never in a message or log line).
    callback_token: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class PlatformLimitsConfig:
    """`[platform_limits]` (the platform): each terminal credential's allowance, a token
    bucket per credential in each worker process (kiosk.platform.ratelimit)."""

    #: Requests a second a credential may make (its bucket's refill rate).
    per_s: float = 20.0
    #: Requests it may make at once after a quiet spell (the bucket's size).
    burst: int = 40


@dataclass(frozen=True, slots=True)
class OidcConfig:
    """`[oidc]`: the OpenID Provider online services sign people in with (docs/oidc.md). The
    platform serves it (`kiosk platform serve`); a kiosk with local verification (an
    authorised verifier on one box) serves it itself on `listen`."""

    #: The provider's public base URL, its `iss` (https; plain http only to this machine);
    #: empty = no OpenID Provider.
    issuer: str = ""
    #: The ID-token signing keys (0700); empty = `<data_dir>/oidc-keys`.
    keys_dir: str = ""
    #: The secret the pairwise `sub` is derived with (0600, 32 random bytes made on first
    #: use); empty = `<data_dir>/oidc-pairwise.key`. Changing it changes every `sub`.
    pairwise_secret_file: str = ""
    #: A kiosk with local verification: "host:port" to serve the provider's pages on (off
    #: this machine only with tls_cert and tls_key); the platform serves them itself.
    listen: str = ""
    tls_cert: str = ""
    tls_key: str = ""


@dataclass(frozen=True, slots=True)
class CrlRefreshConfig:
    """`[crl_refresh]`: CRLs fetched on a schedule (kiosk.platform.crlrefresh). Plain http is
    allowed anywhere: a CRL is signed, and its distribution points are http by RFC 5280."""

    #: The URLs of the CRLs (complete or delta) to fetch; none = no refresh.
    urls: tuple[str, ...] = ()
    #: Seconds between two checks of one URL (60 to 604,800).
    interval_s: int = 3600
    #: Seconds one fetch may take in all (1 to 600).
    timeout_s: int = 30
    #: The largest CRL accepted, in bytes (1 KiB to 4 GiB).
    max_bytes: int = 512 * 1024 * 1024
    #: Where the last complete CRL of each URL is kept, the base the next one is diffed
    #: against; empty = `<data_dir>/crl-cache`.
    cache_dir: str = ""


@dataclass(frozen=True, slots=True)
class TokensConfig:
    """`[tokens]`: which JPKI tokens besides the My Number Card are taken (docs/tokens.md).

    Smartphone certificates have their own CA and revocation data: a phone is taken only when
    `accept_phones` is on AND `phone_trust_dir` holds their trust anchors (their CRLs go in
    `crl_dir` with the card's); otherwise a phone gets a screen saying to use the card."""

    accept_phones: bool = False
    #: Directory of the phone certificates' CA certificates (PEM/DER); empty = none.
    phone_trust_dir: str = ""


#: The signature schemes a trust-anchor group may allow (kiosk.verify.scheme.SchemeName).
TRUST_SCHEMES = ("rsa-pkcs1v15-sha256", "ecdsa-p384-sha384")
#: The token classes a trust-anchor group issues for (kiosk.verify.trust.TokenClass).
TRUST_TOKENS = ("card", "phone")


@dataclass(frozen=True, slots=True)
class TrustGroupConfig:
    """`[trust_groups.<name>]`: one more group of trust anchors beside `trust_dir`'s (where
    each card root's own key puts it in today's RSA group or the next card's P-384 group): a
    directory of CA certificates, the token class they issue for and the signature schemes
    their certificates may use (kiosk.verify.trust.AnchorGroup; docs/next-card.md)."""

    name: str
    dir: str
    kind: str = "card"  # the token class: card or phone
    schemes: tuple[str, ...] = ("rsa-pkcs1v15-sha256",)


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the kiosk, the CLI and the platform read from configuration."""

    #: Where the kiosk keeps its state (SQLite store, PKI for the demo, screenshots).
    data_dir: Path = Path("var")
    #: SQLAlchemy URL of the store; empty = SQLite file `<data_dir>/kiosk.sqlite3`.
    database_url: str = ""
    #: "local" (authorised operators only) or "platform" (everyone else).
    verification: Verification = "local"
    #: Base URL of the common platform when verification = "platform".
    platform_url: str = ""
    #: Bearer token the kiosk presents to the platform.
    platform_token: str = ""
    #: Seconds the platform (`kiosk platform serve`) waits for a request's whole body before
    #: answering 408 and closing the connection: a client trickling a body is cut off.
    platform_body_timeout_s: int = 5
    #: This platform's name among platforms (`kiosk platform serve`): relays between
    #: platforms carry the chain of names they passed, and a platform refuses a relay that
    #: already passed it (a loop). A short identifier, as a provider id is.
    platform_id: str = "platform"
    #: The networks (CIDR) whose clients may read the platform's `/metrics` (no token: a
    #: scraper has none); empty = nobody. Default: this machine only.
    platform_metrics_networks: tuple[IPv4Network | IPv6Network, ...] = (
        IPv4Network("127.0.0.0/8"),
        IPv6Network("::1/128"),
    )
    #: This kiosk's identity towards the platform and in challenges.
    provider_id: str = "demo-clinic"
    terminal_id: str = "kiosk-1"
    #: Directory of trust anchors (PEM/DER) for the authentication and signature CAs.
    trust_dir: Path = Path("var/pki/trust")
    #: Directory the operator drops CRLs into (DER or PEM).
    crl_dir: Path = Path("var/pki/crl")
    #: Reader to use; empty = the first reader that has a card.
    reader: str = ""
    #: Seconds a challenge stays valid.
    challenge_ttl_s: int = 120
    #: Seconds a CRL may be used past its nextUpdate before verification refuses.
    crl_grace_s: int = 0
    #: Seconds without a touch before the kiosk returns to the attract screen.
    idle_timeout_s: int = 60
    #: "More time" (accessibility): a person may double the countdowns (idle, put the card
    #: back) up to this many times their setting; 1 = no "more time" button (1 to 16).
    more_time_limit: int = 4
    #: "ja", "ja-easy" (やさしい日本語) or "en".
    language: Language = "ja"
    #: "default" or "high-contrast".
    theme: Theme = "default"
    sound: bool = True
    shuffle_pin_pad: bool = False
    #: "speaker", "handset" or "headphones": with a handset or headphones (heard by the person
    #: alone) spoken guidance is always on, without pressing its button (docs/guidance.md).
    audio_output: AudioOutput = "speaker"
    #: The members of staff who may sign in (`[[staff]]` tables: staff number and scrypt
    #: credential, made by `kiosk staff credential`); none disables staff mode.
    staff: tuple[StaffMember, ...] = ()
    #: Where "call staff" goes: an HTTP webhook at the counter (https; plain http only to this
    #: machine); empty = the screen sends the person to the counter.
    staff_call_url: str = ""
    #: Seconds each phase of a staff call may take (connect, send, answer) before it counts
    #: as not delivered.
    staff_call_timeout_s: int = 3
    #: Services offered on this kiosk, in picker order.
    services: tuple[str, ...] = ("identity",)
    #: Days an audit row is kept; `kiosk audit purge` removes older ones (90 to 3660).
    audit_retention_days: int = AUDIT_RETENTION_DAYS
    #: `[providers]`: the providers a person may pick, id -> display name, in picker order;
    #: none = this kiosk's own provider under its id.
    providers: Mapping[str, str] = field(default_factory=dict)
    #: Keys of the challenge tokens (32 bytes each, the signing one first), shared by workers
    #: of one platform; none = one key in `<data_dir>/challenge.key`, made on first use.
    challenge_keys: tuple[bytes, ...] = field(default=(), repr=False)
    #: `[ocsp]`: CAs asked by OCSP instead of the CRL, subjectKeyIdentifier (lower-case hex)
    #: -> responder URL.
    ocsp: Mapping[str, str] = field(default_factory=dict)
    #: `[platform_tokens]` (the platform): provider id -> SHA-256 (lower-case hex) of its
    #: bearer token, one token per provider.
    platform_tokens: Mapping[str, str] = field(default_factory=dict)
    #: `[platform_peers.<provider>]` (the platform): providers another platform verifies for.
    platform_peers: Mapping[str, PeerConfig] = field(default_factory=dict)
    #: `[platform_limits]` (the platform): each terminal credential's allowance (429 over it).
    platform_limits: PlatformLimitsConfig = PlatformLimitsConfig()
    #: Seconds the platform trusts what it looked up about a terminal credential before it
    #: asks the store again (0 to 60; 0 = every request): a revocation or rotation made by
    #: another process takes effect within this time.
    platform_credential_cache_s: int = 2

    #: What an enrolment links the card to: "new_account" (a new opaque account: providers
    #: without records of their own, the demo) or "patient_record" (the clinic's own patient
    #: record, loaded with `kiosk patients import`, whose name and birth date must match the
    #: card's 4 info; no record: the person is asked to register at the counter).
    enrol_to: EnrolTo = "new_account"
    #: `[insurance]`: the eligibility directory of the insurance check.
    insurance: InsuranceConfig = InsuranceConfig()
    #: `[reception]`: the hand-off of eligibility results to the reception system.
    reception: ReceptionConfig = ReceptionConfig()
    #: `[payment]`: the card company's gateway and the ledger's limits.
    payment: PaymentConfig = PaymentConfig()
    #: `[pos]`: the POS API.
    pos: PosConfig = PosConfig()
    #: `[pos_tokens]`: provider id -> SHA-256 (lower-case hex) of its POS's bearer token.
    pos_tokens: Mapping[str, str] = field(default_factory=dict)
    #: `[receipt]`: the receipt printer (docs/receipts.md); none = the screen only.
    receipt: ReceiptPrinterSettings = ReceiptPrinterSettings()
    #: `[oidc]`: the OpenID Provider.
    oidc: OidcConfig = OidcConfig()
    #: `[[oidc_clients]]`: the online services registered with it, by client id.
    oidc_clients: Mapping[str, OidcClient] = field(default_factory=dict)
    #: `[crl_refresh]`: CRLs fetched on a schedule from their URLs.
    crl_refresh: CrlRefreshConfig = CrlRefreshConfig()
    #: `[tokens]`: smartphone certificates, off unless enabled with their trust anchors.
    tokens: TokensConfig = TokensConfig()
    #: `[trust_groups.<name>]`: further trust-anchor groups (directory, token class, schemes).
    trust_groups: tuple[TrustGroupConfig, ...] = ()

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'kiosk.sqlite3'}"


_FIELDS = {f.name: f for f in dataclasses.fields(Config)}


#: Keys that are gone, with how to move on: refused rather than ignored.
_RETIRED = {
    "staff_pin_sha256": (
        "'staff_pin_sha256' is no longer accepted: an unsalted SHA-256 of a short PIN is "
        "reversed in seconds. Give each member of staff their own credential: run "
        "`kiosk staff credential STAFF_NUMBER`, paste the [[staff]] table it prints into the "
        "configuration, and remove 'staff_pin_sha256'"
    ),
}

#: Where each key of the old `[extra]` table lives now.
_MOVED_FROM_EXTRA = {
    "platform_tokens": "[platform_tokens]",
    "platform_peers": "[platform_peers.<provider>]",
    "ocsp": "[ocsp]",
    "providers": "[providers]",
    "challenge_keys": "challenge_keys = [...] (a top-level key)",
}

#: Keys whose values are tables (or lists of tables): set in the file only.
_FILE_ONLY = (
    "staff",
    "providers",
    "ocsp",
    "platform_tokens",
    "platform_peers",
    "platform_limits",
    "insurance",
    "reception",
    "payment",
    "pos",
    "pos_tokens",
    "receipt",
    "oidc",
    "oidc_clients",
    "crl_refresh",
    "tokens",
    "trust_groups",
)


def _retired_extra(value: Any) -> str:
    """Why `[extra]` is refused, naming the table each of its keys is now."""
    found = [k for k in _MOVED_FROM_EXTRA if isinstance(value, Mapping) and k in value]
    moves = "; ".join(
        f"[extra.{k}] is now {_MOVED_FROM_EXTRA[k]}" for k in found or _MOVED_FROM_EXTRA
    )
    return f"'extra' is no longer read, its settings have their own tables: {moves}"


def key_path(*parts: str | int) -> str:
    """A key's full path as TOML spells it: `platform_peers."clinic.a".url`, `staff[0].id`."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        text = part if _BARE_KEY.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
        out += f".{text}" if out else text
    return out


def _refuse(path: str, problem: str) -> ConfigError:
    return ConfigError(f"{path}: {problem}")


def _table(value: Any, *where: str | int) -> Mapping[str, Any]:
    """`value` as a table (its keys text, as TOML's always are), or ConfigError naming `where`."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _refuse(key_path(*where), "must be a table")
    return value


def _string(value: Any, *where: str | int) -> str:
    if not isinstance(value, str):
        raise _refuse(key_path(*where), "must be a string")
    return value


def _provider_key(provider: str, section: str) -> str:
    if PROVIDER_ID.fullmatch(provider) is None:
        raise _refuse(
            key_path(section, provider),
            "unknown key: a provider id is 1 to 64 of A-Z a-z 0-9 _ . : - (a letter or digit "
            "first)",
        )
    return provider


def _providers(value: Any) -> Mapping[str, str]:
    """`[providers]`: provider id -> display name, at least one."""
    table = _table(value, "providers")
    if not table:
        raise _refuse("providers", "must name at least one provider (or leave it out)")
    names: dict[str, str] = {}
    for provider, name in table.items():
        _provider_key(provider, "providers")
        name = _string(name, "providers", provider)
        if not name.strip():
            raise _refuse(key_path("providers", provider), "must not be blank")
        names[provider] = name
    return MappingProxyType(names)


def _challenge_keys(value: Any) -> tuple[bytes, ...]:
    """`challenge_keys = ["<64 hex>", ...]` (or comma-separated in the environment)."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple) or not value:
        raise _refuse("challenge_keys", "must be a list of keys (64 hex digits each)")
    keys: list[bytes] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or _CHALLENGE_KEY_HEX.fullmatch(item) is None:
            raise _refuse(
                key_path("challenge_keys", index),
                f"must be {2 * CHALLENGE_KEY_BYTES} hex digits (a {CHALLENGE_KEY_BYTES}-byte key)",
            )
        keys.append(bytes.fromhex(item))
    return tuple(keys)


def _ocsp(value: Any) -> Mapping[str, str]:
    """`[ocsp]`: "<CA subjectKeyIdentifier hex>" = "<responder URL>"."""
    table = _table(value, "ocsp")
    urls: dict[str, str] = {}
    for key_id, url in table.items():
        if _KEY_ID_HEX.fullmatch(key_id) is None:
            raise _refuse(
                key_path("ocsp", key_id), "unknown key: a CA's subjectKeyIdentifier in hex"
            )
        url = _string(url, "ocsp", key_id)
        scheme, host = _scheme_and_host(url)
        if scheme not in ("http", "https") or not host:
            raise _refuse(key_path("ocsp", key_id), "must be an http:// or https:// URL")
        if key_id.lower() in urls:
            raise _refuse(key_path("ocsp", key_id), "names a CA given already")
        urls[key_id.lower()] = url
    return MappingProxyType(urls)


def _networks(value: Any) -> tuple[IPv4Network | IPv6Network, ...]:
    """`platform_metrics_networks = ["10.1.2.0/24", ...]` (or comma-separated in the
    environment): networks in CIDR form, no host bits set (a typo, not a network)."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple):
        raise _refuse("platform_metrics_networks", "must be a list of networks (CIDR)")
    networks: list[IPv4Network | IPv6Network] = []
    for index, item in enumerate(value):
        try:
            networks.append(ip_network(item if isinstance(item, str) else ""))
        except ValueError:
            raise _refuse(
                key_path("platform_metrics_networks", index),
                "must be a network such as 10.1.2.0/24 or 127.0.0.1 (no host bits set)",
            ) from None
    return tuple(networks)


def _platform_tokens(value: Any, section: str = "platform_tokens") -> Mapping[str, str]:
    """`[platform_tokens]`: provider id -> SHA-256 hex of its token, one token per provider."""
    table = _table(value, section)
    digests: dict[str, str] = {}
    for provider, digest in table.items():
        _provider_key(provider, section)
        digest = _string(digest, section, provider)
        if _SHA256_HEX.fullmatch(digest) is None:
            raise _refuse(
                key_path(section, provider),
                "must be 64 hex digits, the token's SHA-256 (`kiosk platform token` prints it)",
            )
        for other, known in digests.items():
            if known == digest.lower():  # the token would speak for both
                raise _refuse(
                    key_path(section, provider),
                    f"the same token as {other}: each provider needs its own",
                )
        digests[provider] = digest.lower()
    return MappingProxyType(digests)


def _platform_peers(value: Any) -> Mapping[str, PeerConfig]:
    """`[platform_peers.<provider>]` tables of `url`, `token` and optionally `timeout_s`."""
    table = _table(value, "platform_peers")
    peers: dict[str, PeerConfig] = {}
    for provider, peer in table.items():
        _provider_key(provider, "platform_peers")
        peer = _table(peer, "platform_peers", provider)
        for key in peer:
            if key not in ("url", "token", "timeout_s"):
                raise _refuse(key_path("platform_peers", provider, key), "unknown key")
        for key in ("url", "token"):
            if key not in peer:
                raise _refuse(key_path("platform_peers", provider, key), "is required")
        url = _string(peer["url"], "platform_peers", provider, "url")
        token = _string(peer["token"], "platform_peers", provider, "token")
        check_url(url, key_path("platform_peers", provider, "url"))
        if _TOKEN.fullmatch(token) is None:  # never echo it: it is a secret
            raise _refuse(
                key_path("platform_peers", provider, "token"),
                "must be printable ASCII without spaces (and not empty)",
            )
        timeout_s = peer.get("timeout_s", PEER_TIMEOUT_S)
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float):
            timeout_s = 0  # refused below, as a number out of range is
        if not 0.1 <= timeout_s <= 60:
            raise _refuse(
                key_path("platform_peers", provider, "timeout_s"), "must be 0.1 to 60 seconds"
            )
        peers[provider] = PeerConfig(url, token, float(timeout_s))
    return MappingProxyType(peers)


def _platform_limits(value: Any) -> PlatformLimitsConfig:
    """`[platform_limits]`: `per_s` (a positive number up to 100,000) and `burst` (a whole
    number, 1 to 1,000,000)."""
    t = _closed_table(value, "platform_limits", ("per_s", "burst"))
    default = PlatformLimitsConfig()
    per_s = t.get("per_s", default.per_s)
    if isinstance(per_s, bool) or not isinstance(per_s, int | float) or not 0 < per_s <= 1e5:
        raise _refuse(key_path("platform_limits", "per_s"), "must be a number above 0, to 100,000")
    burst = t.get("burst", default.burst)
    if isinstance(burst, bool) or not isinstance(burst, int) or not 1 <= burst <= 1_000_000:
        raise _refuse(
            key_path("platform_limits", "burst"), "must be a whole number, 1 to 1,000,000"
        )
    return PlatformLimitsConfig(float(per_s), burst)


def _choice(value: Any, choices: tuple[str, ...], *where: str) -> str:
    text = _string(value, *where)
    if text not in choices:
        raise _refuse(key_path(*where), "must be " + " or ".join(f'"{c}"' for c in choices))
    return text


def _seconds(value: Any, *where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 60:
        raise _refuse(key_path(*where), "must be a whole number of seconds, 1 to 60")
    return value


def _secret(value: Any, *where: str) -> str:
    token = _string(value, *where)
    if token and _TOKEN.fullmatch(token) is None:  # never echo it: it is a secret
        raise _refuse(key_path(*where), "must be printable ASCII without spaces")
    return token


def _closed_table(value: Any, name: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    table = _table(value, name)
    for key in table:
        if key not in keys:
            raise _refuse(key_path(name, key), "unknown key")
    return table


def _http_endpoint(section: str, choice: str, url: str, token: str) -> None:
    """A section's "http" choice needs its url (https, or plain http to this machine) and
    its bearer token."""
    for key, value in (("url", url), ("token", token)):
        if not value:
            raise _refuse(key_path(section, key), f'is required when {choice} = "http"')
        if key == "url":
            check_url(url, key_path(section, "url"))


def _insurance(value: Any) -> InsuranceConfig:
    """`[insurance]`: directory, and for "http" its url, token and timeout."""
    t = _closed_table(value, "insurance", ("directory", "url", "token", "timeout_s"))
    directory = _choice(
        t.get("directory", "test"), get_args(InsuranceDirectory), "insurance", "directory"
    )
    url = _string(t.get("url", ""), "insurance", "url")
    token = _secret(t.get("token", ""), "insurance", "token")
    timeout = _seconds(t.get("timeout_s", 5), "insurance", "timeout_s")
    if directory == "http":
        _http_endpoint("insurance", "directory", url, token)
    return InsuranceConfig(cast(InsuranceDirectory, directory), url, token, timeout)


def _reception(value: Any) -> ReceptionConfig:
    """`[reception]`: delivery, and for "http" its url and token, for "file" its directory."""
    keys = ("delivery", "url", "token", "timeout_s", "directory", "institution_code", "interval_s")
    t = _closed_table(value, "reception", keys)
    delivery = _choice(
        t.get("delivery", "none"), get_args(ReceptionDelivery), "reception", "delivery"
    )
    url = _string(t.get("url", ""), "reception", "url")
    token = _secret(t.get("token", ""), "reception", "token")
    timeout = _seconds(t.get("timeout_s", 5), "reception", "timeout_s")
    directory = _string(t.get("directory", ""), "reception", "directory")
    code = _string(t.get("institution_code", ""), "reception", "institution_code")
    if code and not (len(code) == 10 and code.isascii() and code.isdigit()):
        raise _refuse(key_path("reception", "institution_code"), "must be 10 digits")
    interval = _seconds(t.get("interval_s", 5), "reception", "interval_s")
    if delivery == "http":
        if not url:
            raise _refuse(key_path("reception", "url"), 'is required when delivery = "http"')
        check_url(url, key_path("reception", "url"))
    if delivery == "file" and not directory:
        raise _refuse(key_path("reception", "directory"), 'is required when delivery = "file"')
    return ReceptionConfig(
        cast(ReceptionDelivery, delivery), url, token, timeout, directory, code, interval
    )


def _yen(value: Any, *where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000_000:
        raise _refuse(key_path(*where), "must be a whole number of yen, 1 to 10,000,000")
    return value


def _payment(value: Any) -> PaymentConfig:
    """`[payment]`: the gateway (for "http" its url and token) and the limits."""
    keys = (
        "gateway", "card_company", "url", "token", "timeout_s",
        "per_payment_yen", "daily_account_yen", "daily_terminal_yen",
    )  # fmt: skip
    t = _closed_table(value, "payment", keys)
    gateway = _choice(t.get("gateway", "test"), get_args(PaymentGatewayKind), "payment", "gateway")
    company = _string(t.get("card_company", ""), "payment", "card_company")
    if company and re.fullmatch(r"[a-z][a-z0-9_.-]{0,31}", company) is None:
        raise _refuse(key_path("payment", "card_company"), "must be a short lower-case code")
    url = _string(t.get("url", ""), "payment", "url")
    token = _secret(t.get("token", ""), "payment", "token")
    timeout = _seconds(t.get("timeout_s", 10), "payment", "timeout_s")
    per_payment = _yen(t.get("per_payment_yen", 10_000), "payment", "per_payment_yen")
    account = _yen(t.get("daily_account_yen", 30_000), "payment", "daily_account_yen")
    terminal = _yen(t.get("daily_terminal_yen", 30_000), "payment", "daily_terminal_yen")
    if gateway == "http":
        _http_endpoint("payment", "gateway", url, token)
    return PaymentConfig(
        cast(PaymentGatewayKind, gateway),
        company,
        url,
        token,
        timeout,
        per_payment,
        account,
        terminal,
    )


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _pos(value: Any) -> PosConfig:
    """`[pos]`: where the POS API listens (TLS off this machine), the TTL, the push."""
    keys = ("listen", "tls_cert", "tls_key", "request_ttl_s", "callback_url", "callback_token")
    t = _closed_table(value, "pos", keys)
    listen = _string(t.get("listen", ""), "pos", "listen")
    cert = _string(t.get("tls_cert", ""), "pos", "tls_cert")
    key = _string(t.get("tls_key", ""), "pos", "tls_key")
    if listen:
        host, port = listen_address(listen)
        if host not in _LOOPBACK and not (cert and key):
            raise _refuse(
                key_path("pos", "listen"),
                "off this machine needs tls_cert and tls_key (the POS API carries tokens)",
            )
        del port
    if bool(cert) != bool(key):
        raise _refuse(
            key_path("pos", "tls_key" if cert else "tls_cert"), "is needed with the other"
        )
    ttl = t.get("request_ttl_s", 180)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= 86_400:
        raise _refuse(key_path("pos", "request_ttl_s"), "must be 1 to 86,400 seconds")
    callback = _string(t.get("callback_url", ""), "pos", "callback_url")
    if callback:
        check_url(callback, key_path("pos", "callback_url"))
    token = _secret(t.get("callback_token", ""), "pos", "callback_token")
    if callback and not token:
        raise _refuse(key_path("pos", "callback_token"), "is required with callback_url")
    return PosConfig(listen, cert, key, ttl, callback, token)


def listen_address(listen: str, section: str = "pos") -> tuple[str, int]:
    """(host, port) of a `host:port` (an IPv6 host in brackets); ConfigError otherwise."""
    host, sep, port = listen.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isascii() or not port.isdigit():
        raise _refuse(key_path(section, "listen"), 'must be "host:port"')
    if not 1 <= int(port) <= 65_535:
        raise _refuse(key_path(section, "listen"), "has a port out of range")
    return host, int(port)


def _oidc(value: Any) -> OidcConfig:
    """`[oidc]`: the issuer, where its keys and pairwise secret live, where a kiosk serves it."""
    keys = ("issuer", "keys_dir", "pairwise_secret_file", "listen", "tls_cert", "tls_key")
    t = _closed_table(value, "oidc", keys)
    issuer = _string(t.get("issuer", ""), "oidc", "issuer")
    if issuer:
        check_url(issuer, key_path("oidc", "issuer"))
        if issuer.endswith("/") or "?" in issuer or "#" in issuer:
            raise _refuse(key_path("oidc", "issuer"), "must have no trailing /, query or fragment")
    values = {k: _string(t.get(k, ""), "oidc", k) for k in keys[1:]}
    if values["listen"]:
        host, _port = listen_address(values["listen"], "oidc")
        if host not in _LOOPBACK and not (values["tls_cert"] and values["tls_key"]):
            raise _refuse(key_path("oidc", "listen"), "off this machine needs tls_cert and tls_key")
    if bool(values["tls_cert"]) != bool(values["tls_key"]):
        raise _refuse(key_path("oidc", "tls_key"), "is needed with tls_cert (and the other way)")
    return OidcConfig(issuer, **values)


def _crl_refresh(value: Any) -> CrlRefreshConfig:
    """`[crl_refresh]`: http(s) URLs, the interval, the time and size bounds, the cache."""
    keys = ("urls", "interval_s", "timeout_s", "max_bytes", "cache_dir")
    t = _closed_table(value, "crl_refresh", keys)
    urls = t.get("urls", [])
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise _refuse(key_path("crl_refresh", "urls"), "must be a list of URLs")
    for i, url in enumerate(urls):
        if _scheme_and_host(url)[0] not in ("http", "https") or not _scheme_and_host(url)[1]:
            raise _refuse(key_path("crl_refresh", "urls", i), "must be an http:// or https:// URL")
    if len(set(urls)) != len(urls):
        raise _refuse(key_path("crl_refresh", "urls"), "lists a URL twice")
    bounds = {"interval_s": (60, 604_800), "timeout_s": (1, 600), "max_bytes": (1024, 1 << 32)}
    numbers = {}
    for key, (low, high) in bounds.items():
        number = t.get(key, getattr(CrlRefreshConfig(), key))
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
            raise _refuse(key_path("crl_refresh", key), f"must be a whole number, {low} to {high}")
        numbers[key] = number
    cache_dir = _string(t.get("cache_dir", ""), "crl_refresh", "cache_dir")
    return CrlRefreshConfig(tuple(urls), cache_dir=cache_dir, **numbers)


def _tokens(value: Any) -> TokensConfig:
    """`[tokens]`: accept_phones (true/false) and the phone certificates' anchor directory."""
    t = _closed_table(value, "tokens", ("accept_phones", "phone_trust_dir"))
    accept = t.get("accept_phones", False)
    if not isinstance(accept, bool):
        raise _refuse(key_path("tokens", "accept_phones"), "must be true or false")
    return TokensConfig(accept, _string(t.get("phone_trust_dir", ""), "tokens", "phone_trust_dir"))


def _trust_groups(value: Any) -> tuple[TrustGroupConfig, ...]:
    """`[trust_groups.<name>]`: dir (required), kind (the token class: card or phone, default
    card), schemes (a non-empty list of TRUST_SCHEMES, default RSA only)."""
    groups = []
    for name, raw in _table(value, "trust_groups").items():
        where = ("trust_groups", name)
        t = _table(raw, *where)
        for key in t:
            if key not in ("dir", "kind", "schemes"):
                raise _refuse(key_path(*where, key), "unknown key")
        directory = _string(t.get("dir", ""), *where, "dir")
        if not directory:
            raise _refuse(key_path(*where, "dir"), "must name the group's anchor directory")
        kind = _string(t.get("kind", "card"), *where, "kind")
        if kind not in TRUST_TOKENS:
            raise _refuse(key_path(*where, "kind"), f"must be one of {', '.join(TRUST_TOKENS)}")
        schemes = t.get("schemes", ["rsa-pkcs1v15-sha256"])
        if (
            not isinstance(schemes, list)
            or not schemes
            or any(s not in TRUST_SCHEMES for s in schemes)
        ):
            raise _refuse(
                key_path(*where, "schemes"), f"must be a list of {', '.join(TRUST_SCHEMES)}"
            )
        groups.append(TrustGroupConfig(name, directory, kind, tuple(schemes)))
    return tuple(groups)


def _oidc_clients(value: Any) -> Mapping[str, OidcClient]:
    """`[[oidc_clients]]`: each online service, checked by kiosk.oidc.clients."""
    try:
        return clients_from_config(value)
    except ClientConfigError as e:  # the message names the key's path, never a secret
        raise ConfigError(str(e)) from None


def _receipt(value: Any) -> ReceiptPrinterSettings:
    """`[receipt]`: the printer (none, network, file or usb) and how to reach it."""
    table = _table(value, "receipt")
    try:
        return ReceiptPrinterSettings.from_mapping(table)
    except (TypeError, ValueError) as e:  # the message names the key, never a secret
        raise ConfigError(f"[receipt]: {e}") from None


#: The typed sections, each read by its own function that names the full path of a bad key.
_SECTIONS: dict[str, Callable[[Any], Any]] = {
    "providers": _providers,
    "challenge_keys": _challenge_keys,
    "ocsp": _ocsp,
    "platform_metrics_networks": _networks,
    "platform_tokens": _platform_tokens,
    "platform_peers": _platform_peers,
    "platform_limits": _platform_limits,
    "insurance": _insurance,
    "reception": _reception,
    "payment": _payment,
    "pos": _pos,
    "pos_tokens": lambda value: _platform_tokens(value, "pos_tokens"),
    "receipt": _receipt,
    "oidc": _oidc,
    "oidc_clients": _oidc_clients,
    "crl_refresh": _crl_refresh,
    "tokens": _tokens,
    "trust_groups": _trust_groups,
}


def _staff(value: Any) -> tuple[StaffMember, ...]:
    """The `[[staff]]` tables: each a staff number (digits) and an scrypt credential."""
    if not isinstance(value, list | tuple):
        raise ConfigError("'staff' must be a list of [[staff]] tables")
    members: list[StaffMember] = []
    for index, item in enumerate(value):
        where = f"'staff[{index}]'"
        if not isinstance(item, Mapping):
            raise _refuse(key_path("staff", index), "must be a table of 'id' and 'credential'")
        for key in item:
            if key not in ("id", "credential"):
                raise _refuse(key_path("staff", index, key), "unknown key")
        for key in ("id", "credential"):
            if key not in item:
                raise _refuse(key_path("staff", index, key), "is required")
        staff_id, text = item["id"], item["credential"]
        if not isinstance(staff_id, str) or not STAFF_ID_RE.fullmatch(staff_id):
            raise ConfigError(f"{where}.id must be a staff number of 1 to 10 digits (a string)")
        if any(m.staff_id == staff_id for m in members):
            raise ConfigError(f"{where}.id {staff_id} appears twice")
        if not isinstance(text, str):
            raise ConfigError(f"{where}.credential must be a string")
        try:
            credential = Credential.parse(text)
        except CredentialError as e:
            raise ConfigError(f"{where}.credential: {e}") from e
        members.append(StaffMember(staff_id, credential))
    return tuple(members)


def _coerce(name: str, value: Any) -> Any:
    default = _FIELDS[name].default
    if name == "staff":
        return _staff(value)
    if name in _SECTIONS:
        return _SECTIONS[name](value)
    if name == "services":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"'{name}' must be a list of service names")
        return tuple(value)
    if isinstance(default, Path):
        if not isinstance(value, str):
            raise ConfigError(f"'{name}' must be a path string")
        return Path(value)
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no"):
            return value.lower() in ("1", "true", "yes")
        if not isinstance(value, bool):
            raise ConfigError(f"'{name}' must be true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"'{name}' must be a whole number ≥ 0")
        return value
    if not isinstance(value, str):
        raise ConfigError(f"'{name}' must be a string")
    return value


def check_platform(url: str, token: str, where: str = "platform") -> None:
    """Raise ConfigError unless `url` is https (plain http only to this machine) and a token
    is given: the token and the cards' proofs never cross a network in clear text."""
    url_key, token_key = (
        ("platform_url", "platform_token")
        if where == "platform"
        else (f"{where}.url", f"{where}.token")
    )
    if not url:
        raise ConfigError(f"'{url_key}' is required")
    check_url(url, url_key)
    if not token:
        raise ConfigError(f"'{token_key}' is required")


def check_url(url: str, key: str) -> None:
    """Raise ConfigError unless `url` is https (plain http only to this machine)."""
    scheme, host = _scheme_and_host(url)
    if scheme not in ("https", "http") or not host:
        raise ConfigError(f"'{key}' must be an https:// URL")
    if scheme == "http" and host not in _LOOPBACK:
        raise ConfigError(f"'{key}' must use https:// (plain http only to this machine)")


def _scheme_and_host(url: str) -> tuple[str, str]:
    """The URL's scheme and host name, empty when it has none (or a port that is no number)."""
    try:
        parsed = urlsplit(url)
        parsed.port  # noqa: B018 (raises ValueError on a port that is not a number)
    except ValueError:
        return "", ""
    return parsed.scheme, parsed.hostname or ""


def _validate(cfg: Config) -> Config:
    if cfg.verification not in ("local", "platform"):
        raise ConfigError('\'verification\' must be "local" or "platform"')
    if cfg.verification == "platform":
        check_platform(cfg.platform_url, cfg.platform_token)
    if cfg.language not in get_args(Language):
        raise ConfigError('\'language\' must be "ja", "ja-easy" or "en"')
    if cfg.enrol_to not in get_args(EnrolTo):
        raise ConfigError('\'enrol_to\' must be "new_account" or "patient_record"')
    if cfg.theme not in get_args(Theme):
        raise ConfigError('\'theme\' must be "default" or "high-contrast"')
    if cfg.audio_output not in get_args(AudioOutput):
        raise ConfigError('\'audio_output\' must be "speaker", "handset" or "headphones"')
    if cfg.challenge_ttl_s == 0:
        raise ConfigError("'challenge_ttl_s' must be at least 1")
    if cfg.platform_credential_cache_s > 60:
        raise ConfigError("'platform_credential_cache_s' must be 0 to 60 seconds")
    if cfg.platform_body_timeout_s == 0:
        raise ConfigError("'platform_body_timeout_s' must be at least 1")
    if PROVIDER_ID.fullmatch(cfg.platform_id) is None:
        raise ConfigError(
            "'platform_id' must be 1 to 64 of A-Z a-z 0-9 _ . : - (a letter or digit first)"
        )
    if not AUDIT_RETENTION_MIN_DAYS <= cfg.audit_retention_days <= AUDIT_RETENTION_MAX_DAYS:
        raise ConfigError(
            f"'audit_retention_days' must be between {AUDIT_RETENTION_MIN_DAYS} and "
            f"{AUDIT_RETENTION_MAX_DAYS} days"
        )
    if cfg.staff_call_url:
        check_url(cfg.staff_call_url, "staff_call_url")
    if not 1 <= cfg.staff_call_timeout_s <= 30:
        raise ConfigError("'staff_call_timeout_s' must be 1 to 30 seconds")
    if not 1 <= cfg.more_time_limit <= 16:
        raise ConfigError("'more_time_limit' must be 1 to 16 (times the countdowns' setting)")
    return cfg


def from_mapping(values: Mapping[str, Any]) -> Config:
    """Build a Config from a flat mapping, refusing unknown keys and wrong types."""
    for key in sorted(set(values) & set(_RETIRED)):
        raise ConfigError(_RETIRED[key])
    if "extra" in values:
        raise ConfigError(_retired_extra(values["extra"]))
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"unknown configuration key(s): {', '.join(unknown)}")
    kwargs = {k: _coerce(k, v) for k, v in values.items()}
    return _validate(Config(**kwargs))


def load(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Load settings: defaults, then the TOML file (if given), then KIOSK_<KEY> variables."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as f:
                values.update(tomllib.load(f))
        except OSError as e:
            raise ConfigError(f"cannot read configuration {path}: {e.strerror}") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"configuration {path} is not valid TOML: {e}") from e
    env = os.environ if env is None else env
    for name in _FILE_ONLY:
        if f"KIOSK_{name.upper()}" in env:
            table = "[[staff]] tables" if name == "staff" else f"the [{name}] table"
            raise ConfigError(f"'{name}' is set in the configuration file only ({table})")
    for name in [*_FIELDS, *_RETIRED]:
        key = f"KIOSK_{name.upper()}"
        if key in env and name not in _FILE_ONLY:
            values[name] = env[key]
    return from_mapping(values)
