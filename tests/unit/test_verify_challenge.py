from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kiosk.verify.challenge import ChallengeService
from kiosk.verify.memory import MemoryChallengeStore
from kiosk.verify.verdict import Reason, Refused

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def counter_random():
    state = {"n": 0}

    def rand(n: int) -> bytes:
        state["n"] += 1
        return state["n"].to_bytes(n, "big")

    return rand


@pytest.fixture
def service() -> ChallengeService:
    return ChallengeService(MemoryChallengeStore(), ttl_s=120, random=counter_random())


def refusal(fn) -> Reason:
    with pytest.raises(Refused) as e:
        fn()
    return e.value.reason


def test_issue_makes_32_byte_nonce_bound_to_terminal(service):
    c = service.issue("clinic", "kiosk-1", T0)
    assert len(c.nonce) == 32
    assert (c.provider_id, c.terminal_id) == ("clinic", "kiosk-1")
    assert c.expires_at - c.issued_at == timedelta(seconds=120)
    assert service.issue("clinic", "kiosk-1", T0).nonce != c.nonce


def test_redeem_once_then_replayed(service):
    c = service.issue("clinic", "kiosk-1", T0)
    assert service.redeem(c.nonce, "clinic", "kiosk-1", T0 + timedelta(seconds=5)) == c
    reason = refusal(lambda: service.redeem(c.nonce, "clinic", "kiosk-1", T0))
    assert reason is Reason.CHALLENGE_REPLAYED


def test_unknown(service):
    reason = refusal(lambda: service.redeem(bytes(32), "clinic", "kiosk-1", T0))
    assert reason is Reason.CHALLENGE_UNKNOWN


def test_expired_at_ttl(service):
    c = service.issue("clinic", "kiosk-1", T0)
    late = T0 + timedelta(seconds=120)
    assert refusal(lambda: service.redeem(c.nonce, "clinic", "kiosk-1", late)) is (
        Reason.CHALLENGE_EXPIRED
    )


def test_just_before_expiry_is_accepted(service):
    c = service.issue("clinic", "kiosk-1", T0)
    service.redeem(c.nonce, "clinic", "kiosk-1", T0 + timedelta(seconds=119))


@pytest.mark.parametrize(("provider", "terminal"), [("shop", "kiosk-1"), ("clinic", "kiosk-2")])
def test_foreign_provider_or_terminal(service, provider, terminal):
    c = service.issue("clinic", "kiosk-1", T0)
    reason = refusal(lambda: service.redeem(c.nonce, provider, terminal, T0))
    assert reason is Reason.CHALLENGE_FOREIGN
    # the attempt used it up: the rightful terminal cannot use it afterwards
    reason = refusal(lambda: service.redeem(c.nonce, "clinic", "kiosk-1", T0))
    assert reason is Reason.CHALLENGE_REPLAYED


def test_short_random_is_refused():
    service = ChallengeService(MemoryChallengeStore(), random=lambda n: b"x")
    with pytest.raises(ValueError):
        service.issue("clinic", "kiosk-1", T0)
