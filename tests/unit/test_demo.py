"""`kiosk demo` preparation: made once, reused after, and a configuration that loads."""

from __future__ import annotations

from kiosk import config
from kiosk.commands.demo import DEMO_PIN, DEMO_STAFF_ID, DEMO_STAFF_PIN, prepare
from kiosk.pki.authority import DEFAULT_PERSON
from kiosk.pki.cardfile import load_card


def test_prepare_makes_pki_card_and_config_once(tmp_path):
    card_path, config_path = prepare(tmp_path, "Virtual PCD 00 00")
    card = load_card(card_path)
    assert card.auth.pin == DEMO_PIN and card.auth.retries_left == 3
    cfg = config.load(config_path, env={})
    assert cfg.verification == "local"
    assert cfg.reader == "Virtual PCD 00 00"
    assert sorted(p.name for p in cfg.trust_dir.iterdir()) == ["auth-ca.pem", "sign-ca.pem"]
    (staff,) = cfg.staff
    assert staff.staff_id == DEMO_STAFF_ID and staff.credential.matches(DEMO_STAFF_PIN)

    # A second run keeps the card (and its retry counters) as it is.
    card_path.write_text(card_path.read_text().replace('"retries_left": 3', '"retries_left": 2'))
    again, _ = prepare(tmp_path, "Virtual PCD 00 00")
    assert load_card(again).auth.retries_left == 2


def test_a_demo_configuration_with_the_retired_staff_hash_is_migrated(tmp_path):
    _, config_path = prepare(tmp_path, "Virtual PCD 00 00")
    text = config_path.read_text(encoding="utf-8")
    head, _, _ = text.partition("\n[[staff]]")
    config_path.write_text(head + '\nstaff_pin_sha256 = "' + "0" * 64 + '"\n', encoding="utf-8")
    prepare(tmp_path, "Virtual PCD 00 00")
    cfg = config.load(config_path, env={})  # no longer refused
    assert [m.staff_id for m in cfg.staff] == [DEMO_STAFF_ID]
    assert "staff_pin_sha256" not in config_path.read_text(encoding="utf-8")


def test_the_demo_is_a_clinic_with_its_records_loaded_once(tmp_path):
    from kiosk.store.engine import Database
    from kiosk.store.roster import InsuranceRoster, PatientRecords

    _, config_path = prepare(tmp_path, "Virtual PCD 00 00")
    prepare(tmp_path, "Virtual PCD 00 00")  # again: the settings are not added twice
    cfg = config.load(config_path, env={})
    assert cfg.services == ("identity", "insurance", "payment", "login")
    assert cfg.enrol_to == "patient_record"
    assert cfg.insurance.directory == "roster" and cfg.reception.delivery == "file"
    db = Database(cfg.effective_database_url)
    try:
        assert InsuranceRoster(db).count("00009901") == 1
        (record,) = PatientRecords(db).born_on("demo-clinic", DEFAULT_PERSON.birth_date)
        assert record.patient_number == "TEST-0001"
    finally:
        db.dispose()


def test_the_demo_is_a_shop_counter_with_one_test_purchase_and_the_pos_api(tmp_path):
    import hashlib

    from kiosk.clock import utc_now
    from kiosk.commands.demo import DEMO_POS_LISTEN, DEMO_POS_TOKEN
    from kiosk.store.engine import Database
    from kiosk.store.payment_requests import PaymentRequests

    _, config_path = prepare(tmp_path, "Virtual PCD 00 00")
    prepare(tmp_path, "Virtual PCD 00 00")  # again: still one open purchase, one [pos]
    cfg = config.load(config_path, env={})
    assert (cfg.payment.gateway, cfg.pos.listen) == ("test", DEMO_POS_LISTEN)
    assert cfg.pos_tokens == {"demo-clinic": hashlib.sha256(DEMO_POS_TOKEN.encode()).hexdigest()}
    db = Database(cfg.effective_database_url)
    try:
        rung = PaymentRequests(db).open_for(cfg.provider_id, cfg.terminal_id, utc_now())
        assert rung is not None and (rung.amount_yen, rung.order_ref) == (1280, "TEST-ORDER-0001")
    finally:
        db.dispose()


def test_the_screenshot_tour_walks_the_identity_check_whatever_the_demo_offers(tmp_path):
    """`make demo` runs the tour with the demo's configuration (a clinic of two services); the
    tour's script starts with the identity check alone."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "packaging" / "screenshots.py"
    spec = importlib.util.spec_from_file_location("screenshots", path)
    tour = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tour)
    _, config_path = prepare(tmp_path, "Virtual PCD 00 00")
    cfg, _ = tour.prepare(str(config_path), tmp_path / "tour")
    assert cfg.services == ("identity",)


def test_the_demo_signs_people_in_to_its_test_online_service(tmp_path):
    from kiosk.commands.demo import DEMO_CLIENT_ID, DEMO_ISSUER, DEMO_ONLINE_SERVICE

    _, config_path = prepare(tmp_path, "Virtual PCD 00 00")
    prepare(tmp_path, "Virtual PCD 00 00")  # again: one [oidc], one client
    cfg = config.load(config_path, env={})
    assert (cfg.oidc.issuer, cfg.oidc.listen) == (DEMO_ISSUER, "127.0.0.1:8480")
    client = cfg.oidc_clients[DEMO_CLIENT_ID]
    assert client.redirect_uris == (f"{DEMO_ONLINE_SERVICE}/callback",)
    assert client.providers == frozenset({cfg.provider_id})
    assert config_path.read_text(encoding="utf-8").count("[[oidc_clients]]") == 1
