"""`kiosk demo --token`: the demo phone has its own TEST CAs, and the demo kiosk takes phones."""

from __future__ import annotations

from cryptography.hazmat.primitives.serialization import Encoding

from kiosk.commands.demo import prepare, prepare_phone
from kiosk.config import load
from kiosk.local import phones_accepted, trust_store
from kiosk.pki.cardfile import load_card
from kiosk.verify.trust import TokenClass


def test_the_demo_phone_is_issued_by_its_own_cas_and_taken_once(tmp_path):
    card_path, config_path = prepare(tmp_path, "Virtual PCD 00 00")
    phone_path = prepare_phone(tmp_path, config_path)
    assert prepare_phone(tmp_path, config_path) == phone_path  # again: nothing added twice
    assert config_path.read_text().count("[tokens]") == 1
    cfg = load(config_path)
    assert phones_accepted(cfg)
    phone, card = load_card(phone_path), load_card(card_path)
    assert phone.auth.ca_certificate != card.auth.ca_certificate
    phone_anchors = [a for a in trust_store(cfg) if a.group.token is TokenClass.PHONE]
    assert phone.auth.ca_certificate in {
        a.certificate.public_bytes(Encoding.DER) for a in phone_anchors
    }
    assert sorted(p.name for p in cfg.crl_dir.glob("phone-*.crl"))  # the phone CAs' CRLs
