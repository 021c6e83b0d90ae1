"""The composition root's adapters: flow settings, links and audit over the store, PC/SC."""

from __future__ import annotations

import pytest

from kiosk import app, config
from kiosk.app import flow_config, import_crls, local_backend
from kiosk.card.reader import InProcessReader, PcscReader
from kiosk.config import Config, ConfigError
from kiosk.flow.machine import ReaderStatus
from kiosk.local import LocalContext
from kiosk.services.identity import IdentityService
from kiosk.simcard.applet import VirtualCard
from kiosk.store.records import LinkStatus


def test_flow_config_from_the_kiosk_config():
    services = {"identity": IdentityService()}
    cfg = Config(idle_timeout_s=45, language="en", providers={"a": "A", "b": "B"})
    flow = flow_config(cfg, services)
    assert [s.id for s in flow.services] == ["identity"] and flow.services[0].needs_link
    assert [(p.id, p.name.en) for p in flow.providers] == [("a", "A"), ("b", "B")]
    assert flow.idle_timeout_s == 45 and flow.language == "en"
    assert [p.id for p in flow_config(Config(provider_id="x"), services).providers] == ["x"]
    with pytest.raises(ConfigError, match="nope"):
        flow_config(Config(services=("identity", "nope")), services)
    with pytest.raises(ConfigError, match="providers: must name at least one provider"):
        config.from_mapping({"providers": {}})


@pytest.fixture
def local(tmp_path, test_pki):
    cfg = Config(
        data_dir=tmp_path,
        trust_dir=test_pki.trust_dir,
        crl_dir=test_pki.crl_dir,
        provider_id="clinic",
        terminal_id="kiosk-1",
    )
    context = LocalContext.from_config(cfg)
    import_crls(cfg, context)
    yield cfg, context
    context.db.dispose()


def test_visits_over_the_store(local, card_file):
    cfg, context = local
    reader = InProcessReader()
    reader.insert(VirtualCard(card_file))
    backend = local_backend(cfg, context, reader.connect)

    backend.read_card()
    first = backend.authenticate("1234", "identity", "clinic")
    assert first.link is None
    link = backend.enrol(backend.read_signer("ABC123", first), "clinic")
    backend.close_card()
    record = context.links.find_by_account("clinic", link.account_ref)
    assert record is not None and record.status is LinkStatus.ACTIVE

    backend.read_card()
    again = backend.authenticate("1234", "identity", "clinic")
    assert again.link is not None and again.link.account_ref == link.account_ref

    context.links.set_status(record.link_id, LinkStatus.NEEDS_REENROLMENT, record.created_at)
    backend.read_card()
    stale = backend.authenticate("1234", "identity", "clinic")
    assert stale.link is None and stale.needs_reenrolment
    renewed = backend.enrol(backend.read_signer("ABC123", stale), "clinic")
    assert renewed.account_ref == link.account_ref
    assert context.links.get(record.link_id).status is LinkStatus.ACTIVE

    events = [(e.action, e.ok) for e in reversed(context.audit.recent())]
    assert events == [
        ("authenticate", True),
        ("enrol", True),
        ("authenticate", True),
        ("authenticate", True),
        ("enrol", True),
    ]


def test_missing_crls_fail_closed(tmp_path, test_pki, card_file):
    cfg = Config(data_dir=tmp_path, trust_dir=test_pki.trust_dir, crl_dir=tmp_path / "none")
    context = LocalContext.from_config(cfg)
    import_crls(cfg, context)  # nothing to import
    reader = InProcessReader()
    reader.insert(VirtualCard(card_file))
    backend = local_backend(cfg, context, reader.connect)
    backend.read_card()
    from kiosk.errors import KioskError
    from kiosk.flow.errors_catalogue import ProblemCode
    from kiosk.ui.problems import problem_for

    with pytest.raises(KioskError) as e:
        backend.authenticate("1234", "identity", cfg.provider_id)
    assert problem_for(e.value).code is ProblemCode.REVOCATION_UNKNOWN
    context.db.dispose()


@pytest.mark.parametrize(
    ("name", "snapshot", "status"),
    [
        ("", None, ReaderStatus.NO_SERVICE),
        ("", {}, ReaderStatus.NO_READER),
        ("", {"R1": None, "R2": b"\x3b"}, ReaderStatus.CARD),
        ("", {"R1": None}, ReaderStatus.READY),
        ("R1", {"R1": None, "R2": b"\x3b"}, ReaderStatus.READY),
        ("R3", {"R1": None}, ReaderStatus.NO_READER),
    ],
)
def test_pcsc_reader_status(name, snapshot, status):
    assert PcscReader(name)._status(snapshot) is status


def test_once_builds_on_first_need_then_keeps_it(local, card_file):
    from kiosk.app import Once

    cfg, context = local
    reader = InProcessReader()
    reader.insert(VirtualCard(card_file))
    built = []

    def build():
        built.append(1)
        return local_backend(cfg, context, reader.connect)

    backend = Once(build)
    assert built == []  # nothing is built before it is needed
    assert backend().read_card().auth_retries == 3
    assert backend() is backend() and built == [1]


def test_once_tries_again_after_a_failed_build():
    from kiosk.app import Once

    calls = []

    def build():
        calls.append(1)
        if len(calls) == 1:
            raise OSError("the store is not there yet")
        return "built"

    once = Once(build)
    with pytest.raises(OSError):
        once()
    assert once() == "built" and once() == "built" and len(calls) == 2


def test_kiosk_run_command_line():
    from kiosk.cli import build_parser

    args = build_parser().parse_args(["run", "--config", "k.toml", "--windowed"])
    assert (args.command, args.config, args.windowed) == ("run", "k.toml", True)
    assert build_parser().parse_args(["run"]).windowed is False


def test_no_reception_configured_means_no_hand_off(local):
    cfg, context = local
    closers: list = []
    assert app.reception_handoff(cfg, context.db, closers) is None and closers == []


def test_a_file_drop_reception_gets_what_a_visit_hands_off(local, tmp_path):
    import dataclasses
    import time

    from reception_support import message

    from kiosk.config import ReceptionConfig
    from kiosk.services.reception import parse_bundle

    cfg, context = local
    drop = tmp_path / "reception" / "in"  # made by the wiring
    cfg = dataclasses.replace(
        cfg, reception=ReceptionConfig(delivery="file", directory=str(drop), interval_s=60)
    )
    closers: list = []
    handoff = app.reception_handoff(cfg, context.db, closers)
    try:
        sent = message()
        handoff.record(sent, "service.insurance", True, sent.at)  # wakes the sender at once
        deadline = time.monotonic() + 20
        while not list(drop.glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
        (path,) = drop.glob("*.json")
        assert parse_bundle(path.read_bytes()).bundle_id == str(sent.message_id)
    finally:
        for close in closers:
            close()
    assert closers  # the sender is stopped with the kiosk


def test_the_configured_insurance_check_reads_the_roster_and_hands_off_to_reception(local):
    import dataclasses

    from kiosk.config import InsuranceConfig, ReceptionConfig
    from kiosk.services.eligibility import RosterDirectory

    cfg, context = local
    cfg = dataclasses.replace(
        cfg,
        insurance=InsuranceConfig(directory="roster"),
        reception=ReceptionConfig(delivery="file", directory="x", institution_code="1311234567"),
    )
    closers: list = []
    insurance = app.configured_services(cfg, context.db, closers)["insurance"]
    assert isinstance(insurance.directory, RosterDirectory)
    assert insurance.reception.terminal_id == "kiosk-1"
    assert insurance.reception.institution_code == "1311234567"


def test_the_default_services_are_the_test_ones_and_hand_nothing_off(local):
    from kiosk.demo.insurance import TestEligibilityDirectory

    cfg, context = local
    insurance = app.configured_services(cfg, context.db, [])["insurance"]
    assert isinstance(insurance.directory, TestEligibilityDirectory)
    assert insurance.reception is None


def test_enrol_to_picks_what_an_enrolment_links(local):
    import dataclasses

    from kiosk.services.records import NewAccounts, PatientRecordLinker

    cfg, context = local
    assert isinstance(app.record_linker(cfg, context.db), NewAccounts)
    clinic = dataclasses.replace(cfg, enrol_to="patient_record")
    assert isinstance(app.record_linker(clinic, context.db), PatientRecordLinker)
