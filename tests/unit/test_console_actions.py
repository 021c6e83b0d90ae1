"""The console's pure parts (kiosk/platform/console_actions.py): which CRLs are stale (as the
verifier refuses them), the verdicts laid out by hour and reason, ages as an operator reads
them, times typed in a form, and the form helpers' refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kiosk.platform.console_actions import (
    FormError,
    age_text,
    check_lengths,
    crl_rows,
    one,
    parse_time,
    same_token,
    verdict_table,
)
from kiosk.store.reports import HourlyCount
from kiosk.verify.ports import CrlInfo

NOW = datetime(2026, 12, 3, 10, 15, tzinfo=UTC)


class Crls:
    def __init__(self, *infos: CrlInfo) -> None:
        self.infos = list(infos)

    def all_info(self) -> list[CrlInfo]:
        return self.infos


def crl(key_id: str, next_update: datetime | None) -> CrlInfo:
    return CrlInfo(key_id, NOW - timedelta(hours=25), next_update, 7, 3)


def test_a_crl_past_its_next_update_and_grace_is_marked_stale():
    crls = Crls(
        crl("aa", NOW + timedelta(hours=1)),  # fresh
        crl("bb", NOW - timedelta(minutes=5)),  # past, but within 10 minutes' grace
        crl("cc", NOW - timedelta(minutes=11)),  # past the grace
        crl("dd", None),  # no nextUpdate: the verifier refuses it
    )

    rows = crl_rows(crls, NOW, grace_s=600)

    assert [(r.issuer_key_id, r.stale) for r in rows] == [
        ("aa", False),
        ("bb", False),
        ("cc", True),
        ("dd", True),
    ]
    assert rows[0].age == "1 d 1 h"


def test_verdicts_are_laid_out_every_hour_with_a_column_per_reason():
    since = NOW.replace(minute=0) - timedelta(hours=2)
    counts = [
        HourlyCount(since, "ok", 5),
        HourlyCount(since + timedelta(hours=2), "ok", 1),
        HourlyCount(since + timedelta(hours=2), "crl_stale", 2),
    ]

    table = verdict_table(counts, since, 3)

    assert table.reasons == ("crl_stale", "ok")
    assert [(hour.hour, values, total) for hour, values, total in table.rows] == [
        (8, (0, 5), 5),
        (9, (0, 0), 0),  # an hour without verdicts is a row of zeros
        (10, (2, 1), 3),
    ]
    assert (table.totals, table.total) == ((2, 6), 8)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=40), "40 s"),
        (timedelta(minutes=5, seconds=3), "5 min"),
        (timedelta(hours=5, minutes=2), "5 h 2 min"),
        (timedelta(days=3, hours=4, minutes=9), "3 d 4 h"),
        (timedelta(seconds=-1), "in the future"),
    ],
)
def test_ages_read_as_an_operator_reads_them(delta, text):
    assert age_text(delta) == text


def test_times_are_read_as_utc_in_the_forms_a_browser_sends():
    assert parse_time("2026-12-03T10:15", "start") == NOW
    assert parse_time(" 2026-12-03T10:15:00 ", "start") == NOW
    assert parse_time("2026-12-03", "start") == NOW.replace(hour=0, minute=0)
    for bad in ("", "yesterday", "2026-02-30T00:00", "2026-12-03T25:00", "10:15"):
        with pytest.raises(FormError, match="not a time"):
            parse_time(bad, "start")


def test_the_form_helpers_refuse_what_a_browser_would_not_send():
    assert one({"a": ["x"]}, "a") == "x" and one({}, "a") == ""
    with pytest.raises(FormError, match="more than once"):
        one({"a": ["x", "y"]}, "a")
    check_lengths({"password": ["p" * 1024], "name": ["n" * 200]})
    with pytest.raises(FormError, match="'name' is too long"):
        check_lengths({"name": ["n" * 201]})
    assert same_token("abc", "abc") and not same_token("", "") and not same_token("abd", "abc")
