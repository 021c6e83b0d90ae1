"""The ground floor's clock: UTC for what is stored and signed, Japan's date for people."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import kiosk.clock
from kiosk.clock import JST, japan_today, utc_now


class _FrozenAt(datetime):
    """A `datetime` whose `now` is one fixed moment (in whatever zone is asked for)."""

    moment = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)

    @classmethod
    def now(cls, tz=None):
        return cls.moment.astimezone(tz)


def test_utc_now_is_aware_and_in_utc():
    now = utc_now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


def test_japan_is_nine_hours_ahead_all_year_and_says_jst():
    for month in (1, 7):  # no summer time
        assert datetime(2026, month, 1, tzinfo=JST).utcoffset() == timedelta(hours=9)
    assert JST.tzname(None) == "JST"


def test_today_in_japan_turns_at_midnight_jst_not_utc(monkeypatch):
    monkeypatch.setattr(kiosk.clock, "datetime", _FrozenAt)
    assert japan_today() == date(2026, 4, 1)  # 01:00 JST, still the 31st in UTC
    monkeypatch.setattr(_FrozenAt, "moment", datetime(2026, 3, 31, 14, 59, tzinfo=UTC))
    assert japan_today() == date(2026, 3, 31)  # 23:59 JST
