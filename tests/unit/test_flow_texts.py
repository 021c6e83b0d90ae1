"""The screen texts: complete in every language and used by the UI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk.flow.texts import TEXTS
from kiosk.i18n import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_every_text_exists_in_every_language(key):
    for language in LANGUAGES:
        assert TEXTS[key].get(language).strip()


def test_placeholders_agree_across_languages():
    for key, message in TEXTS.items():
        fields = {lang: set(re.findall(r"{(\w+)}", message.get(lang))) for lang in LANGUAGES}
        assert fields["ja"] == fields["en"] == fields["ja-easy"], key


def test_every_key_the_ui_uses_exists():
    used = set()
    for path in (ROOT / "kiosk" / "ui").glob("*.py"):
        used |= set(re.findall(r'self\.t\(\s*"([a-z_.]+)"', path.read_text(encoding="utf-8")))
        used |= set(re.findall(r'\btext\("([a-z_.]+)"\)', path.read_text(encoding="utf-8")))
    assert used, "the pattern found nothing"
    assert used <= set(TEXTS), sorted(used - set(TEXTS))
