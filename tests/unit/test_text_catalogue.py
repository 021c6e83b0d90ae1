"""Every text the kiosk shows exists in ja, en and やさしい日本語, and the screens take theirs
from the catalogue.

The catalogue is every `Text(...)` written in the kiosk package: the screens' own in
kiosk/flow/texts.py, the error catalogue's, and each service's titles, descriptions, consent
items, result labels and messages (kiosk/services/*.py). This test reads them from the source,
so a new text written with only one or two languages fails here before anyone sees the screen.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KIOSK = ROOT / "kiosk"
FIELDS = ("ja", "en", "easy")


def _text_calls(tree: ast.AST) -> list[ast.Call]:
    """The calls of `Text(...)` (or its alias `T(...)`) in one module."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("Text", "T")
    ]


def _languages(call: ast.Call) -> dict[str, ast.expr]:
    """The call's arguments by Text field (positional or by keyword)."""
    found = dict(zip(FIELDS, call.args, strict=False))
    found.update({kw.arg: kw.value for kw in call.keywords if kw.arg in FIELDS})
    return found


def _constant(node: ast.expr) -> str | None:
    """A string literal's value (implicit concatenation included); None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _all_text_calls() -> list[tuple[str, ast.Call]]:
    calls = []
    for path in sorted(KIOSK.rglob("*.py")):
        if path == KIOSK / "i18n.py":
            continue  # the type itself: `plain(value)` repeats one value in every language
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(ROOT).as_posix()
        calls += [(f"{where}:{call.lineno}", call) for call in _text_calls(tree)]
    return calls


TEXT_CALLS = _all_text_calls()


def test_the_catalogue_covers_the_services():
    """The scan reaches the insurance, login, payment and identity services' texts."""
    files = {where.split(":")[0] for where, _ in TEXT_CALLS}
    for service in ("identity", "insurance", "login", "payment"):
        assert f"kiosk/services/{service}.py" in files


@pytest.mark.parametrize("where,call", TEXT_CALLS, ids=[where for where, _ in TEXT_CALLS])
def test_every_text_is_written_in_all_three_languages(where, call):
    """ja, en and やさしい日本語 are each given, none empty: no text falls back to Japanese for
    plain-Japanese readers by omission. A text composed of others (a list of shared records, a
    number of minutes) is built in all three languages side by side; a literal one keeps the
    same `{fields}` in each."""
    languages = _languages(call)
    assert set(languages) == set(FIELDS), f"{where}: missing {set(FIELDS) - set(languages)}"
    values = {name: _constant(node) for name, node in languages.items()}
    assert "" not in values.values(), f"{where}: an empty language"
    if all(value is not None for value in values.values()):
        fields = {name: set(re.findall(r"{(\w+)}", str(v))) for name, v in values.items()}
        assert fields["ja"] == fields["en"] == fields["easy"], where


#: Qt setters that put words on the screen.
_SETTERS = {"setText", "setPlaceholderText", "setToolTip", "setWindowTitle", "setAccessibleName"}


@pytest.mark.parametrize("page", sorted((KIOSK / "ui").glob("*_page.py")), ids=lambda p: p.name)
def test_screens_show_no_inline_words(page):
    """A page never hands Qt a word written in its own source: labels come from the catalogue
    (`self.t(key)`, a service's Text) or are data (numbers, names, the PIN dots)."""
    tree = ast.parse(page.read_text(encoding="utf-8"))
    inline = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        named = node.func.attr if isinstance(node.func, ast.Attribute) else None
        constructs = isinstance(node.func, ast.Name) and node.func.id in (
            "QLabel",
            "QPushButton",
            "QCheckBox",
        )
        if named in _SETTERS or constructs:
            for argument in node.args[:1]:
                word = _constant(argument)
                if word and re.search(r"[A-Za-z\u3040-\u30ff\u4e00-\u9fff]", word):
                    inline.append(f"{page.name}:{node.lineno} {word!r}")
    assert not inline, inline
