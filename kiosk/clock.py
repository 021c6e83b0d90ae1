"""The wall clock and Japan's time zone, in one place for every layer.

Code below the composition root takes its clock as a parameter (a `Callable[[], datetime]`)
so tests never sleep or patch; these are the defaults the wiring passes in. The kiosk stands
in Japan: dates a person sees or a service asks about (today's eligibility, a code's expiry)
are Japan's, and Japan keeps no summer time, so a fixed +09:00 offset is exact.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Final

#: Japan Standard Time, UTC+09:00 all year.
JST: Final = timezone(timedelta(hours=9), "JST")


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC (what is stored, signed and compared)."""
    return datetime.now(UTC)


def japan_today() -> date:
    """Today's date in Japan (a UTC date would be yesterday's before 09:00 JST)."""
    return datetime.now(JST).date()
