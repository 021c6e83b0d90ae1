"""Does a provider's own record belong to the person whose card this is?

Enrolment links a card to a record the clinic or the insurer already has (a patient number, a
member number). Before it does, the 4 info of the signature certificate are compared with the
record's own name and birth date, the way the registries compare names: the same person's
name is written in many ways that are one name to a registry clerk — full-width or half-width
letters, an ideographic or an ASCII space, capitals or not, an old or a variant form of a kanji
(異体字: 髙/高, 邊/辺), a variation selector after a kanji, a foreign resident's alias (通称) next
to the name. `match_record` folds those differences away and compares what is left; birth
dates compare exactly. Anything it cannot settle is a mismatch: the person is sent to the
counter (the staff path), never linked on a guess. docs/record-matching.md says where each
rule comes from.

Pure functions: no I/O, no clock, no logging (the values are personal data, and nothing here
ever writes them anywhere: the refusal text is one fixed text, whatever differed).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Final, Protocol

from kiosk.i18n import Text
from kiosk.verify.profile import BasicFourInfo

# --- the record and the result --------------------------------------------------------------


class HasIdentity(Protocol):
    """A provider's record that carries a name, its reading and a birth date
    (kiosk.store.roster.PatientRecord and RosterMember do)."""

    @property
    def name(self) -> str: ...

    @property
    def name_kana(self) -> str: ...

    @property
    def birth_date(self) -> date | None: ...


@dataclass(frozen=True, slots=True)
class RecordIdentity:
    """What a provider's record says about who it belongs to; its repr shows none of it.

    `name_kana` is the record's reading (フリガナ), "" when it has none; `birth_date` is None
    when the record has none, and such a record never matches."""

    name: str = field(repr=False)
    name_kana: str = field(default="", repr=False)
    birth_date: date | None = field(default=None, repr=False)

    @classmethod
    def of(cls, record: HasIdentity) -> RecordIdentity:
        """The identity part of a store record (a patient, a roster member)."""
        return cls(record.name, record.name_kana, record.birth_date)


class MatchOutcome(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"


class MatchField(StrEnum):
    """A field of the record that did not match the card (for the audit and the staff)."""

    NAME = "name"
    BIRTH_DATE = "birth_date"


#: What the person reads when the record does not match: one text for every mismatch, so the
#: screen neither repeats a value nor hints at what the record holds.
RECORD_MISMATCH: Final = Text(
    "カードの情報と、こちらでお預かりしている記録が一致しませんでした。"
    "お手数ですが、受付窓口の係員にお声がけください。",
    "The details on your card do not match the record we hold. "
    "Please ask a member of staff at the reception counter.",
    "カードの じょうほうと、ここに ある きろくが おなじでは ありませんでした。"
    "うけつけの まどぐちで かかりの ひとに はなして ください。",
)


@dataclass(frozen=True, slots=True)
class RecordMatch:
    """MATCH, or MISMATCH with the record's fields that differ from the card."""

    outcome: MatchOutcome
    differs: frozenset[MatchField] = frozenset()

    def __post_init__(self) -> None:
        if self.outcome is MatchOutcome.MATCH and self.differs:
            raise ValueError("a match has no differing field")
        if self.outcome is MatchOutcome.MISMATCH and not self.differs:
            raise ValueError("a mismatch names the fields that differ")

    @property
    def matched(self) -> bool:
        return self.outcome is MatchOutcome.MATCH

    @property
    def message(self) -> Text | None:
        """What the person reads on a mismatch (go to the counter); None on a match."""
        return None if self.matched else RECORD_MISMATCH


def match_record(person: BasicFourInfo, record: RecordIdentity) -> RecordMatch:
    """Compare the card's name and birth date with the record's.

    The name matches when one form of the card's name equals one form of the record's after
    normalisation (`name_forms`), or, when the card's name is written in kana, its reading
    equals the record's reading. The birth date matches only when both are dates and equal."""
    differs: set[MatchField] = set()
    if not names_match(person.name, record.name, record.name_kana):
        differs.add(MatchField.NAME)
    if not _same_day(person.birth_date, record.birth_date):
        differs.add(MatchField.BIRTH_DATE)
    if differs:
        return RecordMatch(MatchOutcome.MISMATCH, frozenset(differs))
    return RecordMatch(MatchOutcome.MATCH)


def _same_day(a: object, b: object) -> bool:
    """Both are calendar dates (a datetime is not) and the same day; None is never equal."""
    for day in (a, b):
        if not isinstance(day, date) or isinstance(day, datetime):
            return False
    return a == b


# --- kanji variants (異体字) ------------------------------------------------------------------

#: Kanji that the registries treat as one character in a person's name, as (variant, standard
#: form, why). Each variant is folded to its standard form on both sides before comparing.
#: A character is folded only to the one it is a variant of: 齋 → 斎 and 齊 → 斉, but 斎 and
#: 斉 stay two characters (斎藤 and 斉藤 are different names). Compatibility ideographs that
#: NFKC already folds (隆 U+F9DC → 隆) are not listed; 﨑 U+FA11 is, as NFKC leaves it alone.
KANJI_VARIANTS: Final[tuple[tuple[str, str, str], ...]] = (
    ("髙", "高", "はしご高: a 俗字 of 高, unified with it by JIS (MJ縮退マップ)"),
    ("\ufa11", "崎", "﨑 (たつさき), U+FA11: a variant of 崎 that NFKC does not fold"),
    ("嵜", "崎", "a variant of 崎 (山 above 奇) common in surnames"),
    ("邊", "辺", "the old form (旧字体) of 辺"),
    ("邉", "辺", "a variant of 邊, the old form of 辺"),
    ("齋", "斎", "the old form of 斎 (not of 斉)"),
    ("齊", "斉", "the old form of 斉 (not of 斎); 人名用漢字 別表第二の二"),
    ("澤", "沢", "the old form of 沢"),
    ("濱", "浜", "the old form of 浜"),
    ("濵", "浜", "a variant of 濱, the old form of 浜"),
    ("國", "国", "the old form of 国; 人名用漢字 別表第二の二"),
    ("廣", "広", "the old form of 広; 人名用漢字 別表第二の二"),
    ("櫻", "桜", "the old form of 桜; 人名用漢字 別表第二の二"),
    ("德", "徳", "德 U+5FB7, the form of 徳 with 一 in the right part; 人名用漢字 別表第二の二"),
    ("惠", "恵", "the old form of 恵; 人名用漢字 別表第二の二"),
    ("龍", "竜", "the old form of 竜; 人名用漢字 別表第二の二"),
    ("眞", "真", "the old form of 真; 人名用漢字 別表第二の二"),
    ("嶋", "島", "a variant of 島; 人名用漢字 別表第二の二"),
    ("嶌", "島", "a variant of 島 (山 above 鳥)"),
    ("冨", "富", "a variant of 富 without the dot; 人名用漢字 別表第二の二"),
    ("瀧", "滝", "the old form of 滝; 人名用漢字 別表第二の二"),
    ("栁", "柳", "a variant of 柳 common in surnames"),
    ("\U00020bb7", "吉", "𠮷 (つちよし), U+20BB7: a variant of 吉 outside JIS X 0208"),
)

_VARIANT_FOLD: Final = str.maketrans({v: s for v, s, _ in KANJI_VARIANTS})

# --- normalisation ----------------------------------------------------------------------------

#: Ideographic variation selectors (U+E0100–U+E01EF) and the standardized ones (U+FE00–FE0F):
#: they choose a glyph, not a character.
_VARIATION_SELECTOR = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
#: Characters between the parts of a name that are not part of it: middle dots (・ and ·,
#: which NFKC gives for the half-width ･) and commas ("SMITH, JOHN").
_SEPARATORS: Final = frozenset("\u30fb\u00b7,")
#: An alias in parentheses (full-width parentheses are ASCII after NFKC).
_ALIAS = re.compile(r"\(([^()]*)\)")
#: A run of Latin letters (with the spaces, hyphens, apostrophes and dots inside a name).
_LATIN_RUN = re.compile(
    r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff][A-Za-z\u00c0-\u024f\u1e00-\u1eff\s'.\-]*"
)


def _fold(text: str) -> str:
    """NFKC, variation selectors removed, kanji variants folded: the text still has its
    spaces, so a name's parts and forms can be told apart."""
    text = unicodedata.normalize("NFKC", text)
    return _VARIATION_SELECTOR.sub("", text).translate(_VARIANT_FOLD)


def _is_dropped(c: str) -> bool:
    """Whitespace, an invisible character (control, format) or a separator."""
    return c.isspace() or c in _SEPARATORS or unicodedata.category(c) in ("Cc", "Cf")


def _without_latin_accents(text: str) -> str:
    """Drop the combining marks that follow an ASCII letter (é → e); a kana's voiced mark
    follows a kana and stays."""
    kept: list[str] = []
    base_is_ascii = False
    for c in unicodedata.normalize("NFD", text):
        if unicodedata.combining(c):
            if base_is_ascii:
                continue
        else:
            base_is_ascii = c.isascii()
        kept.append(c)
    return unicodedata.normalize("NFC", "".join(kept))


def _key(folded: str) -> str:
    """The comparable form of one already folded name: no spaces, separators or invisible
    characters, case folded, no accents on Latin letters."""
    text = "".join(c for c in folded if not _is_dropped(c)).casefold()
    return _without_latin_accents(text)


def normalise_name(name: str) -> str:
    """A whole name as compared: NFKC, variants folded, no spaces, case folded."""
    return _key(_fold(name))


def _scripts(segment: str) -> list[str]:
    """A segment's Latin part and its other part, when it has both (ローマ字表記氏名 followed by
    漢字表記氏名); else nothing."""
    latin = " ".join(_LATIN_RUN.findall(segment))
    rest = _LATIN_RUN.sub(" ", segment)
    if latin and any(c.isalpha() for c in rest):
        return [latin, rest]
    return []


def name_forms(name: str) -> frozenset[str]:
    """Every form a name may be matched by, normalised: the whole name; the name outside
    parentheses and each alias inside them; each part between slashes; and, for a part in
    both Latin letters and kanji or kana, each of the two. A form with no letter is dropped."""
    folded = _fold(name)
    parts: list[str] = []
    for part in (_ALIAS.sub(" ", folded), *_ALIAS.findall(folded)):
        parts += [part, *part.split("/")]
    for part in list(parts):
        parts += _scripts(part)
    keys = (_key(segment) for segment in (folded, *parts))
    return frozenset(k for k in keys if any(c.isalpha() for c in k))


# --- readings (フリガナ) ----------------------------------------------------------------------

_HIRAGANA_TO_KATAKANA: Final = {code: code + 0x60 for code in range(0x3041, 0x3097)} | {
    0x309D: 0x30FD,  # ゝ → ヽ
    0x309E: 0x30FE,  # ゞ → ヾ
}
#: Small kana to their full-size kana: readings kept in older systems' half-width kana (which
#: have no small ッ ャ ュ ョ in the bank-transfer alphabet) write them full size.
_SMALL_TO_FULL: Final = str.maketrans(
    "ァィゥェォッャュョヮヵヶ",
    "アイウエオツヤユヨワカケ",
)
_KANA = re.compile("[\u3041-\u3096\u309d\u309e\u30a1-\u30fa\u30fc-\u30fe]+")


def _is_kana(key: str) -> bool:
    return _KANA.fullmatch(key) is not None


def reading_key(kana: str) -> str:
    """A normalised reading: katakana, small kana full size."""
    return kana.translate(_HIRAGANA_TO_KATAKANA).translate(_SMALL_TO_FULL)


def _readings(forms: frozenset[str]) -> set[str]:
    return {reading_key(form) for form in forms if _is_kana(form)}


def names_match(card_name: str, record_name: str, record_kana: str = "") -> bool:
    """Whether two names are one person's: a form in common (`name_forms`), or a reading in
    common — the kana forms of either name, and the record's reading (`record_kana`).

    Without a reading the relation is symmetric: swapping the two names gives the same answer."""
    card = name_forms(card_name)
    record = name_forms(record_name)
    if card & record:
        return True
    record_readings = _readings(record)
    if record_kana:
        record_readings |= _readings(name_forms(record_kana))
    return bool(_readings(card) & record_readings)
