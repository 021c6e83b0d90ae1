"""The screen texts: complete in every language, used by the UI, and the .ts files in sync."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk.flow.texts import TEXTS, TS_FILES, all_messages
from kiosk.i18n import LANGUAGES, Text, ts_document

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_every_text_exists_in_every_language(key):
    for language in LANGUAGES:
        assert TEXTS[key].get(language).strip()


def test_placeholders_agree_across_languages():
    for key, message in all_messages().items():
        fields = {lang: set(re.findall(r"{(\w+)}", message.get(lang))) for lang in LANGUAGES}
        assert fields["ja"] == fields["en"] == fields["ja-easy"], key


def test_every_key_the_ui_uses_exists():
    used = set()
    for path in (ROOT / "kiosk" / "ui").glob("*.py"):
        used |= set(re.findall(r'self\.t\(\s*"([a-z_.]+)"', path.read_text(encoding="utf-8")))
        used |= set(re.findall(r'\btext\("([a-z_.]+)"\)', path.read_text(encoding="utf-8")))
    assert used, "the pattern found nothing"
    assert used <= set(TEXTS), sorted(used - set(TEXTS))


@pytest.mark.parametrize("language", sorted(TS_FILES))
def test_ts_sources_are_in_sync_with_the_catalogue(language):
    path = ROOT / "resources" / "i18n" / TS_FILES[language]
    expected = ts_document(language, all_messages())
    assert path.read_text(encoding="utf-8") == expected, (
        "resources/i18n is stale: run `python -m kiosk.flow.texts resources/i18n`"
    )


def test_ts_escapes_markup():
    doc = ts_document("en", {"k": Text("a<b&c", "x>y")})
    assert "<source>a&lt;b&amp;c</source>" in doc and "<translation>x&gt;y</translation>" in doc
