"""The shared PKI fixtures work and give each test its own card file."""

from __future__ import annotations

from cryptography import x509

from kiosk.pki.cardfile import load_card, save_card


def test_card_file_is_issued_by_test_pki(test_pki, card_file):
    auth = x509.load_der_x509_certificate(card_file.auth.certificate)
    auth.verify_directly_issued_by(test_pki.ca_certificate("auth"))
    sign = x509.load_der_x509_certificate(card_file.sign.certificate)
    sign.verify_directly_issued_by(test_pki.ca_certificate("sign"))


def test_card_path_is_a_private_copy(card_path, card_file):
    save_card(card_path, card_file.with_retries(auth=0))
    assert load_card(card_path).auth.retries_left == 0


def test_card_path_again_starts_fresh(card_path, card_file):
    assert load_card(card_path) == card_file
