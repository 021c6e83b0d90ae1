"""The law's data rules, checked end to end over the real card code and a real platform.

公的個人認証法 §63 lets only a verifier (署名検証者 / 利用者証明検証者) keep a database of
certificate serials. A kiosk in platform mode is not one: after an enrolment and a visit, its
own store (every table, every column, and the database files' bytes), its log records and its
audit hold neither the authentication nor the signature certificate's serial, in any form. The
same scan of a kiosk that verifies locally (an authorised verifier) finds both serials where a
verifier keeps them, so the scan is shown to find what it looks for.

And whatever the mode, no log record and no audit row carries the PIN, the signature
password or the basic 4 info typed on, or read from, the card; and the kiosk never selects the
application that holds the card's My Number (個人番号).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import secrets
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography import x509
from sqlalchemy import inspect, text
from test_platform_http import PROVIDER, TOKEN, Running

from kiosk import config
from kiosk.app import available_services, import_crls, local_backend, platform_backend
from kiosk.card.connection import TRACE, CardConnection
from kiosk.card.reader import InProcessReader
from kiosk.clock import utc_now
from kiosk.demo.payment import ring_up_demo_purchase
from kiosk.errors import KioskError
from kiosk.flow.errors_catalogue import ProblemCode
from kiosk.jpki.constants import AID as JPKI_AID
from kiosk.local import LocalContext
from kiosk.oidc.provider import OpenIdProvider, Started
from kiosk.services.base import ServiceContext, ServicePreview, ServiceResult
from kiosk.services.login import LoginService
from kiosk.services.payment import PaymentService
from kiosk.services.visit import Visit
from kiosk.simcard.applet import VirtualCard
from kiosk.store.audit import AuditLog
from kiosk.store.engine import Database
from kiosk.store.errors import AuditFieldRefused
from kiosk.store.payment_requests import PaymentRequests
from kiosk.store.records import serial_to_bytes
from kiosk.ui.problems import problem_for
from kiosk.verify.profile import parse_basic_four

pytest_plugins = ["test_verify_support", "test_platform_http"]

PIN, PASSWORD = "1234", "ABC123"  # the test card's (see tests/pki_fixtures.py)
SERVICES = ("identity", "insurance", "login", "payment")


# --- what a serial looks like, written down ------------------------------------------------


@dataclass(frozen=True)
class Needle:
    """One certificate serial in every form a program might write it."""

    which: str
    serial: int

    @property
    def texts(self) -> tuple[str, ...]:
        """Decimal, hex (either case, compared case-folded) and colon-separated hex."""
        hex_ = format(self.serial, "x")
        octets = bytes.fromhex(hex_.rjust(len(hex_) + len(hex_) % 2, "0"))
        return (str(self.serial), hex_, octets.hex(":"), octets.hex(" "))

    @property
    def blobs(self) -> tuple[bytes, ...]:
        """The DER INTEGER content octets (the store's form), the unsigned octets, and the
        texts in ASCII."""
        unsigned = self.serial.to_bytes((self.serial.bit_length() + 7) // 8, "big")
        return (
            serial_to_bytes(self.serial),
            unsigned,
            *(t.encode() for t in self.texts),
            *(t.upper().encode() for t in self.texts[1:]),
        )

    def in_text(self, value: str) -> bool:
        folded = value.casefold()
        return any(t in folded for t in self.texts)

    def in_bytes(self, value: bytes) -> bool:
        return any(b in value for b in self.blobs)

    def in_value(self, value: object) -> bool:
        """Whether a stored value (any column type) holds this serial."""
        if isinstance(value, bytes | bytearray | memoryview):
            return self.in_bytes(bytes(value))
        if isinstance(value, int) and not isinstance(value, bool):
            return value == self.serial or self.in_text(str(value))
        return value is not None and self.in_text(str(value))


def needles(world) -> tuple[Needle, Needle]:
    """The test card's two serials."""
    return tuple(  # type: ignore[return-value]
        Needle(which, x509.load_der_x509_certificate(der).serial_number)
        for which, der in (("auth", world.auth_cert), ("sign", world.sign_cert))
    )


def test_the_needles_find_what_they_look_for():
    needle = Needle("auth", 0x00AB_CDEF_0123)
    assert needle.in_value(f"serial {0xABCDEF0123} seen")
    assert needle.in_value("ab:cd:ef:01:23") and needle.in_value("ABCDEF0123")
    assert needle.in_value(b"\x00\xab\xcd\xef\x01\x23") and needle.in_value(b"x=ABCDEF0123")
    assert needle.in_value(0xABCDEF0123)
    assert not needle.in_value("abcdef") and not needle.in_value(None) and not needle.in_value(True)


# --- where to look ---------------------------------------------------------------------------


def stored_cells(url: str) -> Iterator[tuple[str, str, object]]:
    """(table, column, value) for every cell of every table of the store."""
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                rows = conn.execute(text(f'SELECT * FROM "{table}"')).mappings().all()  # noqa: S608
                for row in rows:
                    for column, value in row.items():
                        yield table, column, value
    finally:
        db.dispose()


def found_in_store(url: str, needle: Needle) -> set[tuple[str, str]]:
    """The (table, column) pairs holding the serial."""
    return {(t, c) for t, c, v in stored_cells(url) if needle.in_value(v)}


def found_in_files(directory: Path, needle: Needle) -> set[str]:
    """The files under `directory` whose bytes hold the serial (the database, its WAL, keys):
    also what a deleted row or a free page still holds."""
    return {p.name for p in directory.rglob("*") if p.is_file() and needle.in_bytes(p.read_bytes())}


def log_text(records: Iterable[logging.LogRecord]) -> list[str]:
    """Each record as a handler would write it: message, arguments, traceback, stack."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    lines = []
    for record in records:
        lines.append(formatter.format(record))
        lines.append(repr(record.args))
    return lines


def all_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Every record captured: while the fixtures ran the visits, and in the test."""
    return [*caplog.get_records("setup"), *caplog.records]


def kiosk_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The records the kiosk logged: the card work runs on this thread; the platform (a
    verifier, allowed to keep serials) answers on uvicorn's threads."""
    me = threading.get_ident()
    return [r for r in all_records(caplog) if r.thread == me]


# --- the visits ------------------------------------------------------------------------------


@dataclass
class Shown:
    """What the kiosk handed the screens during the visits."""

    values: list[object] = dataclasses.field(default_factory=list)

    def add(self, *values: object) -> None:
        for value in values:
            self.values.append(value)
            self.values.append(repr(value))
            if dataclasses.is_dataclass(value):
                for f in dataclasses.fields(value):
                    self.values.append(getattr(value, f.name))


def ring_up_a_purchase(cfg: config.Config) -> None:
    """The shop's POS rings up a TEST purchase for the kiosk's terminal, in the kiosk's store."""
    db = Database(cfg.effective_database_url)
    try:
        ring_up_demo_purchase(PaymentRequests(db), PROVIDER, cfg.terminal_id, utc_now())
    finally:
        db.dispose()


#: The online service the kiosks sign people in to (at the provider of each kind of kiosk).
SIGN_IN_CLIENT = {
    "client_id": "law-shop",
    "name": "TEST オンラインショップ",
    "redirect_uris": ["https://shop.example/callback"],
    "auth_method": "client_secret_basic",
    "secret_sha256": hashlib.sha256(b"law-shop-secret").hexdigest(),
    "providers": [PROVIDER],
}
OIDC = {"issuer": "http://127.0.0.1:8480"}


def open_sign_in(login: LoginService, cfg: config.Config) -> str:
    """The online service sends a browser to the provider (the platform's, or the one-box
    kiosk's own) and the page shows the binding code the person types at the kiosk."""
    params = {
        "response_type": "code",
        "client_id": "law-shop",
        "redirect_uri": "https://shop.example/callback",
        "scope": "openid",
        "state": "st",
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": create_s256_code_challenge(secrets.token_urlsafe(48)),
        "code_challenge_method": "S256",
    }
    if isinstance(login.broker, OpenIdProvider):
        started = login.broker.authorize(params)
        assert isinstance(started, Started), started
        return started.binding_code
    page = httpx.get(f"{cfg.platform_url}/oidc/authorize", params=params)
    found = re.search(r'id="binding-code">([\d ]+)<', page.text)
    assert page.status_code == 200 and found, page.text
    return found.group(1).replace(" ", "")


def enrol_then_visit(backend: Visit, shown: Shown, cfg: config.Config) -> None:
    """Enrol the card at the provider, come back and use every service (agreeing to
    everything it asks; the payment pays a TEST purchase rung up for the terminal), then try
    to enrol the card again for a new account (refused)."""
    offered = available_services("kiosk-1", PROVIDER)
    consents = {s: frozenset(i.id for i in offered[s].consent_items) for s in SERVICES}
    backend.read_card()
    first = backend.authenticate(PIN, "identity", PROVIDER)
    assert first.link is None
    candidate = backend.read_signer(PASSWORD, first)
    link = backend.enrol(candidate, PROVIDER)
    shown.add(first, candidate, candidate.four_info, link)
    backend.close_card()

    for service_id in SERVICES:
        backend.read_card()
        again = backend.authenticate(PIN, service_id, PROVIDER)
        assert again.link is not None and again.link.account_ref == link.account_ref
        shown.add(again, again.link)
        context = ServiceContext(
            service_id,
            PROVIDER,
            "ja",
            again.subject,
            again.not_after,
            again.link,
            consented=consents[service_id],
            auth_time=again.verified_at,
        )
        if service_id == "login":  # an online service opens a sign-in: its binding code
            login = backend._services["login"]
            assert isinstance(login, LoginService)
            context = dataclasses.replace(context, binding_code=open_sign_in(login, cfg))
        if service_id == "payment":  # the shop's POS rings up a TEST purchase first
            payment = backend._services["payment"]
            assert isinstance(payment, PaymentService)
            ring_up_demo_purchase(payment.requests, PROVIDER, payment.terminal_id, utc_now())
        if service_id in ("payment", "login"):  # what the person sees before agreeing
            preview = backend.prepare_service(context)
            assert isinstance(preview, ServicePreview)
            shown.add(preview, *preview.rows)
            context = dataclasses.replace(context, preview=preview)
        result = backend.run_service(context)
        assert isinstance(result, ServiceResult) and result.ok, (service_id, result)
        shown.add(result, *result.rows)
        backend.close_card()

    # refusals carry serials in their verdicts too: the card is linked to another account
    backend.read_card()
    backend.authenticate(PIN, "identity", PROVIDER)
    with pytest.raises(KioskError) as refused:
        backend.enrol(backend.read_signer(PASSWORD, first), PROVIDER)  # as if not linked
    assert problem_for(refused.value).code is ProblemCode.LINK_EXISTS
    shown.add(problem_for(refused.value), str(refused.value), repr(refused.value.__cause__))
    backend.close_card()


class RecordingReader(InProcessReader):
    """The in-process reader, keeping every command APDU sent to the card."""

    def __init__(self) -> None:
        super().__init__()
        self.commands: list[bytes] = []

    def connect(self) -> CardConnection:
        conn = super().connect()
        commands = self.commands

        class Recorded:
            def transmit(self, apdu: bytes) -> tuple[bytes, int]:
                commands.append(bytes(apdu))
                return conn.transmit(apdu)

            def close(self) -> None:
                conn.close()

        return Recorded()


@pytest.fixture
def reader(card_file) -> RecordingReader:
    reader = RecordingReader()
    reader.insert(VirtualCard(card_file))
    return reader


@pytest.fixture
def oidc_platform(platform_cfg):
    """The platform, as an OpenID Provider too, with the online service registered."""
    from kiosk.platform.service import app_from_config

    with_oidc = config.from_mapping(
        {
            "data_dir": str(platform_cfg.data_dir),
            "trust_dir": str(platform_cfg.trust_dir),
            "crl_dir": str(platform_cfg.crl_dir),
            "platform_tokens": dict(platform_cfg.platform_tokens),
            "oidc": OIDC,
            "oidc_clients": [SIGN_IN_CLIENT],
        }
    )
    running = Running(app_from_config(with_oidc))
    yield running
    running.stop()


@pytest.fixture
def platform_kiosk(oidc_platform, reader, tmp_path, caplog):
    """A kiosk with verification = "platform" over a real platform, after one enrolment and
    one visit per service; its data directory and store URL."""
    cfg = config.from_mapping(
        {
            "data_dir": str(tmp_path / "kiosk"),
            "verification": "platform",
            "platform_url": oidc_platform.url,
            "platform_token": TOKEN,
            "provider_id": PROVIDER,
            "services": list(SERVICES),
        }
    )
    caplog.set_level(TRACE)
    closers: list = []
    backend = platform_backend(cfg, reader.connect, closers)
    shown = Shown()
    try:
        enrol_then_visit(backend, shown, cfg)
    finally:
        backend.close_card()
        for close in closers:
            close()
    return cfg, shown


@pytest.fixture
def local_kiosk(world, reader, tmp_path, caplog):
    """A kiosk that verifies itself (an authorised verifier), after the same visits."""
    crl_dir = tmp_path / "crl"
    crl_dir.mkdir()
    for which in ("auth", "sign"):
        (crl_dir / f"{which}.crl").write_bytes(world.crl(which))
    cfg = config.from_mapping(
        {
            "data_dir": str(tmp_path / "kiosk"),
            "trust_dir": str(world.pki.trust_dir),
            "crl_dir": str(crl_dir),
            "provider_id": PROVIDER,
            "services": list(SERVICES),
            "oidc": OIDC,  # a one-box operator: its own OpenID Provider, in-process
            "oidc_clients": [SIGN_IN_CLIENT],
        }
    )
    caplog.set_level(TRACE)
    local = LocalContext.from_config(cfg)
    shown = Shown()
    try:
        import_crls(cfg, local)
        enrol_then_visit(local_backend(cfg, local, reader.connect), shown, cfg)
    finally:
        local.db.dispose()
    return cfg, shown


# --- §63: no serial in a platform-mode kiosk -------------------------------------------------


def test_a_platform_mode_kiosk_keeps_no_certificate_serial(platform_kiosk, world, caplog):
    cfg, shown = platform_kiosk
    records = kiosk_records(caplog)
    assert records, "the kiosk's log records were not captured"
    lines = log_text(records)
    audit = AuditLog(Database(cfg.effective_database_url)).recent(1000)
    assert {e.action for e in audit} >= {f"service.{s}" for s in SERVICES}
    for needle in needles(world):
        assert found_in_store(cfg.effective_database_url, needle) == set(), needle.which
        assert found_in_files(cfg.data_dir, needle) == set(), needle.which
        assert [line for line in lines if needle.in_text(line)] == [], needle.which
        assert [e for e in audit if e.serial == needle.serial or needle.in_value(repr(e))] == []
        assert [v for v in shown.values if needle.in_value(v)] == [], needle.which


def test_an_audit_log_that_keeps_no_serials_refuses_one(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'kiosk.sqlite3'}")
    try:
        db.upgrade()
        log = AuditLog(db, keeps_serials=False)
        event = dict(at=datetime.now(UTC), provider_id=PROVIDER, terminal_id="kiosk-1", ok=True)
        with pytest.raises(AuditFieldRefused, match="no certificate serial"):
            log.append(action="user_proof", issuer_key_id="ab12", serial=0xABCDEF, **event)
        log.append(action="service.identity", **event)
        assert [(e.action, e.serial) for e in log.recent()] == [("service.identity", None)]
    finally:
        db.dispose()


def test_a_platform_mode_kiosks_audit_cannot_take_a_serial(platform, reader, tmp_path):
    """The kiosk's audit sink has no place for a certificate at all; and the platform-mode
    kiosk's store, asked directly, still refuses to keep a serial."""
    import inspect

    from kiosk.services.visit import AuditSink

    assert not {"cert", "serial"} & set(inspect.signature(AuditSink.record).parameters)
    cfg = config.from_mapping(
        {
            "data_dir": str(tmp_path / "kiosk"),
            "verification": "platform",
            "platform_url": platform.url,
            "platform_token": TOKEN,
            "provider_id": PROVIDER,
        }
    )
    closers: list = []
    backend = platform_backend(cfg, reader.connect, closers)
    try:
        backend._audit.record("service.identity", True, None, PROVIDER, datetime.now(UTC))
        with pytest.raises(AuditFieldRefused):
            backend._audit.sink.append(  # the store's log behind the logged one
                at=datetime.now(UTC), provider_id=PROVIDER, terminal_id="kiosk-1",
                action="service.identity", ok=True, issuer_key_id="ab12", serial=0xABCDEF,
            )  # fmt: skip
        assert found_in_store(cfg.effective_database_url, Needle("auth", 0xABCDEF)) == set()
    finally:
        for close in closers:
            close()


def test_a_platform_mode_kiosk_does_not_verify_locally(world, tmp_path):
    """`kiosk verify-card` and `kiosk enrol` verify through LocalContext, which records each
    verdict's serial and the link's serials in the kiosk's own store: a platform-mode kiosk
    must refuse them rather than become a database of serials."""
    cfg = config.from_mapping(
        {
            "data_dir": str(tmp_path / "kiosk"),
            "trust_dir": str(world.pki.trust_dir),
            "verification": "platform",
            "platform_url": "https://platform.example/",
            "platform_token": TOKEN,
        }
    )
    with pytest.raises(config.ConfigError):
        LocalContext.from_config(cfg).db.dispose()
    assert not (tmp_path / "kiosk").exists()  # refused before any store was opened


def test_a_platform_mode_kiosk_imports_no_crl(world, tmp_path, monkeypatch, capsys):
    """A CRL is a list of certificate serials: a platform-mode kiosk's `kiosk crl import`
    refuses, and its store is not even created."""
    conf = tmp_path / "kiosk.toml"
    conf.write_text(
        f'data_dir = "{tmp_path / "kiosk"}"\ntrust_dir = "{world.pki.trust_dir}"\n'
        f'verification = "platform"\nplatform_url = "https://platform.example/"\n'
        f'platform_token = "{TOKEN}"\n'
    )
    from kiosk.cli import main

    (tmp_path / "auth.crl").write_bytes(world.crl("auth"))
    assert main(["crl", "import", "--config", str(conf), str(tmp_path / "auth.crl")]) != 0
    assert "imported by the platform" in capsys.readouterr().err
    assert not (tmp_path / "kiosk").exists()


def test_a_locally_verifying_kiosk_keeps_its_verifier_records(local_kiosk, world):
    """The same scan over an authorised verifier's kiosk finds the serials where it keeps
    them: the verdicts and the link (so the scan above can fail)."""
    cfg, _shown = local_kiosk
    auth, sign = needles(world)
    assert found_in_store(cfg.effective_database_url, auth) >= {
        ("verifications", "serial"),
        ("links", "auth_serial"),
    }
    assert ("links", "sign_serial") in found_in_store(cfg.effective_database_url, sign)
    assert "kiosk.sqlite3" in found_in_files(cfg.data_dir, auth) | {
        name.removesuffix("-wal") for name in found_in_files(cfg.data_dir, auth)
    }
    audit = AuditLog(Database(cfg.effective_database_url)).recent(1000)
    assert auth.serial in {e.serial for e in audit}


# --- no PIN, no password, no 4 info in logs or audit ----------------------------------------


def four_info(world) -> tuple[str, ...]:
    """The basic 4 info as the card holds it, and as typed/printed forms of the birth date."""
    person = parse_basic_four(x509.load_der_x509_certificate(world.sign_cert))
    born = person.birth_date
    return (
        person.name,
        person.address,
        born.isoformat(),
        born.strftime("%Y%m%d"),
        f"{born.year}年{born.month}月{born.day}日",
    )


def test_logs_and_audit_carry_no_pin_password_or_four_info(local_kiosk, world, caplog):
    cfg, shown = local_kiosk
    assert shown.values, "the visits showed nothing"
    lines = log_text(all_records(caplog))  # every thread: this kiosk runs no platform
    assert any(r.levelno <= logging.DEBUG for r in all_records(caplog))
    audit = [repr(e) for e in AuditLog(Database(cfg.effective_database_url)).recent(1000)]
    assert len(audit) > len(SERVICES)
    # as typed, and as the bytes of a VERIFY command would show them in hex
    secrets = (*four_info(world), PASSWORD, PIN.encode().hex(), PASSWORD.encode().hex())
    for secret in secrets:
        assert [line for line in lines if secret in line] == [], secret
        assert [row for row in audit if secret in row] == [], secret
    # the 4-digit PIN: never as a word of its own (digits inside hex or times are not the PIN)
    assert [line for line in lines if f" {PIN} " in f" {line} " or f"'{PIN}'" in line] == []
    assert [row for row in audit if f"'{PIN}'" in row] == []
    # nor in the store, in any column (the 4 info is in no table: the link keeps serials)
    for table, column, value in stored_cells(cfg.effective_database_url):
        if isinstance(value, str):
            assert value != PIN and all(s not in value for s in secrets), (table, column)


# --- the My Number (個人番号) is never read ---------------------------------------------------

#: The AIDs of the card's other applications start so: 券面事項入力補助AP (D3 92 10 00 31 00
#: 01 01 04 08), which holds the 個人番号 and the 4 info, and 券面事項確認AP (… 04 02).
OTHER_APS = bytes.fromhex("D392100031")


@pytest.mark.parametrize("kiosk", ["platform_kiosk", "local_kiosk"])
def test_the_card_s_my_number_is_never_read(kiosk, reader, request):
    request.getfixturevalue(kiosk)  # enrol, then visit every service
    selects_by_name = [c for c in reader.commands if c[:3] == bytes.fromhex("00A404")]
    assert selects_by_name, "no application was selected"
    # every application selected is the JPKI one (lengths and P2 aside)
    assert {c[5 : 5 + c[4]] for c in selects_by_name} == {JPKI_AID}
    assert [c for c in reader.commands if OTHER_APS in c] == []
