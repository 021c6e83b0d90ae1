""" "More time" (issue 17): every countdown doubles on request, up to the operator's limit."""

from __future__ import annotations

import pytest

from kiosk.flow.errors_catalogue import Problem, ProblemCode
from kiosk.flow.machine import (
    Done,
    MoreTime,
    ReaderChanged,
    ReaderStatus,
    Screen,
    Start,
    SubmitPin,
    Tick,
    WorkFailed,
    more_time_offered,
)
from tests.unit.test_flow import NOW, Driver, at_pin, make_flow


def test_more_time_doubles_the_idle_countdown_from_the_moment_asked():
    d = at_pin().send(MoreTime(), at=NOW + 50)
    assert d.state.idle_deadline == NOW + 50 + 120
    d.send(Tick(), at=NOW + 50 + 119)
    assert d.screen is Screen.PIN
    d.send(Tick(), at=NOW + 50 + 120)
    assert d.screen is Screen.ATTRACT


def test_the_doubled_time_lasts_for_the_rest_of_the_visit():
    d = at_pin().send(MoreTime()).send(MoreTime())
    assert d.state.time_factor == 4
    d.send(ReaderChanged(ReaderStatus.READY), at=NOW + 1)  # card pulled at the PIN pad
    assert d.screen is Screen.PUT_BACK
    assert d.state.countdown_deadline == NOW + 1 + 30 * 4


def test_more_time_on_the_put_back_countdown_restarts_it_doubled():
    d = at_pin().send(ReaderChanged(ReaderStatus.READY))
    d.send(MoreTime(), at=NOW + 20)
    assert d.state.countdown_deadline == NOW + 20 + 60
    d.send(Tick(), at=NOW + 20 + 59)
    assert d.screen is Screen.PUT_BACK


def test_more_time_stops_at_the_operators_limit():
    d = at_pin(make_flow(more_time_limit=4))
    assert more_time_offered(d.flow.config, d.state)
    d.send(MoreTime()).send(MoreTime())
    assert d.state.time_factor == 4
    assert not more_time_offered(d.flow.config, d.state)
    before = d.state
    d.send(MoreTime(), at=NOW + 10)
    assert d.state == before  # refused: nothing moves


def test_a_limit_of_one_offers_no_more_time():
    d = at_pin(make_flow(more_time_limit=1))
    assert not more_time_offered(d.flow.config, d.state)
    d.send(MoreTime())
    assert d.state.time_factor == 1 and d.state.idle_deadline == NOW + 60


def test_the_next_visit_starts_with_the_configured_times():
    d = at_pin().send(MoreTime())
    d.send(Tick(), at=NOW + 1000)  # idle: back to the start, wiped
    assert d.screen is Screen.ATTRACT and d.state.time_factor == 1
    d.send(ReaderChanged(ReaderStatus.READY), at=NOW + 1001)  # the card leaves with them
    d.send(Start(), at=NOW + 1002)
    assert d.state.idle_deadline == NOW + 1002 + 60


def test_the_same_person_reading_an_error_keeps_their_time():
    d = at_pin().send(MoreTime()).send(SubmitPin("1234"))
    d.send(WorkFailed(d.state.work_id, Problem(ProblemCode.CARD_ERROR)))
    assert d.screen is Screen.ERROR and d.state.time_factor == 2
    d.send(Done())  # the card is still in: take it, same person
    assert d.screen is Screen.TAKE_CARD and d.state.time_factor == 2


def test_more_time_without_a_countdown_changes_nothing():
    d = Driver(make_flow())
    before = d.state
    assert before.idle_deadline is None
    d.send(MoreTime())
    assert d.state == before


# --- the operator's limit: configuration -------------------------------------------------


def test_the_limit_is_configured_and_reaches_the_flow():
    from kiosk import config
    from kiosk.app import flow_config
    from kiosk.services.identity import IdentityService

    cfg = config.load(None, env={"KIOSK_MORE_TIME_LIMIT": "8"})
    assert cfg.more_time_limit == 8
    assert flow_config(cfg, {"identity": IdentityService()}).more_time_limit == 8
    assert config.Config().more_time_limit == 4


@pytest.mark.parametrize("limit", ["0", "32", "lots"])
def test_a_limit_out_of_range_is_refused(limit):
    from kiosk import config

    with pytest.raises(config.ConfigError, match="more_time_limit"):
        config.load(None, env={"KIOSK_MORE_TIME_LIMIT": limit})
