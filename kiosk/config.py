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
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from kiosk.errors import KioskError
from kiosk.flow.staff import STAFF_ID_RE, Credential, CredentialError, StaffMember

Verification = Literal["local", "platform"]

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
    #: "ja", "ja-easy" (やさしい日本語) or "en".
    language: str = "ja"
    #: "default" or "high-contrast".
    theme: str = "default"
    sound: bool = True
    shuffle_pin_pad: bool = False
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
    extra: Mapping[str, Any] = field(default_factory=dict)

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


def _staff(value: Any) -> tuple[StaffMember, ...]:
    """The `[[staff]]` tables: each a staff number (digits) and an scrypt credential."""
    if not isinstance(value, list | tuple):
        raise ConfigError("'staff' must be a list of [[staff]] tables")
    members: list[StaffMember] = []
    for index, item in enumerate(value):
        where = f"'staff[{index}]'"
        if not isinstance(item, Mapping) or set(item) != {"id", "credential"}:
            raise ConfigError(f"{where} must have exactly 'id' and 'credential'")
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
    if name == "extra":
        if not isinstance(value, Mapping):
            raise ConfigError(f"'{name}' must be a table")
        return dict(value)
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


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


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
    parsed = urlsplit(url)
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        raise ConfigError(f"'{key}' must be an https:// URL")
    if parsed.scheme == "http" and parsed.hostname not in _LOOPBACK:
        raise ConfigError(f"'{key}' must use https:// (plain http only to this machine)")


def _validate(cfg: Config) -> Config:
    if cfg.verification not in ("local", "platform"):
        raise ConfigError('\'verification\' must be "local" or "platform"')
    if cfg.verification == "platform":
        check_platform(cfg.platform_url, cfg.platform_token)
    if cfg.language not in ("ja", "ja-easy", "en"):
        raise ConfigError('\'language\' must be "ja", "ja-easy" or "en"')
    if cfg.theme not in ("default", "high-contrast"):
        raise ConfigError('\'theme\' must be "default" or "high-contrast"')
    if cfg.challenge_ttl_s == 0:
        raise ConfigError("'challenge_ttl_s' must be at least 1")
    if cfg.platform_body_timeout_s == 0:
        raise ConfigError("'platform_body_timeout_s' must be at least 1")
    if not AUDIT_RETENTION_MIN_DAYS <= cfg.audit_retention_days <= AUDIT_RETENTION_MAX_DAYS:
        raise ConfigError(
            f"'audit_retention_days' must be between {AUDIT_RETENTION_MIN_DAYS} and "
            f"{AUDIT_RETENTION_MAX_DAYS} days"
        )
    if cfg.staff_call_url:
        check_url(cfg.staff_call_url, "staff_call_url")
    if not 1 <= cfg.staff_call_timeout_s <= 30:
        raise ConfigError("'staff_call_timeout_s' must be 1 to 30 seconds")
    return cfg


def from_mapping(values: Mapping[str, Any]) -> Config:
    """Build a Config from a flat mapping, refusing unknown keys and wrong types."""
    for key in sorted(set(values) & set(_RETIRED)):
        raise ConfigError(_RETIRED[key])
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
    if "KIOSK_STAFF" in env:
        raise ConfigError("'staff' is set in the configuration file only ([[staff]] tables)")
    for name in [*_FIELDS, *_RETIRED]:
        key = f"KIOSK_{name.upper()}"
        if key in env and name not in ("extra", "staff"):  # tables live in the file only
            values[name] = env[key]
    return from_mapping(values)
