"""`kiosk verify-card` and `kiosk enrol` glue, over the in-process virtual card and SQLite."""

from __future__ import annotations

import io
import json
from contextlib import contextmanager
from datetime import timedelta

import pytest
from cryptography import x509

from kiosk import cli, config
from kiosk import local as local_context
from kiosk.card.inprocess import InProcessConnection
from kiosk.commands import verify as verify_command
from kiosk.commands.enrol import enrol, show_four_info
from kiosk.commands.verify import prove
from kiosk.jpki.errors import PinIncorrect
from kiosk.jpki.session import JpkiSession
from kiosk.local import LocalContext
from kiosk.pki.authority import DEFAULT_PERSON
from kiosk.simcard.applet import VirtualCard
from kiosk.store.records import LinkStatus as StoredStatus
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.crl import check_crl
from kiosk.verify.verdict import LinkStatus, Reason

pytest_plugins = ["test_verify_support"]


@pytest.fixture
def cfg(world, tmp_path):
    return config.from_mapping(
        {
            "data_dir": str(tmp_path),
            "trust_dir": str(world.pki.trust_dir),
            "provider_id": "demo-clinic",
            "terminal_id": "kiosk-1",
        }
    )


def import_crls(local, world, sign_revoked=(), number=1):
    index = SqlRevocationIndex(local.db)
    for which, revoked in (("auth", ()), ("sign", sign_revoked)):
        buf = world.crl(which, revoked, number=number)
        index.replace(check_crl(buf, world.trust, world.now), world.now)


@pytest.fixture
def local(cfg, world):
    local = LocalContext.from_config(cfg)
    import_crls(local, world)
    yield local
    local.db.dispose()


@pytest.fixture
def session(world):
    return JpkiSession(InProcessConnection(VirtualCard(world.card)))


def fixed(world):
    return lambda: world.now


def test_prove_happy_path_and_audit(local, session, world):
    verdict = prove(session, "1234", local, fixed(world))
    assert verdict.ok and verdict.link_status is None
    assert verdict.auth_serial == x509.load_der_x509_certificate(world.auth_cert).serial_number
    event = local.audit.recent(1)[0]
    assert (event.action, event.ok, event.reason, event.serial) == (
        "verify_card",
        True,
        "ok",
        verdict.auth_serial,
    )


def test_prove_wrong_pin_is_sent_once(local, session, world):
    with pytest.raises(PinIncorrect) as e:
        prove(session, "9999", local, fixed(world))
    assert e.value.retries_left == 2
    assert local.audit.recent(1) == []


def test_prove_without_crl_is_refused(cfg, session, world):
    local = LocalContext.from_config(cfg)  # nothing imported
    try:
        verdict = prove(session, "1234", local, fixed(world))
    finally:
        local.db.dispose()
    assert (verdict.ok, verdict.reason) == (False, Reason.CRL_MISSING)


def test_enrol_then_prove_then_sign_cert_revoked(local, session, world):
    shown = []

    def confirm(person):
        shown.append(person)
        return True

    verdict = enrol(session, local, "patient-42", "ABC123", confirm, lambda: "1234", fixed(world))
    assert verdict.ok, verdict.message
    assert shown == [DEFAULT_PERSON]
    link = local.links.find_by_account("demo-clinic", "patient-42")
    assert (link.auth_serial, link.sign_serial) == (verdict.auth_serial, verdict.sign_serial)
    assert local.audit.recent(1)[0].action == "enrol"

    linked = prove(session, "1234", local, fixed(world))
    assert (linked.link_status, linked.account_ref) == (LinkStatus.ACTIVE, "patient-42")

    # the holder moved: the signature certificate is revoked, the next proof flags the link
    import_crls(local, world, sign_revoked=[verdict.sign_serial], number=2)
    proof = prove(session, "1234", local, fixed(world))
    assert proof.ok and proof.link_status is LinkStatus.NEEDS_REENROLMENT
    assert local.links.get(link.link_id).status is StoredStatus.NEEDS_REENROLMENT


def test_enrol_not_confirmed_signs_nothing(local, session, world):
    pins = []
    verdict = enrol(
        session, local, "patient-42", "ABC123", lambda p: False, pins.append, fixed(world)
    )
    assert verdict is None and pins == []
    assert local.links.find_by_account("demo-clinic", "patient-42") is None


def test_four_info_display():
    text = show_four_info(DEFAULT_PERSON)
    assert DEFAULT_PERSON.name in text and "1980-02-17" in text and "male" in text


def test_verify_card_command_prints_the_verdict(cfg, world, tmp_path, monkeypatch, capsys):
    toml = tmp_path / "kiosk.toml"
    toml.write_text(
        f'data_dir = "{cfg.data_dir}"\ntrust_dir = "{cfg.trust_dir}"\n'
        'provider_id = "demo-clinic"\nterminal_id = "kiosk-1"\n'
    )
    local = LocalContext.from_config(cfg)
    import_crls(local, world)
    local.db.dispose()

    @contextmanager
    def in_process_card(reader):
        yield InProcessConnection(VirtualCard(world.card))

    monkeypatch.setattr(verify_command, "open_card", in_process_card)
    monkeypatch.setattr(verify_command, "utc_now", lambda: world.now + timedelta(seconds=1))
    monkeypatch.setattr("sys.stdin", io.StringIO("1234\n"))
    rc = cli.main(["verify-card", "--pin-stdin", "--config", str(toml)])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["ok"] is True and out["reason"] == "ok"
    assert "1234" not in json.dumps(out)


def test_ocsp_sources_from_configuration(world, tmp_path):
    key_id = world.key_id("auth")
    cfg = config.from_mapping(
        {"data_dir": str(tmp_path), "ocsp": {key_id.upper(): "http://ocsp.test/"}}
    )
    assert list(local_context.ocsp_sources(cfg)) == [key_id]
    with pytest.raises(config.ConfigError, match="ocsp: must be a table"):
        config.from_mapping({"data_dir": str(tmp_path), "ocsp": ["x"]})
