"""`kiosk demo` preparation: made once, reused after, and a configuration that loads."""

from __future__ import annotations

from kiosk import config
from kiosk.commands.demo import DEMO_PIN, prepare
from kiosk.pki.cardfile import load_card


def test_prepare_makes_pki_card_and_config_once(tmp_path):
    card_path, config_path = prepare(tmp_path, "Virtual PCD 00 00")
    card = load_card(card_path)
    assert card.auth.pin == DEMO_PIN and card.auth.retries_left == 3
    cfg = config.load(config_path, env={})
    assert cfg.verification == "local"
    assert cfg.reader == "Virtual PCD 00 00"
    assert sorted(p.name for p in cfg.trust_dir.iterdir()) == ["auth-ca.pem", "sign-ca.pem"]
    assert cfg.staff_pin_sha256 and len(cfg.staff_pin_sha256) == 64

    # A second run keeps the card (and its retry counters) as it is.
    card_path.write_text(card_path.read_text().replace('"retries_left": 3', '"retries_left": 2'))
    again, _ = prepare(tmp_path, "Virtual PCD 00 00")
    assert load_card(again).auth.retries_left == 2
