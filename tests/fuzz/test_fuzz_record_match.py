"""Fuzz the comparison of the card's 4 info with a provider's record: it never raises, its
answer is consistent, and the name relation behaves like one.

Names are drawn from a small alphabet chosen to hit every rule (kanji and their variants,
compatibility ideographs, kana in three forms and with voiced marks, Latin letters in both
widths and with accents, every kind of space, parentheses, slashes, middle dots, variation
selectors, invisible characters), mixed with arbitrary text. What each case asserts:
- `match_record` returns a RecordMatch, never raises; MATCH exactly when no field differs;
  the birth date differs exactly when the dates are not the same date;
- names compare symmetrically when the record has no reading (swap the names, same answer);
- a name that has a comparable form matches itself, and still does after normalisation;
- `normalise_name` is idempotent;
- a mismatch's text is the one fixed refusal, so it can never hold a name or a date.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fuzz.budget import FUZZ
from kiosk.services.record_match import (
    RECORD_MISMATCH,
    MatchField,
    MatchOutcome,
    RecordIdentity,
    match_record,
    name_forms,
    names_match,
    normalise_name,
)
from kiosk.verify.profile import BasicFourInfo

pytestmark = pytest.mark.fuzz

ALPHABET = (
    "高髙崎\ufa11嵜辺邊邉斎齋斉齊沢澤浜濱濵国國島嶋嶌吉\U00020bb7隆\uf9dc試験花子"
    "やまだヤマダｶﾞｸﾊﾞゃャッっゝゞヽヾー\u3099\u309b\u309c"
    "AaZzＳｍéÉüßſİı'-."
    " \u3000\t\u00a0\u200b\ufeff"
    "()（）/／・･·,"
    "\ufe00\ufe0f\U000e0100\U000e01ef"
)
names = st.one_of(
    st.text(st.sampled_from(ALPHABET), max_size=12),
    st.text(max_size=12),
)
#: Readings: kana in every form, spaces and dots, or nothing.
readings = st.text(st.sampled_from("やまだヤマダｶﾞｸﾊﾞゃャッっゝゞヽヾー\u3099\u309b ・"), max_size=8)
#: Few dates, so that the card's and the record's are often the same and the name decides.
DAYS = (date(1985, 4, 2), date(1985, 4, 3), date(2000, 2, 29))
days = st.sampled_from(DAYS)


def _person(name: str, born: date) -> BasicFourInfo | None:
    """The card's 4 info, or None when the name is one the certificate profile refuses."""
    if not name.strip():
        return None
    return BasicFourInfo(
        name=name, address="東京都千代田区試験町1-1", birth_date=born, sex="unknown"
    )


@FUZZ
@given(
    card_name=names,
    record_name=names,
    kana=readings,
    born=days,
    record_born=st.one_of(st.none(), days),
)
@example(
    card_name="KIM MINSU（金本\u3000民洙）",
    record_name="金本 民洙",
    kana="",
    born=date(1985, 4, 2),
    record_born=date(1985, 4, 2),
)
@example(card_name="(", record_name=")", kana="", born=date(2000, 1, 1), record_born=None)
def test_match_record_is_total_and_consistent(
    card_name: str, record_name: str, kana: str, born: date, record_born: date | None
) -> None:
    person = _person(card_name, born)
    if person is None:
        return
    result = match_record(person, RecordIdentity(record_name, kana, record_born))
    assert (result.outcome is MatchOutcome.MATCH) == (not result.differs)
    assert (MatchField.BIRTH_DATE in result.differs) == (record_born != born)
    assert (MatchField.NAME in result.differs) == (not names_match(card_name, record_name, kana))
    assert result.message is (None if result.matched else RECORD_MISMATCH)


@FUZZ
@given(a=names, b=names)
@example(a="WANG XIAOMING 王\u3000小明", b="Wang Xiaoming")
@example(a="さくら", b="サクラ")
def test_names_compare_symmetrically_without_a_reading(a: str, b: str) -> None:
    assert names_match(a, b) == names_match(b, a)
    born = date(1985, 4, 2)
    pa, pb = _person(a, born), _person(b, born)
    if pa is not None and pb is not None:
        there = match_record(pa, RecordIdentity(b, "", born)).matched
        back = match_record(pb, RecordIdentity(a, "", born)).matched
        assert there == back


@FUZZ
@given(name=names)
@example(name="か\u309bくしゅう")
@example(name="ＳＭＩＴＨ　Müller（髙橋 \ufa11子）")
def test_a_name_matches_itself_and_its_normal_form(name: str) -> None:
    normal = normalise_name(name)
    assert normalise_name(normal) == normal
    if name_forms(name):
        assert names_match(name, name)
    if normal and any(c.isalpha() for c in normal) and "(" not in name and "（" not in name:
        assert names_match(name, normal)
