from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta

import pytest

from kiosk import config
from kiosk.config import Config, ConfigError
from kiosk.local import challenge_keys, key_file
from kiosk.verify.challenge import NONCE_BYTES, TOKEN_BYTES, ChallengeService, expiry_of
from kiosk.verify.verdict import Reason, Refused

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
KEY, OLD_KEY = bytes(range(32)), bytes(range(100, 132))


def counter_random():
    state = {"n": 0}

    def rand(n: int) -> bytes:
        state["n"] += 1
        return state["n"].to_bytes(n, "big")

    return rand


@pytest.fixture
def service() -> ChallengeService:
    return ChallengeService(ttl_s=120, random=counter_random(), keys=[KEY])


def refusal(service, nonce, provider="clinic", terminal="kiosk-1", at=T0) -> Reason:
    with pytest.raises(Refused) as e:
        service.check(nonce, provider, terminal, at)
    return e.value.reason


def test_issue_makes_a_token_around_32_random_bytes_bound_to_terminal(service):
    c = service.issue("clinic", "kiosk-1", T0)
    assert len(c.nonce) == TOKEN_BYTES
    assert c.nonce[1 : 1 + NONCE_BYTES] == (1).to_bytes(NONCE_BYTES, "big")
    assert (c.provider_id, c.terminal_id) == ("clinic", "kiosk-1")
    assert c.expires_at - c.issued_at == timedelta(seconds=120)
    assert service.issue("clinic", "kiosk-1", T0).nonce != c.nonce


def test_check_gives_the_claim_and_stores_nothing(service):
    c = service.issue("clinic", "kiosk-1", T0)
    claim = service.check(c.nonce, "clinic", "kiosk-1", T0 + timedelta(seconds=5))
    assert claim.challenge_id == c.nonce[1 : 1 + NONCE_BYTES]
    assert expiry_of(claim) == c.expires_at
    # stateless: whether it was used is the store's answer when a verdict is recorded with it
    assert service.check(c.nonce, "clinic", "kiosk-1", T0 + timedelta(seconds=6)) == claim


def test_another_service_with_the_same_key_accepts_it():
    """Workers that share the key check each other's challenges (and share one store)."""
    c = ChallengeService(keys=[KEY]).issue("clinic", "kiosk-1", T0)
    claim = ChallengeService(keys=[KEY]).check(c.nonce, "clinic", "kiosk-1", T0)
    assert claim.challenge_id == c.nonce[1 : 1 + NONCE_BYTES]


@pytest.mark.parametrize("bad", ["", "a\x00b", "Yamada Taro", "x" * 65, "-x", "ｸﾘﾆｯｸ"])
def test_issue_refuses_ids_that_are_not_identifiers(service, bad):
    with pytest.raises(ValueError, match="identifiers"):
        service.issue(bad, "kiosk-1", T0)
    with pytest.raises(ValueError, match="identifiers"):
        service.issue("clinic", bad, T0)


def tampered(token: bytes, at: int) -> bytes:
    return token[:at] + bytes([token[at] ^ 1]) + token[at + 1 :]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda c: os.urandom(TOKEN_BYTES), id="random bytes"),
        pytest.param(lambda c: bytes(32), id="32 zero bytes"),
        pytest.param(lambda c: c[:-1], id="truncated"),
        pytest.param(lambda c: c + b"\x00", id="too long"),
        pytest.param(lambda c: tampered(c, len(c) - 20), id="issued tag tampered"),
        pytest.param(lambda c: tampered(c, 5), id="random bytes tampered"),
        pytest.param(lambda c: tampered(c, 36), id="expiry tampered"),
        pytest.param(lambda c: bytes([1]) + c[1:], id="old version (HMAC tags)"),
        pytest.param(lambda c: bytes([3]) + c[1:], id="unknown version"),
    ],
)
def test_unknown(service, make):
    c = service.issue("clinic", "kiosk-1", T0)
    assert refusal(service, make(c.nonce)) is Reason.CHALLENGE_UNKNOWN
    service.check(c.nonce, "clinic", "kiosk-1", T0)  # the genuine one is still good


def test_made_under_another_key_is_unknown():
    c = ChallengeService(keys=[OLD_KEY]).issue("clinic", "kiosk-1", T0)
    assert refusal(ChallengeService(keys=[KEY]), c.nonce) is Reason.CHALLENGE_UNKNOWN


def test_rotation_signs_with_the_first_key_and_accepts_the_others():
    old = ChallengeService(keys=[OLD_KEY]).issue("clinic", "kiosk-1", T0)
    rotated = ChallengeService(keys=[KEY, OLD_KEY])
    rotated.check(old.nonce, "clinic", "kiosk-1", T0)
    new = rotated.issue("clinic", "kiosk-1", T0)
    ChallengeService(keys=[KEY]).check(new.nonce, "clinic", "kiosk-1", T0)
    assert refusal(ChallengeService(keys=[OLD_KEY]), new.nonce) is (Reason.CHALLENGE_UNKNOWN)


def test_bound_tag_tampered_is_foreign(service):
    c = service.issue("clinic", "kiosk-1", T0)
    assert refusal(service, tampered(c.nonce, len(c.nonce) - 1)) is Reason.CHALLENGE_FOREIGN


def test_expired_at_ttl(service):
    c = service.issue("clinic", "kiosk-1", T0)
    late = T0 + timedelta(seconds=120)
    assert refusal(service, c.nonce, at=late) is Reason.CHALLENGE_EXPIRED


def test_a_checked_challenge_past_its_expiry_is_expired(service):
    c = service.issue("clinic", "kiosk-1", T0)
    service.check(c.nonce, "clinic", "kiosk-1", T0)
    late = T0 + timedelta(seconds=121)
    assert refusal(service, c.nonce, at=late) is Reason.CHALLENGE_EXPIRED


def test_just_before_expiry_is_accepted(service):
    c = service.issue("clinic", "kiosk-1", T0)
    service.check(c.nonce, "clinic", "kiosk-1", T0 + timedelta(seconds=119))


@pytest.mark.parametrize(
    ("provider", "terminal"),
    [("shop", "kiosk-1"), ("clinic", "kiosk-2"), ("clinic\x00kiosk-1", ""), ("clinickiosk-1", "")],
)
def test_foreign_provider_or_terminal(service, provider, terminal):
    c = service.issue("clinic", "kiosk-1", T0)
    assert refusal(service, c.nonce, provider, terminal) is Reason.CHALLENGE_FOREIGN
    service.check(c.nonce, "clinic", "kiosk-1", T0)  # still good for its own terminal


def test_short_random_is_refused():
    service = ChallengeService(random=lambda n: b"x", keys=[KEY])
    with pytest.raises(ValueError):
        service.issue("clinic", "kiosk-1", T0)


def test_short_keys_are_refused():
    with pytest.raises(ValueError):
        ChallengeService(keys=[b"short"])
    with pytest.raises(ValueError):
        ChallengeService(keys=[])


def test_key_file_is_made_0600_once_and_reused(tmp_path):
    path = tmp_path / "data" / "challenge.key"
    key = key_file(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_file(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["challenge.key"]


def test_key_file_of_the_wrong_size_is_refused(tmp_path):
    path = tmp_path / "challenge.key"
    path.write_bytes(b"x" * 31)
    with pytest.raises(ConfigError):
        key_file(path)


def test_challenge_keys_from_configuration_or_the_data_dir(tmp_path):
    configured = config.from_mapping({"data_dir": str(tmp_path), "challenge_keys": [KEY.hex()]})
    assert challenge_keys(configured) == [KEY]
    assert challenge_keys(Config(data_dir=tmp_path)) == [(tmp_path / "challenge.key").read_bytes()]
    for bad in (["zz"], [KEY.hex()[:-2]], [], [KEY], "00" * 31):
        with pytest.raises(ConfigError, match="challenge_keys"):
            config.from_mapping({"challenge_keys": bad})
