"""Languages the kiosk speaks and one piece of text in each of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Language = Literal["ja", "en", "ja-easy"]
LANGUAGES: tuple[Language, ...] = ("ja", "en", "ja-easy")


@dataclass(frozen=True, slots=True)
class Text:
    """One message in Japanese, English and やさしい日本語 (plain Japanese)."""

    ja: str
    en: str
    easy: str = ""  # empty: same as ja

    def get(self, language: Language) -> str:
        """The message in that language; `{name}` fields are left for `format`."""
        if language == "en":
            return self.en
        if language == "ja-easy":
            return self.easy or self.ja
        return self.ja

    def format(self, language: Language, **fields: object) -> str:
        """The message in that language with its `{name}` fields filled in."""
        return self.get(language).format(**fields)


def plain(value: str) -> Text:
    """A text that reads the same in every language (numbers, names, identifiers)."""
    return Text(value, value, value)
