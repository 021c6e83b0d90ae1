"""`kiosk doctor`'s checks: what an installer needs to know is wrong, one finding per check.

Each check is a small function that returns a `CheckResult` — ok, FAIL or skip, what it found,
and for a failure what to do — and never raises: whatever it meets (a refused configuration,
a silent pcscd, a card that answers nonsense, a database that is not there) becomes a FAIL
with the reason. Everything outside the process comes in through `Probes` (the PC/SC readers,
the platform call, TCP connections, the font list, the audio outputs, the environment, the
clock), so the checks run against fakes in unit tests and against the real machine from
`kiosk.commands.doctor`.

Read-only: no check creates a database, imports a CRL or enters a PIN. The card check
selects the JPKI application and reads the token label, as `kiosk card status` does.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from kiosk.card.connection import CardConnection
from kiosk.card.errors import CardError, NoCard, PcscUnavailable
from kiosk.config import Config, ConfigError, ReceptionConfig
from kiosk.errors import KioskError
from kiosk.jpki.errors import JpkiError, NotAJpkiCard
from kiosk.jpki.session import JpkiSession
from kiosk.jpki.token import TokenKind, kind_of_label
from kiosk.services.receipt import ReceiptPrinterSettings
from kiosk.store.crlimport import crl_paths, open_crl
from kiosk.store.health import DatabaseMissing, StoreHealth, inspect
from kiosk.verify.crl import check_crl, check_fresh
from kiosk.verify.trust import TrustAnchor, TrustError, TrustStore
from kiosk.verify.verdict import (
    KioskCredentialRefused,
    KioskNotRegistered,
    KioskRefused,
    Refused,
    VerifierUnavailable,
)

#: A trust anchor that expires sooner than this is named in the finding (still ok).
ANCHOR_WARNING = timedelta(days=30)
#: Seconds a TCP connection to a printer or reception endpoint may take.
TCP_TIMEOUT_S = 3.0


class Status(StrEnum):
    """A check's outcome: FAIL in capitals, so it stands out in a column of "ok"."""

    OK = "ok"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's finding; `remedy` says what to do when it failed (empty otherwise)."""

    check: str
    status: Status
    detail: str
    remedy: str = ""

    def line(self) -> str:
        """The finding as one line of text (a failure ends with what to do)."""
        text = f"{self.status.value:<4}  {self.check:<13} {self.detail}"
        return f"{text} -> {self.remedy}" if self.status is Status.FAIL and self.remedy else text

    def as_json(self) -> dict[str, str]:
        """The finding for monitoring: check, status, detail, remedy."""
        return {
            "check": self.check,
            "status": self.status.value,
            "detail": self.detail,
            "remedy": self.remedy,
        }


def ok(check: str, detail: str) -> CheckResult:
    return CheckResult(check, Status.OK, detail)


def fail(check: str, detail: str, remedy: str) -> CheckResult:
    return CheckResult(check, Status.FAIL, detail, remedy)


def skip(check: str, detail: str) -> CheckResult:
    return CheckResult(check, Status.SKIP, detail)


# --- the ports ---------------------------------------------------------------------------


class Readers(Protocol):
    """The PC/SC service as the doctor sees it (`kiosk.card.pcsc` in production)."""

    def reader_states(self) -> Mapping[str, bytes | None]:
        """Each connected reader with its card's ATR (None: empty); CardError (PcscUnavailable
        when the service does not answer)."""
        ...

    def open(self, reader: str) -> AbstractContextManager[CardConnection]:
        """An exclusive connection to the card in `reader`, released (and the card reset)
        on leaving; CardError when it cannot be had."""
        ...


#: Asks the platform something cheap as this kiosk (a challenge); raises the verifier's
#: errors: KioskCredentialRefused, KioskNotRegistered, KioskRefused, VerifierUnavailable.
PlatformCall = Callable[[Config], None]
#: Opens (and closes) a TCP connection to host:port within the timeout; OSError otherwise.
TcpConnect = Callable[[str, int, float], None]
#: The families of the installed fonts with Japanese glyphs; None when they cannot be listed.
JapaneseFonts = Callable[[], Sequence[str] | None]
#: Loads the trust anchors verification pins from a configuration (raises TrustError).
AnchorLoader = Callable[[Config], TrustStore]
#: The audio outputs Qt would play the spoken guidance to, by description (empty: none);
#: raises AudioUnavailable when Qt cannot be asked.
AudioOutputs = Callable[[], Sequence[str]]


class AudioUnavailable(Exception):
    """The audio outputs could not be listed (Qt did not start, or did not answer in time)."""


@dataclass(frozen=True, slots=True)
class Probes:
    """Everything the checks ask of the world outside the process."""

    readers: Readers
    platform: PlatformCall
    tcp: TcpConnect
    fonts: JapaneseFonts
    #: Asked only when the kiosk speaks (`sound = true`).
    audio: AudioOutputs
    env: Mapping[str, str]
    now: Callable[[], datetime]
    #: Where the USB devices are listed (a printer configured by vendor and product id).
    usb_devices: Path = field(default=Path("/sys/bus/usb/devices"))
    #: The anchors verification pins, loaded as the kiosk loads them (`kiosk.local.
    #: trust_store`: `trust_dir`, each `[trust_groups.<name>]`, the phones' own); by default
    #: `trust_dir` alone.
    anchors: AnchorLoader | None = None


# --- the run -----------------------------------------------------------------------------


def run(load: Callable[[], Config], probes: Probes, source: str = "") -> list[CheckResult]:
    """Every check in order. A check that needs what an earlier one failed to find is
    skipped with the reason, so each problem is reported once, where it is. `source` names
    the configuration file (empty: none, the defaults and KIOSK_* variables)."""
    config_result, cfg = check_config(load, source)
    results = [config_result]
    pcscd_result, states = check_pcscd(probes.readers)
    results.append(pcscd_result)
    results.append(
        check_readers(states, cfg.reader if cfg else "")
        if states is not None
        else skip("readers", "pcscd does not answer")
    )
    results.append(
        check_card(probes.readers, states, cfg.reader if cfg else "")
        if states is not None
        else skip("card", "pcscd does not answer")
    )
    if cfg is None:
        for name in ("trust_anchors", "crl", "database", "platform", "printer", "reception"):
            results.append(skip(name, "the configuration is not valid"))
    else:
        now = probes.now()
        anchors_result, trust = check_trust_anchors(cfg, now, probes.anchors)
        database_result, store = check_database(cfg)
        results.append(anchors_result)
        results.append(check_crl_age(cfg, trust, store, now))
        results.append(database_result)
        results.append(check_platform(cfg, probes.platform))
        results.append(check_printer(cfg.receipt, probes.tcp, probes.usb_devices))
        results.append(check_reception(cfg.reception, probes.tcp))
    results.append(check_fonts(probes.fonts))
    results.append(check_display(probes.env))
    results.append(
        check_audio(cfg, probes.audio)
        if cfg is not None
        else skip("audio", "the configuration is not valid")
    )
    return results


def failed(results: Sequence[CheckResult]) -> bool:
    """Whether any check failed (the command's exit status is then non-zero)."""
    return any(r.status is Status.FAIL for r in results)


# --- the checks --------------------------------------------------------------------------


def check_config(load: Callable[[], Config], source: str = "") -> tuple[CheckResult, Config | None]:
    """The configuration loads: every key known and of the right type (the loader's message
    names the broken key)."""
    try:
        cfg = load()
    except ConfigError as e:
        return fail("config", str(e), _CONFIG_REMEDY), None
    mode = "local verification" if cfg.verification == "local" else "platform verification"
    where = source or "no file: the defaults and KIOSK_* variables"
    found = f"{where}: valid ({mode}, provider {cfg.provider_id}, {cfg.terminal_id})"
    return ok("config", found), cfg


_CONFIG_REMEDY = (
    "correct the configuration file given with --config (each key is described in "
    "kiosk.example.toml)"
)


def check_pcscd(readers: Readers) -> tuple[CheckResult, Mapping[str, bytes | None] | None]:
    """The PC/SC service answers (a context is established and the readers listed)."""
    try:
        states = readers.reader_states()
    except PcscUnavailable as e:
        return fail("pcscd", str(e), "start it: systemctl enable --now pcscd.socket"), None
    except CardError as e:
        return fail("pcscd", str(e), "check pcscd's log: journalctl -u pcscd"), None
    return ok("pcscd", "the smart-card service answers"), states


def check_readers(states: Mapping[str, bytes | None], configured: str) -> CheckResult:
    """A reader is connected, and the configured one (`reader`) when one is named."""
    if not states:
        return fail(
            "readers",
            "no card reader is connected",
            "plug in the USB card reader (a CCID reader: package libccid) and run pcsc_scan",
        )
    names = ", ".join(states)
    if configured and configured not in states:
        return fail(
            "readers",
            f"the configured reader {configured!r} is not connected (connected: {names})",
            "plug it in, or set 'reader' to one of the connected readers (empty = any)",
        )
    return ok("readers", names)


def check_card(
    readers: Readers, states: Mapping[str, bytes | None], configured: str
) -> CheckResult:
    """When a card is inserted: it answers, has the JPKI application, and its token label
    can be read. No card is a skip, not a failure: the kiosk waits for one. Leaving the
    connection resets the card (as every kiosk connection does), so a kiosk in a visit on the
    same card would lose it: run the doctor when nobody is at the kiosk."""
    with_card = [r for r, atr in states.items() if atr is not None]
    if configured:
        with_card = [r for r in with_card if r == configured]
    if not with_card:
        return skip("card", "no card inserted (insert a My Number Card to check one)")
    reader = with_card[0]
    try:
        with readers.open(reader) as connection:
            session = JpkiSession(connection)
            session.select_ap()
            label = session.token_label(allowed=None)
    except NoCard:
        return skip("card", f"the card left {reader} before it was read")
    except NotAJpkiCard:
        return fail(
            "card",
            f"the card in {reader} has no JPKI application (not a My Number Card)",
            "insert a My Number Card",
        )
    except (CardError, JpkiError) as e:
        return fail("card", f"the card in {reader} does not answer: {e}", _CARD_REMEDY)
    return ok("card", f"{label} ({_TOKEN_NAMES[kind_of_label(label)]}) in {reader}")


_TOKEN_NAMES = {
    TokenKind.CARD: "My Number Card",
    TokenKind.ANDROID: "Android phone",
    TokenKind.IPHONE: "iPhone",
    TokenKind.FACE_AUTH: "face-authentication card",
    TokenKind.UNKNOWN: "a JPKI token the kiosk does not know",
}
_CARD_REMEDY = "re-insert the card chip first; if it persists, try another card or reader"


def check_trust_anchors(
    cfg: Config, now: datetime, load: AnchorLoader | None = None
) -> tuple[CheckResult, TrustStore | None]:
    """Local verification: the trust anchors load (every directory verification reads: the
    cards', each trust group's, the phones') and none has expired (or starts later)."""
    if cfg.verification == "platform":
        return skip("trust_anchors", "verification at the platform: no anchors kept here"), None
    where = _anchor_dirs(cfg)
    remedy = f"put the JPKI CA certificates (PEM or DER) into {where}"
    try:
        trust = (load or _cards_only)(cfg)
    except TrustError as e:
        return fail("trust_anchors", str(e), remedy), None
    if not len(trust):
        return fail("trust_anchors", f"no CA certificate in {where}", remedy), None
    expired = [a for a in trust if not _in_validity(a, now)]
    if expired:
        names = ", ".join(
            f"{_name(a)} (group {a.group.name}, until {_day(_not_after(a))})" for a in expired
        )
        return fail(
            "trust_anchors",
            f"not valid now: {names}",
            f"replace it with the CA's current certificate in {where}",
        ), trust
    soonest = min(trust, key=_not_after)
    groups = Counter(a.group.name for a in trust)
    per_group = ", ".join(f"{name} {count}" for name, count in sorted(groups.items()))
    detail = (
        f"{len(trust)} in {where} ({per_group}), valid until {_day(_not_after(soonest))} at least"
    )
    if _not_after(soonest) - now < ANCHOR_WARNING:
        detail += f" ({_name(soonest)} expires within {ANCHOR_WARNING.days} days)"
    return ok("trust_anchors", detail), trust


def _cards_only(cfg: Config) -> TrustStore:
    return TrustStore.from_dir(cfg.trust_dir)


def _anchor_dirs(cfg: Config) -> str:
    """The anchor directories the configuration names, for the findings."""
    dirs = [f"trust_dir ({cfg.trust_dir})"]
    dirs += [f"[trust_groups.{g.name}] dir ({g.dir})" for g in cfg.trust_groups]
    if cfg.tokens.accept_phones and cfg.tokens.phone_trust_dir:
        dirs.append(f"[tokens] phone_trust_dir ({cfg.tokens.phone_trust_dir})")
    return ", ".join(dirs)


def check_crl_age(
    cfg: Config, trust: TrustStore | None, store: StoreHealth | None, now: datetime
) -> CheckResult:
    """Local verification: every anchor not answered by OCSP has a CRL within nextUpdate +
    `crl_grace_s` — the one in force in the store, or one in `crl_dir` that the kiosk puts
    in force when it starts — the rule verification refuses by (crl_stale)."""
    if cfg.verification == "platform":
        return skip("crl", "verification at the platform: no CRLs kept here")
    if trust is None:
        return skip("crl", "no trust anchors to check CRLs for")
    next_updates: dict[str, datetime | None] = {}
    if store is not None:
        for info in store.crls:
            _keep_latest(next_updates, info.issuer_key_id, info.next_update)
    refused: list[str] = []
    for path in _crl_files(cfg.crl_dir):
        try:
            with open_crl(path) as der:
                checked = check_crl(der, trust, now)
        except (KioskError, OSError) as e:
            refused.append(f"{path.name}: {e}")
            continue
        _keep_latest(next_updates, checked.issuer_key_id, checked.next_update)
    stale: list[str] = []
    fresh: list[str] = []
    for anchor in trust:
        if anchor.key_id in cfg.ocsp:
            continue
        name = _name(anchor)
        if anchor.key_id not in next_updates:
            stale.append(f"{name}: no CRL")
            continue
        next_update = next_updates[anchor.key_id]
        try:
            check_fresh(next_update, now, cfg.crl_grace_s)
        except Refused:
            stale.append(f"{name}: next update {_day(next_update)} passed")
            continue
        fresh.append(f"{name} until {_day(next_update)}")
    if stale or refused:
        return fail(
            "crl",
            "; ".join(stale + [f"refused {r}" for r in refused]),
            "put the CA's current CRL into crl_dir or run `kiosk crl import FILE` "
            "(or `kiosk crl refresh` with [crl_refresh] urls)",
        )
    if not fresh:
        return ok("crl", "every CA is answered by OCSP")
    return ok("crl", f"within grace ({cfg.crl_grace_s} s): " + ", ".join(fresh))


def check_database(cfg: Config) -> tuple[CheckResult, StoreHealth | None]:
    """The store is reachable and migrated to the schema this version ships."""
    url = cfg.effective_database_url
    try:
        store = inspect(url)
    except DatabaseMissing as e:
        return fail("database", str(e), _UPGRADE), None
    except KioskError as e:
        return fail(
            "database",
            str(e),
            "check database_url and that the database server runs and lets this user in",
        ), None
    if not store.at_head:
        found = ", ".join(store.current) or "no schema"
        return fail(
            "database",
            f"{store.where}: schema at {found}, this version needs {', '.join(store.heads)}",
            _UPGRADE,
        ), store
    return ok("database", f"{store.where}: schema at {', '.join(store.current)} (latest)"), store


_UPGRADE = "run `kiosk db upgrade --config FILE` (as the kiosk's user)"


def check_platform(cfg: Config, call: PlatformCall) -> CheckResult:
    """Platform verification: the platform answers and accepts this kiosk's credential for
    its provider and terminal."""
    if cfg.verification != "platform":
        return skip("platform", "local verification: no platform used")
    where = cfg.platform_url
    try:
        call(cfg)
    except KioskCredentialRefused:
        return fail(
            "platform",
            f"{where} refuses this kiosk's token",
            "issue a terminal credential on the platform (kiosk platform credential issue "
            f"--terminal {cfg.terminal_id} --provider {cfg.provider_id}) into platform_token",
        )
    except KioskNotRegistered as e:
        return fail(
            "platform",
            f"{where}: {e}",
            f"have the platform's operator register {cfg.terminal_id} for {cfg.provider_id}",
        )
    except KioskRefused as e:
        return fail("platform", f"{where}: {e}", "ask the platform's operator")
    except VerifierUnavailable as e:
        return fail(
            "platform",
            f"{where}: {e}",
            "check platform_url, the network and the platform's own health",
        )
    return ok("platform", f"{where} accepts this kiosk ({cfg.provider_id}, {cfg.terminal_id})")


def check_printer(settings: ReceiptPrinterSettings, tcp: TcpConnect, usb: Path) -> CheckResult:
    """When a receipt printer is configured: it can be reached (network: a TCP connection;
    file: the device is there and writable; USB: the device is on the bus)."""
    if settings.printer == "none":
        return skip("printer", "no receipt printer configured")
    if settings.printer == "network":
        return _tcp_result(
            "printer",
            tcp,
            settings.host,
            settings.port,
            "check the printer's power, cable and [receipt] host and port",
        )
    if settings.printer == "file":
        return _writable("printer", Path(settings.path), "check [receipt] path and its mode")
    wanted = f"{settings.usb_vendor:04x}:{settings.usb_product:04x}"
    if wanted in _usb_ids(usb):
        return ok("printer", f"USB printer {wanted} is connected")
    return fail(
        "printer",
        f"no USB device {wanted} is connected",
        "plug in the printer, or correct [receipt] usb_vendor and usb_product",
    )


def check_reception(settings: ReceptionConfig, tcp: TcpConnect) -> CheckResult:
    """When results are handed to a reception system: its endpoint can be reached (http: a
    TCP connection to its host; file: the drop directory is there and writable)."""
    if settings.delivery == "none":
        return skip("reception", "no reception hand-off configured")
    if settings.delivery == "file":
        return _writable(
            "reception", Path(settings.directory), "create it, writable by the kiosk's user"
        )
    parts = urlsplit(settings.url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return _tcp_result(
        "reception",
        tcp,
        parts.hostname or "",
        port,
        "check [reception] url and that the reception system is running",
    )


def check_fonts(fonts: JapaneseFonts) -> CheckResult:
    """A font with Japanese glyphs is installed (else the screens show empty boxes)."""
    families = fonts()
    remedy = "install fonts-noto-cjk (apt-get install fonts-noto-cjk)"
    if families is None:
        return fail("fonts", "the installed fonts cannot be listed (no fc-list)", remedy)
    if not families:
        return fail("fonts", "no font with Japanese glyphs is installed", remedy)
    shown = ", ".join(sorted(set(families))[:3])
    return ok("fonts", f"{len(set(families))} Japanese font families ({shown})")


def check_display(env: Mapping[str, str]) -> CheckResult:
    """The window has somewhere to go: a Wayland or X display whose socket exists, or Qt's
    offscreen platform (named as such: nothing is shown)."""
    if env.get("QT_QPA_PLATFORM", "") == "offscreen":
        return ok("display", "QT_QPA_PLATFORM=offscreen: the window is drawn off screen")
    remedy = "run inside the kiosk's session (cage), or set WAYLAND_DISPLAY or DISPLAY"
    wayland = env.get("WAYLAND_DISPLAY", "")
    if wayland:
        runtime = env.get("XDG_RUNTIME_DIR", "")
        socket = Path(wayland) if os.path.isabs(wayland) else Path(runtime, wayland)
        if socket.exists():
            return ok("display", f"Wayland display {wayland}")
        return fail("display", f"WAYLAND_DISPLAY={wayland} but {socket} does not exist", remedy)
    x11 = env.get("DISPLAY", "")
    if x11:
        x_socket = _x11_socket(x11)
        if x_socket is None or x_socket.exists():
            return ok("display", f"X display {x11}")
        return fail("display", f"DISPLAY={x11} but {x_socket} does not exist", remedy)
    return fail("display", "no display: neither WAYLAND_DISPLAY nor DISPLAY is set", remedy)


def check_audio(cfg: Config, outputs: AudioOutputs) -> CheckResult:
    """When the kiosk speaks (`sound = true`: spoken guidance, sounds): Qt sees an audio output
    to play to — the kiosk session's sound server runs and has a device (the speaker, or the
    handset `audio_output` names). Skipped when sound is off."""
    if not cfg.sound:
        return skip("audio", "sound = false: the kiosk does not speak")
    try:
        found = list(outputs())
    except AudioUnavailable as e:
        return fail("audio", f"the audio outputs cannot be listed: {e}", _AUDIO_REMEDY)
    if not found:
        return fail(
            "audio",
            f"no audio output: the spoken guidance would be silent ({cfg.audio_output})",
            _AUDIO_REMEDY,
        )
    shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
    where = "guidance always on" if cfg.audio_output != "speaker" else "guidance on request"
    return ok("audio", f"{shown} (audio_output {cfg.audio_output}: {where})")


_AUDIO_REMEDY = (
    "is the sound server running (jpki-kiosk.service starts it: journalctl -u jpki-kiosk) / "
    "is the handset (or speaker) plugged in"
)


# --- helpers -----------------------------------------------------------------------------


def _tcp_result(check: str, tcp: TcpConnect, host: str, port: int, remedy: str) -> CheckResult:
    try:
        tcp(host, port, TCP_TIMEOUT_S)
    except OSError as e:
        why = e.strerror or type(e).__name__
        return fail(check, f"{host}:{port} cannot be reached ({why})", remedy)
    return ok(check, f"{host}:{port} answers")


def _writable(check: str, path: Path, remedy: str) -> CheckResult:
    if not path.exists():
        return fail(check, f"{path} does not exist", remedy)
    if not os.access(path, os.W_OK):
        return fail(check, f"{path} is not writable by this user", remedy)
    return ok(check, f"{path} is writable")


def _usb_ids(root: Path) -> set[str]:
    """The vendor:product ids (lower-case hex) of the devices on the USB bus."""
    found: set[str] = set()
    for device in _dirs(root):
        try:
            vendor = (device / "idVendor").read_text().strip().lower()
            product = (device / "idProduct").read_text().strip().lower()
        except OSError:
            continue
        found.add(f"{vendor}:{product}")
    return found


def _dirs(root: Path) -> Iterator[Path]:
    try:
        yield from root.iterdir()
    except OSError:
        return


def _crl_files(crl_dir: Path) -> list[Path]:
    if not crl_dir.is_dir():
        return []
    try:
        return crl_paths(crl_dir)
    except (KioskError, OSError):
        return []


def _keep_latest(
    seen: dict[str, datetime | None], issuer: str, next_update: datetime | None
) -> None:
    """Keep the later nextUpdate per issuer (None: no nextUpdate, the least useful)."""
    if issuer in seen:
        known = seen[issuer]
        if next_update is None or (known is not None and known >= next_update):
            return
    seen[issuer] = next_update


def _x11_socket(display: str) -> Path | None:
    """The local X socket of a display such as ":0" (None for a remote one, not checked)."""
    host, _, number = display.rpartition(":")
    if host not in ("", "unix"):
        return None
    return Path("/tmp/.X11-unix", f"X{number.split('.')[0]}")  # noqa: S108 (X's own path)


def _not_after(anchor: TrustAnchor) -> datetime:
    return anchor.certificate.not_valid_after_utc


def _in_validity(anchor: TrustAnchor, now: datetime) -> bool:
    return anchor.certificate.not_valid_before_utc <= now <= _not_after(anchor)


def _name(anchor: TrustAnchor) -> str:
    purpose = f"{anchor.purpose.value} " if anchor.purpose else ""
    return f"{purpose}CA {anchor.key_id[:8]}"


def _day(value: datetime | None) -> str:
    return "none" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"
