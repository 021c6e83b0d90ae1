"""`kiosk doctor`'s checks against fakes at their ports: an in-process virtual card behind a
fake PC/SC service, real SQLite stores and test PKIs on disk, real sockets, a fake platform
call that raises the platform client's own errors."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from kiosk import config
from kiosk.card.connection import CardConnection
from kiosk.card.errors import CardError, PcscUnavailable
from kiosk.card.inprocess import InProcessConnection
from kiosk.cli import main
from kiosk.commands.doctor import SESSION_RUNTIME_DIR, audio_environment
from kiosk.config import Config
from kiosk.doctor import (
    AudioUnavailable,
    CheckResult,
    Probes,
    Status,
    check_audio,
    check_card,
    check_crl_age,
    check_database,
    check_display,
    check_fonts,
    check_pcscd,
    check_platform,
    check_printer,
    check_readers,
    check_reception,
    check_trust_anchors,
    failed,
    run,
)
from kiosk.pki.authority import TestPki
from kiosk.pki.cardfile import CardFile
from kiosk.platform.client import (
    PlatformCredentialRefused,
    PlatformNotRegistered,
    PlatformUnavailable,
)
from kiosk.services.receipt import ReceiptPrinterSettings
from kiosk.simcard.applet import VirtualCard
from kiosk.store.crlimport import import_sources
from kiosk.store.engine import Database
from kiosk.store.health import shipped_heads
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.crl import check_crl

READER = "Test Reader 00 00"
#: The checks' "now": a few minutes after the test PKI is made (this session), so its roots
#: (backdated a day) and CRLs (a day's validity) are in force — never a fixed date, which
#: the PKI made on a later day would start after.
NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)


class MuteCard:
    """A card that answers every command with 6A82 (no such application)."""

    atr = bytes.fromhex("3B00")

    def power_on(self) -> None: ...

    def reset(self) -> None: ...

    def power_off(self) -> None: ...

    def transmit(self, apdu: bytes) -> bytes:
        return bytes.fromhex("6A82")


class FakeReaders:
    """The PC/SC port: readers with in-process cards, or a service that does not answer."""

    def __init__(self, cards: Mapping[str, object | None], *, running: bool = True) -> None:
        self.cards = dict(cards)
        self.running = running
        self.opened: list[str] = []
        self.pulled: set[str] = set()

    def reader_states(self) -> Mapping[str, bytes | None]:
        if not self.running:
            raise PcscUnavailable()
        return {name: None if card is None else card.atr for name, card in self.cards.items()}

    @contextmanager
    def open(self, reader: str) -> Iterator[CardConnection]:
        self.opened.append(reader)
        connection = InProcessConnection(self.cards[reader])
        if reader in self.pulled:
            connection.pull()
        try:
            yield connection
        finally:
            connection.close()


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    return path


def local_config(tmp_path: Path, pki: TestPki, extra: str = "") -> Config:
    """A local-mode configuration over the test PKI and a store in tmp_path."""
    text = (
        f'data_dir = "{tmp_path / "data"}"\n'
        f'trust_dir = "{pki.trust_dir}"\n'
        f'crl_dir = "{pki.crl_dir}"\n' + extra
    )
    return config.load(write_config(tmp_path, text), env={})


def migrated(cfg: Config, revision: str = "head") -> Config:
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(cfg.effective_database_url)
    try:
        db.upgrade(revision)
    finally:
        db.dispose()
    return cfg


def probes(readers: FakeReaders | None = None, **overrides: object) -> Probes:
    values: dict[str, object] = {
        "readers": readers or FakeReaders({}),
        "platform": lambda cfg: None,
        "tcp": lambda host, port, timeout: None,
        "fonts": lambda: ["Noto Sans CJK JP"],
        "audio": lambda: ["Built-in Audio Analog Stereo"],
        "env": {"QT_QPA_PLATFORM": "offscreen"},
        "now": lambda: NOW,
    }
    values.update(overrides)
    return Probes(**values)  # type: ignore[arg-type]


def by_name(results: Sequence[CheckResult]) -> dict[str, CheckResult]:
    return {r.check: r for r in results}


# --- the configuration -----------------------------------------------------------------


def test_a_broken_key_is_named_and_the_checks_that_need_the_configuration_skip(tmp_path) -> None:
    path = write_config(tmp_path, 'idle_timeout_s = 60\nreadr = "x"\n')
    results = by_name(run(lambda: config.load(path, env={}), probes()))
    assert results["config"].status is Status.FAIL
    assert "readr" in results["config"].detail
    assert results["config"].remedy
    for name in ("trust_anchors", "crl", "database", "platform", "printer", "reception", "audio"):
        assert results[name].status is Status.SKIP, name
    assert failed(list(results.values()))


def test_a_value_of_the_wrong_type_is_named(tmp_path) -> None:
    path = write_config(tmp_path, 'challenge_ttl_s = "soon"\n')
    results = by_name(run(lambda: config.load(path, env={}), probes()))
    assert results["config"].status is Status.FAIL
    assert "challenge_ttl_s" in results["config"].detail


def test_every_check_is_reported_once_in_order(tmp_path, test_pki) -> None:
    cfg = migrated(local_config(tmp_path, test_pki))
    results = run(lambda: cfg, probes())
    assert [r.check for r in results] == [
        "config",
        "pcscd",
        "readers",
        "card",
        "trust_anchors",
        "crl",
        "database",
        "platform",
        "printer",
        "reception",
        "fonts",
        "display",
        "audio",
    ]


# --- PC/SC, readers, the card ----------------------------------------------------------


def test_pcscd_not_answering_fails_and_the_reader_checks_skip() -> None:
    results = by_name(run(lambda: Config(), probes(FakeReaders({}, running=False))))
    assert results["pcscd"].status is Status.FAIL
    assert "pcscd" in results["pcscd"].remedy
    assert results["readers"].status is Status.SKIP
    assert results["card"].status is Status.SKIP


def test_pcscd_answering_is_ok() -> None:
    result, states = check_pcscd(FakeReaders({READER: None}))
    assert result.status is Status.OK
    assert states == {READER: None}


def test_no_reader_fails() -> None:
    result = check_readers({}, "")
    assert result.status is Status.FAIL
    assert "no card reader" in result.detail


def test_the_configured_reader_must_be_connected() -> None:
    result = check_readers({"Other Reader": None}, READER)
    assert result.status is Status.FAIL
    assert READER in result.detail and "Other Reader" in result.detail
    assert check_readers({READER: None, "Other Reader": None}, READER).status is Status.OK


def test_no_card_is_a_skip_not_a_failure() -> None:
    readers = FakeReaders({READER: None})
    result = check_card(readers, readers.reader_states(), "")
    assert result.status is Status.SKIP
    assert readers.opened == []


def test_an_inserted_card_answers_with_its_token_label(card_file: CardFile) -> None:
    readers = FakeReaders({"Empty Reader": None, READER: VirtualCard(card_file)})
    result = check_card(readers, readers.reader_states(), "")
    assert result.status is Status.OK
    assert "JPKIAPICCTOKEN2 (My Number Card)" in result.detail
    assert READER in result.detail
    assert readers.opened == [READER]


def test_a_card_without_the_jpki_application_fails() -> None:
    readers = FakeReaders({READER: MuteCard()})
    result = check_card(readers, readers.reader_states(), "")
    assert result.status is Status.FAIL
    assert "no JPKI application" in result.detail


def test_a_card_that_stops_answering_fails_without_raising(card_file: CardFile) -> None:
    readers = FakeReaders({READER: VirtualCard(card_file)})
    readers.pulled.add(READER)
    result = check_card(readers, readers.reader_states(), "")
    assert result.status is Status.FAIL
    assert "does not answer" in result.detail


def test_a_reader_that_cannot_be_opened_fails_without_raising(card_file: CardFile) -> None:
    class Busy(FakeReaders):
        @contextmanager
        def open(self, reader: str) -> Iterator[CardConnection]:
            raise CardError("The card reader is in use by another program.")
            yield  # pragma: no cover

    readers = Busy({READER: VirtualCard(card_file)})
    result = check_card(readers, readers.reader_states(), "")
    assert result.status is Status.FAIL
    assert "in use by another program" in result.detail


# --- trust anchors and CRLs ------------------------------------------------------------


def test_the_test_pkis_anchors_are_present_and_valid(tmp_path, test_pki) -> None:
    cfg = local_config(tmp_path, test_pki)
    result, trust = check_trust_anchors(cfg, NOW)
    assert result.status is Status.OK
    assert trust is not None and len(trust) == 2
    assert result.detail.startswith("2 in ")


def test_a_missing_trust_directory_fails(tmp_path, test_pki) -> None:
    cfg = config.load(write_config(tmp_path, f'trust_dir = "{tmp_path / "none"}"\n'), env={})
    result, trust = check_trust_anchors(cfg, NOW)
    assert result.status is Status.FAIL and trust is None
    assert "does not exist" in result.detail
    assert str(tmp_path / "none") in result.remedy


def test_an_empty_trust_directory_fails(tmp_path) -> None:
    (tmp_path / "trust").mkdir()
    cfg = config.load(write_config(tmp_path, f'trust_dir = "{tmp_path / "trust"}"\n'), env={})
    result, _ = check_trust_anchors(cfg, NOW)
    assert result.status is Status.FAIL
    assert "no CA certificate" in result.detail


def test_an_expired_anchor_fails(tmp_path, test_pki) -> None:
    cfg = local_config(tmp_path, test_pki)
    expiry = min(a.not_valid_after_utc for a in map(test_pki.ca_certificate, ("auth", "sign")))
    result, _ = check_trust_anchors(cfg, expiry + timedelta(days=1))
    assert result.status is Status.FAIL
    assert "not valid now" in result.detail and "CA " in result.detail


def test_the_trust_groups_anchors_are_checked_as_verification_loads_them(
    tmp_path, test_pki
) -> None:
    """`kiosk doctor` loads the anchors as the kiosk does (kiosk.local.trust_store): a
    `[trust_groups.<name>]` directory that is missing fails, named; one that holds a CA
    certificate adds its anchors, counted per group."""
    from kiosk import local

    missing = tmp_path / "next-gen"
    group = f'[trust_groups.next]\ndir = "{missing}"\nkind = "card"\n'
    cfg = local_config(tmp_path, test_pki, group)
    result, trust = check_trust_anchors(cfg, NOW, local.trust_store)
    assert result.status is Status.FAIL and trust is None
    assert str(missing) in result.detail and "[trust_groups.next]" in result.remedy
    # without the kiosk's loader only trust_dir is read: the group would go unnoticed
    assert check_trust_anchors(cfg, NOW)[0].status is Status.OK

    missing.mkdir()
    (missing / "auth-ca.pem").write_bytes((test_pki.trust_dir / "auth-ca.pem").read_bytes())
    result, trust = check_trust_anchors(cfg, NOW, local.trust_store)
    assert result.status is Status.OK, result.detail
    assert "[trust_groups.next]" in result.detail and "next 1" in result.detail


def test_the_doctor_command_loads_the_anchors_as_the_kiosk_does(tmp_path, test_pki, capsys) -> None:
    missing = tmp_path / "phones"
    extra = f'[trust_groups.phones]\ndir = "{missing}"\nkind = "phone"\n'
    local_config(tmp_path, test_pki, extra)  # writes kiosk.toml
    assert main(["doctor", "--config", str(tmp_path / "kiosk.toml"), "--json"]) == 1
    found = {r["check"]: r for r in json.loads(capsys.readouterr().out)}
    assert found["trust_anchors"]["status"] == "FAIL"
    assert str(missing) in found["trust_anchors"]["detail"]


def test_a_platform_mode_kiosk_keeps_no_anchors_or_crls(tmp_path) -> None:
    cfg = platform_config(tmp_path)
    assert check_trust_anchors(cfg, NOW)[0].status is Status.SKIP
    assert check_crl_age(cfg, None, None, NOW).status is Status.SKIP


def test_the_crls_in_crl_dir_are_within_grace(tmp_path, test_pki) -> None:
    cfg = local_config(tmp_path, test_pki)
    _, trust = check_trust_anchors(cfg, NOW)
    result = check_crl_age(cfg, trust, None, datetime.now(UTC))
    assert result.status is Status.OK, result
    assert result.detail.count(" until ") == 2


def test_a_crl_past_next_update_and_grace_fails(tmp_path, test_pki) -> None:
    cfg = local_config(tmp_path, test_pki)
    _, trust = check_trust_anchors(cfg, NOW)
    next_update = test_pki.crl("auth").next_update_utc
    assert next_update is not None
    later = next_update + timedelta(hours=1)
    result = check_crl_age(cfg, trust, None, later)
    assert result.status is Status.FAIL
    assert "passed" in result.detail
    assert "kiosk crl import" in result.remedy
    graced = local_config(tmp_path, test_pki, "crl_grace_s = 7200\n")
    assert check_crl_age(graced, trust, None, later).status is Status.OK


def test_a_ca_without_any_crl_fails_unless_ocsp_answers_for_it(tmp_path, test_pki) -> None:
    empty = tmp_path / "no-crls"
    empty.mkdir()
    text = f'trust_dir = "{test_pki.trust_dir}"\ncrl_dir = "{empty}"\n'
    cfg = config.load(write_config(tmp_path, text), env={})
    _, trust = check_trust_anchors(cfg, NOW)
    assert trust is not None
    result = check_crl_age(cfg, trust, None, NOW)
    assert result.status is Status.FAIL
    assert result.detail.count("no CRL") == 2
    key_ids = [a.key_id for a in trust]
    ocsp = "".join(f'"{k}" = "http://127.0.0.1:9/ocsp"\n' for k in key_ids)
    with_ocsp = config.load(write_config(tmp_path, text + "[ocsp]\n" + ocsp), env={})
    assert check_crl_age(with_ocsp, trust, None, NOW).status is Status.OK


def test_the_crls_in_force_in_the_store_count(tmp_path, test_pki) -> None:
    empty = tmp_path / "no-crls"
    empty.mkdir()
    text = (
        f'data_dir = "{tmp_path / "data"}"\n'
        f'trust_dir = "{test_pki.trust_dir}"\ncrl_dir = "{empty}"\n'
    )
    cfg = migrated(config.load(write_config(tmp_path, text), env={}))
    _, trust = check_trust_anchors(cfg, NOW)
    assert trust is not None
    db = Database(cfg.effective_database_url)
    try:
        now = datetime.now(UTC)
        check = partial(check_crl, trust=trust, now=now)
        outcomes = list(import_sources([str(test_pki.crl_dir)], check, SqlRevocationIndex(db), now))
        assert all(o.result is not None for o in outcomes)
    finally:
        db.dispose()
    database, store = check_database(cfg)
    assert database.status is Status.OK
    assert store is not None and len(store.crls) == 2
    assert check_crl_age(cfg, trust, store, datetime.now(UTC)).status is Status.OK


def test_a_file_in_crl_dir_that_is_not_a_crl_fails(tmp_path, test_pki) -> None:
    crls = tmp_path / "crls"
    crls.mkdir()
    for which in ("auth", "sign"):
        (crls / f"{which}.crl").write_bytes(test_pki.crl_der(which))
    (crls / "junk.crl").write_bytes(b"\x30\x03\x02\x01\x00")
    text = f'trust_dir = "{test_pki.trust_dir}"\ncrl_dir = "{crls}"\n'
    cfg = config.load(write_config(tmp_path, text), env={})
    _, trust = check_trust_anchors(cfg, NOW)
    result = check_crl_age(cfg, trust, None, datetime.now(UTC))
    assert result.status is Status.FAIL
    assert "refused junk.crl" in result.detail


# --- the database ----------------------------------------------------------------------


def test_a_missing_sqlite_file_fails_and_is_not_created(tmp_path, test_pki) -> None:
    cfg = local_config(tmp_path, test_pki)
    result, store = check_database(cfg)
    assert result.status is Status.FAIL and store is None
    assert "kiosk db upgrade" in result.remedy
    assert not (cfg.data_dir / "kiosk.sqlite3").exists()


def test_a_store_migrated_to_head_is_ok(tmp_path, test_pki) -> None:
    cfg = migrated(local_config(tmp_path, test_pki))
    result, store = check_database(cfg)
    assert result.status is Status.OK, result
    assert store is not None and store.at_head
    assert "(latest)" in result.detail


def test_a_store_behind_the_shipped_schema_fails(tmp_path, test_pki) -> None:
    cfg = migrated(local_config(tmp_path, test_pki), "0001")
    result, store = check_database(cfg)
    assert result.status is Status.FAIL
    assert "schema at 0001" in result.detail
    assert ", ".join(shipped_heads()) in result.detail
    assert "kiosk db upgrade" in result.remedy


def test_an_unreachable_postgresql_fails_without_its_password(tmp_path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://kiosk:s3cret-pw@127.0.0.1:{port}/kiosk"
    cfg = config.load(write_config(tmp_path, f'database_url = "{url}"\n'), env={})
    result, _ = check_database(cfg)
    assert result.status is Status.FAIL
    assert "s3cret-pw" not in result.line()
    assert "database_url" in result.remedy


# --- the platform ----------------------------------------------------------------------


def platform_config(tmp_path: Path) -> Config:
    text = (
        'verification = "platform"\nplatform_url = "http://127.0.0.1:8700"\n'
        'platform_token = "TEST-TOKEN"\nprovider_id = "clinic"\nterminal_id = "kiosk-9"\n'
    )
    return config.load(write_config(tmp_path, text), env={})


def raising(error: Exception):
    def call(cfg: Config) -> None:
        raise error

    return call


def test_a_local_kiosk_uses_no_platform(tmp_path, test_pki) -> None:
    called: list[Config] = []
    result = check_platform(local_config(tmp_path, test_pki), called.append)
    assert result.status is Status.SKIP and called == []


def test_the_platform_accepting_the_credential_is_ok(tmp_path) -> None:
    called: list[Config] = []
    result = check_platform(platform_config(tmp_path), called.append)
    assert result.status is Status.OK
    assert len(called) == 1
    assert "TEST-TOKEN" not in result.line()


@pytest.mark.parametrize(
    ("error", "found", "remedy"),
    [
        (
            PlatformCredentialRefused("unauthorized", 401),
            "refuses this kiosk's token",
            "kiosk platform credential issue --terminal kiosk-9 --provider clinic",
        ),
        (
            PlatformNotRegistered("terminal_not_allowed", 403),
            "terminal_not_allowed",
            "register kiosk-9 for clinic",
        ),
        (
            PlatformUnavailable("the verification service cannot be reached (ConnectError)"),
            "cannot be reached",
            "platform_url",
        ),
    ],
)
def test_the_platforms_refusals_fail_with_what_to_do(tmp_path, error, found, remedy) -> None:
    result = check_platform(platform_config(tmp_path), raising(error))
    assert result.status is Status.FAIL
    assert found in result.detail
    assert remedy in result.remedy


# --- printer and reception -------------------------------------------------------------


@pytest.fixture
def listening() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def real_tcp(host: str, port: int, timeout: float) -> None:
    from kiosk.commands.doctor import tcp_connect

    tcp_connect(host, port, timeout)


def test_no_printer_is_a_skip(tmp_path) -> None:
    assert check_printer(ReceiptPrinterSettings(), real_tcp, tmp_path).status is Status.SKIP


def test_a_network_printer_is_reached_over_tcp(listening, tmp_path) -> None:
    settings = ReceiptPrinterSettings(printer="network", host="127.0.0.1", port=listening)
    assert check_printer(settings, real_tcp, tmp_path).status is Status.OK
    gone = ReceiptPrinterSettings(printer="network", host="127.0.0.1", port=closed_port())
    result = check_printer(gone, real_tcp, tmp_path)
    assert result.status is Status.FAIL
    assert "cannot be reached" in result.detail and "[receipt]" in result.remedy


def test_a_file_printer_must_exist_and_be_writable(tmp_path) -> None:
    device = tmp_path / "lp0"
    settings = ReceiptPrinterSettings(printer="file", path=str(device))
    assert check_printer(settings, real_tcp, tmp_path).status is Status.FAIL
    device.write_bytes(b"")
    assert check_printer(settings, real_tcp, tmp_path).status is Status.OK


def test_a_usb_printer_must_be_on_the_bus(tmp_path) -> None:
    device = tmp_path / "1-1"
    device.mkdir()
    (device / "idVendor").write_text("04b8\n")
    (device / "idProduct").write_text("0202\n")
    epson = ReceiptPrinterSettings(printer="usb", usb_vendor=0x04B8, usb_product=0x0202)
    assert check_printer(epson, real_tcp, tmp_path).status is Status.OK
    other = ReceiptPrinterSettings(printer="usb", usb_vendor=0x0519, usb_product=0x0001)
    result = check_printer(other, real_tcp, tmp_path)
    assert result.status is Status.FAIL and "0519:0001" in result.detail


def test_the_reception_endpoint_is_reached(tmp_path, listening) -> None:
    none = config.ReceptionConfig()
    assert check_reception(none, real_tcp).status is Status.SKIP
    up = config.ReceptionConfig(delivery="http", url=f"http://127.0.0.1:{listening}/fhir")
    assert check_reception(up, real_tcp).status is Status.OK
    down = config.ReceptionConfig(delivery="http", url=f"http://127.0.0.1:{closed_port()}/")
    assert check_reception(down, real_tcp).status is Status.FAIL
    drop = config.ReceptionConfig(delivery="file", directory=str(tmp_path / "drop"))
    assert check_reception(drop, real_tcp).status is Status.FAIL
    (tmp_path / "drop").mkdir()
    assert check_reception(drop, real_tcp).status is Status.OK


# --- fonts and display -----------------------------------------------------------------


def test_japanese_fonts() -> None:
    assert check_fonts(lambda: ["Noto Sans CJK JP", "Noto Serif CJK JP"]).status is Status.OK
    missing = check_fonts(lambda: [])
    assert missing.status is Status.FAIL and "fonts-noto-cjk" in missing.remedy
    assert check_fonts(lambda: None).status is Status.FAIL


def test_the_offscreen_platform_is_named_as_such() -> None:
    result = check_display({"QT_QPA_PLATFORM": "offscreen"})
    assert result.status is Status.OK
    assert "offscreen" in result.detail


def test_a_wayland_display_needs_its_socket(tmp_path) -> None:
    env = {"WAYLAND_DISPLAY": "wayland-1", "XDG_RUNTIME_DIR": str(tmp_path)}
    assert check_display(env).status is Status.FAIL
    (tmp_path / "wayland-1").touch()
    assert check_display(env).status is Status.OK


def test_no_display_fails() -> None:
    result = check_display({})
    assert result.status is Status.FAIL
    assert "WAYLAND_DISPLAY" in result.detail


def test_an_x_display_without_its_socket_fails() -> None:
    assert check_display({"DISPLAY": ":4242"}).status is Status.FAIL
    assert check_display({"DISPLAY": "remote.example:0"}).status is Status.OK


# --- audio -----------------------------------------------------------------------------


def test_an_audio_output_is_named_with_where_guidance_goes(tmp_path) -> None:
    cfg = config.load(write_config(tmp_path, 'audio_output = "handset"\n'), env={})
    outputs = ["USB Handset Analog Mono", "Built-in Audio", "HDMI 1", "HDMI 2"]
    result = check_audio(cfg, lambda: outputs)
    assert result.status is Status.OK
    assert result.detail.startswith("USB Handset Analog Mono, Built-in Audio, HDMI 1 and 1 more")
    assert "audio_output handset: guidance always on" in result.detail


def test_no_audio_output_fails_with_what_to_do(tmp_path) -> None:
    cfg = config.load(write_config(tmp_path, ""), env={})
    result = check_audio(cfg, lambda: [])
    assert result.status is Status.FAIL
    assert result.detail.startswith("no audio output")
    assert "is the sound server running" in result.remedy
    assert "is the handset (or speaker) plugged in" in result.remedy
    assert "-> is the sound server running" in result.line()


def test_audio_that_cannot_be_listed_fails_without_raising(tmp_path) -> None:
    cfg = config.load(write_config(tmp_path, ""), env={})

    def hangs() -> list[str]:
        raise AudioUnavailable("Qt did not answer within 20 s")

    result = check_audio(cfg, hangs)
    assert result.status is Status.FAIL
    assert "Qt did not answer within 20 s" in result.detail
    assert "sound server" in result.remedy


def test_a_silent_kiosk_skips_the_audio_check_without_asking(tmp_path) -> None:
    cfg = config.load(write_config(tmp_path, "sound = false\n"), env={})

    def never() -> list[str]:
        raise AssertionError("the outputs were asked for")

    result = check_audio(cfg, never)
    assert result.status is Status.SKIP and "sound = false" in result.detail
    assert by_name(run(lambda: cfg, probes(audio=never)))["audio"].status is Status.SKIP


def test_the_audio_probe_asks_the_kiosk_sessions_server_from_outside_it(tmp_path) -> None:
    """Over ssh (`sudo -u kiosk kiosk doctor`) neither PULSE_SERVER nor a runtime directory with
    a server socket is set: the probe asks the session's server when it runs (checked against
    this machine: it is not a kiosk, so there is none and nothing is set)."""
    named = {"PULSE_SERVER": "unix:/somewhere/native", "HOME": "/h"}
    assert audio_environment(named) == named
    runtime = tmp_path / "pulse"
    runtime.mkdir()
    (runtime / "native").touch()
    with_socket = {"XDG_RUNTIME_DIR": str(tmp_path)}
    assert audio_environment(with_socket) == with_socket
    session = Path(SESSION_RUNTIME_DIR, "pulse", "native")
    outside = audio_environment({"XDG_RUNTIME_DIR": "/run/user/1000"})
    if session.exists():
        assert outside["PULSE_SERVER"] == f"unix:{session}"
    else:
        assert "PULSE_SERVER" not in outside


# --- the command -----------------------------------------------------------------------


def test_the_command_names_the_broken_key_and_exits_non_zero(tmp_path, capsys) -> None:
    path = write_config(tmp_path, 'verificaton = "local"\n')
    assert main(["doctor", "--config", str(path)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("FAIL  config")
    assert "verificaton" in lines[0]
    assert "Traceback" not in captured.out + captured.err


def test_the_command_prints_json_for_monitoring(tmp_path, capsys) -> None:
    path = write_config(tmp_path, 'verificaton = "local"\n')
    assert main(["doctor", "--config", str(path), "--json"]) == 1
    findings = json.loads(capsys.readouterr().out)
    assert isinstance(findings, list) and len(findings) == 13
    assert all(set(f) == {"check", "status", "detail", "remedy"} for f in findings)
    assert findings[0]["check"] == "config" and findings[0]["status"] == "FAIL"
    assert {f["status"] for f in findings} <= {"ok", "FAIL", "skip"}


def test_the_configuration_line_names_its_file(tmp_path, test_pki) -> None:
    cfg = local_config(tmp_path, test_pki)
    result = by_name(run(lambda: cfg, probes(), str(tmp_path / "kiosk.toml")))["config"]
    assert result.status is Status.OK
    assert result.detail.startswith(f"{tmp_path / 'kiosk.toml'}: valid (local verification")
    defaults = by_name(run(lambda: cfg, probes()))["config"]
    assert "no file: the defaults and KIOSK_* variables" in defaults.detail


def test_a_phone_is_named_as_such(card_file: CardFile) -> None:
    from kiosk.simcard.personality import Personality

    readers = FakeReaders({READER: VirtualCard(card_file, personality=Personality.ANDROID)})
    result = check_card(readers, readers.reader_states(), "")
    assert result.status is Status.OK
    assert "JPKIAPGPSETOKEN (Android phone)" in result.detail
