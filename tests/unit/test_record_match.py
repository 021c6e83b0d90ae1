"""The signature certificate's 4 info against a provider's own record: names compare after the
registries' normalisation (NFKC, spaces, case, kanji variants, variation selectors, an alias),
birth dates exactly, and a mismatch says which field differs and sends the person to the
counter without ever repeating what the card or the record holds."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import date, datetime

import pytest

from kiosk.i18n import LANGUAGES
from kiosk.services.record_match import (
    KANJI_VARIANTS,
    RECORD_MISMATCH,
    MatchField,
    MatchOutcome,
    RecordIdentity,
    RecordMatch,
    match_record,
    name_forms,
    names_match,
    normalise_name,
)
from kiosk.store.roster import PatientRecord
from kiosk.verify.profile import BasicFourInfo

BORN = date(1985, 4, 2)


def person(name: str, birth_date: date = BORN) -> BasicFourInfo:
    """The 4 info of a test card (test data, never a real person)."""
    return BasicFourInfo(
        name=name, address="東京都千代田区試験町1-1", birth_date=birth_date, sex="female"
    )


def record(name: str, kana: str = "", birth_date: date | None = BORN) -> RecordIdentity:
    return RecordIdentity(name=name, name_kana=kana, birth_date=birth_date)


def assert_match(card_name: str, record_name: str, kana: str = "") -> None:
    result = match_record(person(card_name), record(record_name, kana))
    assert result.outcome is MatchOutcome.MATCH, (card_name, record_name, kana)
    assert result.matched
    assert result.differs == frozenset()
    assert result.message is None


def assert_name_differs(card_name: str, record_name: str, kana: str = "") -> None:
    result = match_record(person(card_name), record(record_name, kana))
    assert result.outcome is MatchOutcome.MISMATCH, (card_name, record_name, kana)
    assert result.differs == frozenset({MatchField.NAME})


# --- the plain case -------------------------------------------------------------------------


def test_the_same_name_and_birth_date_match() -> None:
    assert_match("試験\u3000花子", "試験\u3000花子")


def test_a_different_name_is_a_name_mismatch() -> None:
    assert_name_differs("試験\u3000花子", "見本\u3000花子")


def test_a_different_birth_date_is_a_birth_date_mismatch() -> None:
    result = match_record(
        person("試験\u3000花子"), record("試験 花子", birth_date=date(1985, 4, 3))
    )
    assert result.outcome is MatchOutcome.MISMATCH
    assert result.differs == frozenset({MatchField.BIRTH_DATE})
    assert result.message == RECORD_MISMATCH


def test_both_fields_differing_are_both_named() -> None:
    result = match_record(
        person("試験\u3000花子"), record("見本 一郎", birth_date=date(1950, 1, 15))
    )
    assert result.differs == frozenset({MatchField.NAME, MatchField.BIRTH_DATE})


def test_a_record_without_a_birth_date_never_matches() -> None:
    result = match_record(person("試験\u3000花子"), record("試験 花子", birth_date=None))
    assert result.outcome is MatchOutcome.MISMATCH
    assert result.differs == frozenset({MatchField.BIRTH_DATE})


def test_a_date_and_time_is_not_a_birth_date() -> None:
    """A datetime is a date subclass; a record that carries one is wrong, never equal."""
    at_midnight = datetime(BORN.year, BORN.month, BORN.day)
    result = match_record(person("試験 花子"), record("試験 花子", birth_date=at_midnight))
    assert result.differs == frozenset({MatchField.BIRTH_DATE})


def test_a_record_name_that_is_blank_never_matches() -> None:
    assert_name_differs("試験 花子", "\u3000 ")
    assert_name_differs("試験 花子", "")


def test_a_name_of_only_punctuation_matches_nothing() -> None:
    """A name with no letter at all has no comparable form: even itself does not match."""
    assert_name_differs("・・", "・・")
    assert name_forms("()/ ・") == frozenset()


# --- normalisation rules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on_card", "on_record"),
    [
        ("試験\u3000花子", "試験 花子"),  # ideographic space against an ASCII space
        ("試験\u3000花子", "試験花子"),  # no space at all
        ("試験 花子", "試験\t\u00a0 花子"),  # tab, no-break space, several spaces
        ("試験\u3000花子", "\u3000試験\u3000\u3000花子\u3000"),  # leading and trailing
    ],
)
def test_whitespace_of_every_kind_is_removed(on_card: str, on_record: str) -> None:
    assert_match(on_card, on_record)


def test_full_width_latin_letters_compare_as_ascii() -> None:
    assert_match("ＳＭＩＴＨ\u3000ＪＯＨＮ", "SMITH JOHN")


def test_full_width_digits_compare_as_ascii() -> None:
    assert_match("試験\u3000太郎２世", "試験 太郎2世")


def test_half_width_katakana_compare_as_full_width() -> None:
    assert_match("シケン\u3000ハナコ", "ｼｹﾝ ﾊﾅｺ")


def test_a_half_width_voiced_mark_joins_its_kana() -> None:
    """ｶﾞ (two half-width characters) and ガ (one) are the same kana."""
    assert_match("ガクシュウ\u3000ジロウ", "ｶﾞｸｼｭｳ ｼﾞﾛｳ")


def test_a_spacing_voiced_mark_joins_its_kana() -> None:
    """か゛ (U+309B, which NFKC turns into a space and a combining mark) is が once the space
    is gone."""
    assert_match("がくしゅう", "か\u309bくしゅう")


def test_latin_names_compare_without_case() -> None:
    """A foreign resident's card carries the name in capitals; the record may not."""
    assert_match("SMITH JOHN", "Smith John")
    assert_match("SMITH JOHN", "smith john")


def test_case_folding_is_full_not_just_lower() -> None:
    assert_match("STRASSE ANNA", "Straße Anna")


def test_latin_accents_are_ignored() -> None:
    """Residence cards write names as the passport's machine-readable zone does, without
    accents; a record typed from another document may carry them."""
    assert_match("MULLER JOSE", "Müller José")


def test_accents_are_not_stripped_from_kana() -> None:
    """The voiced mark is not an accent: ガ and カ are different kana."""
    assert_name_differs("ガクシュウ", "カクシュウ")


def test_middle_dots_between_the_parts_of_a_name_are_removed() -> None:
    assert_match("ジョン・スミス", "ジョンスミス")
    assert_match("ジョン･スミス", "ジョン・スミス")  # the half-width dot


def test_invisible_characters_are_removed() -> None:
    assert_match("試験\u3000花子", "試\u200b験\ufeff花子")


@pytest.mark.parametrize(
    "selector",
    ["\ufe00", "\ufe0f", "\U000e0100", "\U000e0101", "\U000e01ef"],
)
def test_ideographic_variation_selectors_are_removed(selector: str) -> None:
    assert_match("葛\u3000花子", f"葛{selector}\u3000花子")
    assert_match(f"葛{selector}\u3000花子", "葛 花子")


def test_compatibility_ideographs_fold_by_nfkc() -> None:
    """隆 U+F9DC is the compatibility form of 隆 U+9686; NFKC folds it, no table needed."""
    assert_match("試験\u3000\u9686", "試験 \uf9dc")
    assert "\uf9dc" not in {variant for variant, _, _ in KANJI_VARIANTS}


def test_normalise_name_is_idempotent_on_an_example() -> None:
    once = normalise_name("ＳＭＩＴＨ　Müller（髙橋 﨑子）")
    assert normalise_name(once) == once


# --- kanji variants (異体字) ------------------------------------------------------------------

#: Each variant the table folds, written here independently of the table: removing an entry
#: from the table fails its case.
VARIANT_PAIRS = [
    ("髙", "高"),
    ("\ufa11", "崎"),  # 﨑: a compatibility ideograph that NFKC does not fold
    ("嵜", "崎"),
    ("邊", "辺"),
    ("邉", "辺"),
    ("齋", "斎"),
    ("齊", "斉"),
    ("澤", "沢"),
    ("濱", "浜"),
    ("濵", "浜"),
    ("國", "国"),
    ("廣", "広"),
    ("櫻", "桜"),
    ("德", "徳"),
    ("惠", "恵"),
    ("龍", "竜"),
    ("眞", "真"),
    ("嶋", "島"),
    ("嶌", "島"),
    ("冨", "富"),
    ("瀧", "滝"),
    ("栁", "柳"),
    ("\U00020bb7", "吉"),  # 𠮷 (つちよし), outside the BMP
]


@pytest.mark.parametrize(("variant", "standard"), VARIANT_PAIRS)
def test_a_kanji_variant_matches_its_standard_form(variant: str, standard: str) -> None:
    assert_match(f"{variant}田\u3000花子", f"{standard}田 花子")
    assert_match(f"{standard}田\u3000花子", f"{variant}田 花子")


@pytest.mark.parametrize(("variant", "standard"), VARIANT_PAIRS)
def test_a_kanji_variant_does_not_match_another_character(variant: str, standard: str) -> None:
    assert_name_differs(f"{variant}田\u3000花子", "山田 花子")


def test_two_variants_of_one_character_match_each_other() -> None:
    assert_match("渡邊\u3000花子", "渡邉 花子")
    assert_match("\ufa11田\u3000花子", "嵜田 花子")


def test_every_table_entry_is_tested_here() -> None:
    assert {(v, s) for v, s, _ in KANJI_VARIANTS} == set(VARIANT_PAIRS)


def test_every_table_entry_says_why() -> None:
    assert all(why.strip() for _, _, why in KANJI_VARIANTS)


def test_sai_of_saito_keeps_its_two_distinct_characters() -> None:
    """斎 and 斉 are two characters, not variants of one: 斎藤 and 斉藤 are different names
    (齋 folds to 斎 and 齊 to 斉, each to its own)."""
    assert_name_differs("斎藤\u3000花子", "斉藤 花子")
    assert_name_differs("齋藤\u3000花子", "齊藤 花子")
    assert_match("齋藤\u3000花子", "斎藤 花子")
    assert_match("齊藤\u3000花子", "斉藤 花子")


# --- an alias (通称) or a second form --------------------------------------------------------


@pytest.mark.parametrize(
    "record_name",
    [
        "KIM MINSU",  # the name alone
        "金本 民洙",  # the alias alone
        "Kim Minsu (金本 民洙)",  # both, as the card writes them
    ],
)
def test_a_card_name_with_an_alias_matches_either_form(record_name: str) -> None:
    assert_match("KIM MINSU（金本\u3000民洙）", record_name)


def test_an_alias_does_not_widen_to_other_names() -> None:
    assert_name_differs("KIM MINSU（金本\u3000民洙）", "金本 花子")
    assert_name_differs("KIM MINSU（金本\u3000民洙）", "KIM")


def test_a_name_and_alias_separated_by_a_slash_are_two_forms() -> None:
    assert_match("KIM MINSU／金本\u3000民洙", "金本 民洙")
    assert_match("KIM MINSU/金本\u3000民洙", "KIM MINSU")


def test_a_latin_name_followed_by_a_kanji_name_is_two_forms() -> None:
    """ローマ字表記氏名 漢字表記氏名: a resident from a kanji-using country may carry both."""
    assert_match("WANG XIAOMING 王\u3000小明", "王 小明")
    assert_match("WANG XIAOMING 王\u3000小明", "Wang Xiaoming")
    assert_name_differs("WANG XIAOMING 王\u3000小明", "王 大明")


def test_the_record_side_is_read_the_same_way() -> None:
    """A record that keeps a name and an alias matches a card with either."""
    assert_match("金本\u3000民洙", "KIM MINSU (金本 民洙)")


def test_the_forms_of_a_name() -> None:
    assert name_forms("KIM MINSU（金本\u3000民洙）") == {
        "kimminsu(金本民洙)",
        "kimminsu",
        "金本民洙",
    }


# --- the reading (フリガナ) -------------------------------------------------------------------


def test_a_kana_card_name_matches_the_records_reading() -> None:
    """A name written only in kana on the card is compared with the record's reading too."""
    assert_match("スミス\u3000ジョン", "Smith John", kana="スミス ジョン")


def test_the_reading_folds_hiragana_to_katakana() -> None:
    assert_match("すみす\u3000じょん", "Smith John", kana="スミス ジョン")


def test_the_reading_folds_small_kana_to_full_size() -> None:
    """Readings kept in the half-width kana of older systems have no small kana."""
    assert_match("スミス\u3000ジョン", "Smith John", kana="ｽﾐｽ ｼﾞﾖﾝ")


def test_two_kana_names_compare_as_readings() -> None:
    assert_match("さくら", "サクラ")


def test_a_kanji_card_name_is_not_compared_with_the_reading() -> None:
    """Only a kana name is a reading: 試験 花子 is not シケン ハナコ's reading."""
    assert_name_differs("試験\u3000花子", "見本 花子", kana="シケン ハナコ")


def test_a_different_reading_does_not_match() -> None:
    assert_name_differs("スミス\u3000ジョン", "Smith John", kana="スミス ジェーン")


def test_a_voiced_mark_matters_in_a_reading() -> None:
    assert_name_differs("カトウ", "加藤", kana="ガトウ")


# --- the refusal ------------------------------------------------------------------------------


def test_the_refusal_is_written_in_every_language() -> None:
    for language in LANGUAGES:
        assert RECORD_MISMATCH.get(language).strip()
    assert RECORD_MISMATCH.easy and RECORD_MISMATCH.easy != RECORD_MISMATCH.ja


def test_the_refusal_sends_the_person_to_the_counter() -> None:
    assert "窓口" in RECORD_MISMATCH.ja
    assert "counter" in RECORD_MISMATCH.en
    assert "まどぐち" in RECORD_MISMATCH.easy


def test_the_refusal_does_not_say_which_field_differs() -> None:
    """One text for every mismatch: the screen gives no clue to what the record holds."""
    name_only = match_record(person("試験 花子"), record("見本 花子"))
    date_only = match_record(person("試験 花子"), record("試験 花子", birth_date=date(2000, 1, 1)))
    assert name_only.message == date_only.message == RECORD_MISMATCH


@pytest.mark.parametrize(
    ("card_name", "record_name", "record_born"),
    [
        ("試験\u3000花子", "見本 一郎", date(1950, 1, 15)),
        ("SMITH JOHN", "Smith Jane", date(1985, 4, 3)),
        ("KIM MINSU（金本\u3000民洙）", "金本 花子", None),
    ],
)
def test_the_refusal_never_contains_a_name_or_a_date(
    card_name: str, record_name: str, record_born: date | None
) -> None:
    result = match_record(person(card_name), record(record_name, "ミホン", record_born))
    assert result.message is not None
    secrets = {card_name, record_name, "ミホン", *card_name.replace("（", " ").split()}
    secrets |= {part for part in record_name.split()}
    secrets |= name_forms(card_name) | name_forms(record_name)
    for day in (BORN, record_born):
        if day is not None:
            secrets |= {
                day.isoformat(),
                f"{day.year}年",
                f"{day.month}月{day.day}日",
                day.strftime("%Y%m%d"),
                day.strftime("%Y/%m/%d"),
            }
    for language in LANGUAGES:
        text = result.message.get(language)
        found = {s for s in secrets if s and s in text}
        assert not found, (language, found)
    assert card_name not in repr(result) and record_name not in repr(result)


def test_a_record_identity_never_shows_its_values() -> None:
    shown = repr(record("試験 花子", "シケン ハナコ", BORN)) + str(record("試験 花子"))
    assert "試験" not in shown and "シケン" not in shown and "1985" not in shown


def test_a_record_identity_is_frozen() -> None:
    identity = record("試験 花子")
    with pytest.raises(FrozenInstanceError):
        identity.name = "見本 花子"  # type: ignore[misc]


def test_a_record_identity_is_taken_from_a_patient_record() -> None:
    patient = PatientRecord(
        patient_number="P-0001",
        name="試験 花子",
        name_kana="シケン ハナコ",
        birth_date=BORN,
        insurer="",
        symbol="",
        number="",
        branch="",
    )
    identity = RecordIdentity.of(patient)
    assert identity == record("試験 花子", "シケン ハナコ", BORN)
    assert match_record(person("試験\u3000花子"), identity).matched


# --- the result type --------------------------------------------------------------------------


def test_a_match_carries_no_differing_field() -> None:
    with pytest.raises(ValueError, match="match"):
        RecordMatch(MatchOutcome.MATCH, frozenset({MatchField.NAME}))


def test_a_mismatch_names_at_least_one_field() -> None:
    with pytest.raises(ValueError, match="mismatch"):
        RecordMatch(MatchOutcome.MISMATCH, frozenset())


def test_names_match_is_symmetric_without_a_reading() -> None:
    pairs = [
        ("KIM MINSU（金本 民洙）", "金本 民洙"),
        ("髙橋 花子", "高橋 花子"),
        ("さくら", "サクラ"),
        ("試験 花子", "見本 花子"),
    ]
    for a, b in pairs:
        assert names_match(a, b) == names_match(b, a)
