"""`[tokens]`: phones are taken only when enabled AND their trust anchors are configured; the
verifier then pins the phone anchors as a group of their own."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kiosk.config import Config, ConfigError, TokensConfig, TrustGroupConfig, load
from kiosk.local import phones_accepted, trust_store
from kiosk.pki.authority import TestPki, init_pki
from kiosk.verify.trust import TokenClass


@pytest.fixture(scope="module")
def phone_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return init_pki(tmp_path_factory.mktemp("phone-pki") / "pki")


def config(test_pki: TestPki, **tokens: object) -> Config:
    return Config(trust_dir=test_pki.trust_dir, tokens=TokensConfig(**tokens))  # type: ignore[arg-type]


def test_phones_are_off_by_default(test_pki: TestPki, phone_pki: TestPki) -> None:
    assert Config().tokens == TokensConfig(accept_phones=False, phone_trust_dir="")
    off = config(test_pki, phone_trust_dir=str(phone_pki.trust_dir))
    assert not phones_accepted(off)
    assert {a.group.token for a in trust_store(off)} == {TokenClass.CARD}


def test_phones_with_their_anchors_are_taken_as_their_own_group(
    test_pki: TestPki, phone_pki: TestPki
) -> None:
    on = config(test_pki, accept_phones=True, phone_trust_dir=str(phone_pki.trust_dir))
    assert phones_accepted(on)
    store = trust_store(on)
    phone_keys = {a.key_id for a in store if a.group.token is TokenClass.PHONE}
    expected = {a.key_id for a in trust_store(config(phone_pki))}  # the phone CAs' own keys
    assert phone_keys == expected and len(store) == 2 * len(expected)


@pytest.mark.parametrize("where", ["", "missing", "empty"])
def test_phones_enabled_without_anchors_are_refused_and_logged(
    test_pki: TestPki, tmp_path: Path, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    directory = {"": "", "missing": str(tmp_path / "nope"), "empty": str(tmp_path)}[where]
    with caplog.at_level(logging.WARNING, logger="kiosk.local"):
        assert not phones_accepted(config(test_pki, accept_phones=True, phone_trust_dir=directory))
    assert "phones are not taken" in caplog.text


def test_the_tokens_table_is_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[tokens]\naccept_phones = true\nphone_trust_dir = "var/pki/phone"\n')
    assert load(path).tokens == TokensConfig(True, "var/pki/phone")
    path.write_text('[tokens]\naccept_phones = "yes"\n')
    with pytest.raises(ConfigError, match="tokens.accept_phones"):
        load(path)
    path.write_text("[tokens]\naccept_tablets = true\n")
    with pytest.raises(ConfigError, match="accept_tablets"):
        load(path)


def test_a_phone_trust_group_is_phone_anchors_configured(
    test_pki: TestPki, phone_pki: TestPki
) -> None:
    group = TrustGroupConfig("phones", str(phone_pki.trust_dir), kind="phone")
    cfg = Config(
        trust_dir=test_pki.trust_dir,
        trust_groups=(group,),
        tokens=TokensConfig(accept_phones=True),
    )
    assert phones_accepted(cfg)
    phone_keys = {a.key_id for a in trust_store(cfg) if a.group.token is TokenClass.PHONE}
    assert phone_keys == {a.key_id for a in trust_store(config(phone_pki))}
    off = Config(trust_dir=test_pki.trust_dir, trust_groups=(group,))
    assert not phones_accepted(off)  # anchors alone do not turn phones on
