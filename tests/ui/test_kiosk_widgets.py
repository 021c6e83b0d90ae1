"""Widgets and pages one at a time: keypads, consent per item, reader status, translations."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import pytest
from PySide6.QtWidgets import QCheckBox, QLabel, QPushButton

from kiosk.app import available_services
from kiosk.flow.machine import ReaderStatus, Screen
from kiosk.flow.texts import TEXTS
from kiosk.i18n import LANGUAGES, Text, plain
from kiosk.services.base import ConsentItem, ResultRow, ServiceContext, ServiceResult
from kiosk.ui.fit import set_text
from kiosk.ui.keypad_widget import DIGITS, password_keyboard, pin_pad
from kiosk.ui.style import theme as stylesheet


def texts(page) -> str:
    return "\n".join(w.text() for w in page.findChildren(QLabel) if w.isVisible())


def test_pin_pad_masks_and_forgets(qtbot):
    pad = pin_pad(shuffle=False)
    qtbot.addWidget(pad)
    got = []
    pad.submitted.connect(got.append)
    for key in "12345":
        pad.press(key)
    assert pad.mask.text() == "●●●●" and pad.length == 4  # never longer than 4
    pad.ok_button.click()
    assert got == ["1234"] and pad.length == 0 and "1" not in pad.mask.text()


def test_pin_pad_shuffles_on_each_showing(qtbot):
    pad = pin_pad(shuffle=True, rng=random.Random(7))
    qtbot.addWidget(pad)
    orders = set()
    for _ in range(5):
        pad.reset()
        order = pad.key_order()
        assert sorted(order) == sorted(DIGITS)
        orders.add(tuple(order))
    assert len(orders) > 1


def test_unshuffled_pad_is_a_phone_pad(qtbot):
    pad = pin_pad(shuffle=False)
    qtbot.addWidget(pad)
    pad.reset()
    assert pad.key_order() == list("1234567890")


def test_keys_do_not_animate_when_pressed():
    for theme in ("default", "high-contrast"):
        qss = stylesheet(theme)
        for role in ("key", "keysmall"):
            rule = f'QPushButton[role="{role}"], QPushButton[role="{role}"]:pressed'
            assert rule in qss, (theme, role)
        assert "Noto Sans CJK JP" in qss


def test_password_keyboard_takes_16_letters_and_digits(qtbot):
    pad = password_keyboard()
    qtbot.addWidget(pad)
    assert set(pad.key_buttons) == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    for key in "A1" * 10:
        pad.press(key)
    assert pad.length == 16


@dataclass(frozen=True)
class SharingService:
    """A service that shares data item by item (the shape of the insurance check)."""

    id: str = "sharing"
    title: Text = Text("情報提供", "Data sharing")
    description: Text = Text("同意した情報を提供します", "Shares what you agree to")
    needs_link: bool = False
    consent_items: tuple = (
        ConsentItem("medication", Text("薬剤情報", "Medication history"), required=True),
        ConsentItem("checkups", Text("特定健診情報", "Health check results")),
    )

    def run(self, context: ServiceContext) -> ServiceResult:
        rows = tuple(ResultRow(plain(i), "✓") for i in sorted(context.consented))
        return ServiceResult(True, Text("提供しました", "Shared"), plain(""), rows)


@pytest.fixture
def sharing_kiosk(make_kiosk):
    return make_kiosk({"sharing": SharingService()}, services=("identity", "sharing"))


def test_service_picker_and_consent_item_by_item(sharing_kiosk):
    kiosk = sharing_kiosk
    kiosk.click("start")
    kiosk.wait_screen(Screen.SERVICES)
    assert (
        "情報提供" in kiosk.page().findChild(type(kiosk.window.contrast), "service-sharing").text()
    )
    kiosk.click("service-sharing")
    kiosk.wait_screen(Screen.INSERT_CARD)
    kiosk.insert()
    kiosk.wait_screen(Screen.PIN)
    kiosk.type_secret("1234")
    kiosk.wait_screen(Screen.SERVICE_CONSENT)
    boxes = {b.objectName(): b for b in kiosk.page().findChildren(QCheckBox)}
    assert set(boxes) == {"consent-medication", "consent-checkups"}
    assert not any(b.isChecked() for b in boxes.values())  # nothing is pre-ticked
    assert "(必須)" in boxes["consent-medication"].text()
    boxes["consent-medication"].setChecked(True)
    kiosk.click("agree")
    kiosk.wait_screen(Screen.RESULT)
    assert [r.label.en for r in kiosk.controller.state.result.rows] == ["medication"]


@pytest.mark.parametrize(
    ("status", "shown"),
    [
        (ReaderStatus.NO_SERVICE, "カードサービス停止中"),
        (ReaderStatus.NO_READER, "カードリーダーがありません"),
        (ReaderStatus.READY, "カードリーダー準備完了"),
    ],
)
def test_insert_screen_shows_the_live_reader_status(kiosk, status, shown):
    kiosk.click("start")
    kiosk.wait_screen(Screen.INSERT_CARD)
    kiosk.controller.reader_status(status)
    kiosk.qtbot.waitUntil(lambda: shown in texts(kiosk.page()))


def _catalogue_patterns(language, services) -> list[re.Pattern[str]]:
    """Every catalogue text in `language` as a pattern ({fields} match any value): the
    screens' own (kiosk.flow.texts) and the offered services' titles and descriptions."""
    messages = [*TEXTS.values()]
    for service in services.values():
        messages += [service.title, service.description]
    patterns = []
    for message in messages:
        parts = re.split(r"{\w+}", message.get(language))
        patterns.append(re.compile(".+?".join(re.escape(part) for part in parts)))
    return patterns


def _shown_lines(page) -> list[str]:
    """Each line of each visible label and button on a page (a button's as the page set
    it: the line breaks that fit its words to the screen are layout, not words)."""
    widgets = [*page.findChildren(QLabel), *page.findChildren(QPushButton)]
    return [
        line
        for widget in widgets
        if widget.isVisible()
        for line in (
            set_text(widget) if isinstance(widget, QPushButton) else widget.text()
        ).splitlines()
        if line.strip()
    ]


def _strays(kiosk, patterns) -> list[str]:
    """The lines on the current screen that are no catalogue text (keypad keys are data)."""
    shown = _shown_lines(kiosk.page())
    assert len(shown) > 3, shown
    return [
        line
        for line in shown
        if len(line) > 1 and not any(pattern.fullmatch(line) for pattern in patterns)
    ]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_word_on_the_way_to_a_service_comes_from_the_catalogue(make_kiosk, language):
    """In each language, every line the service picker (the four services' titles and
    descriptions), the insert-card screen and the PIN pad show is that language's rendering
    of a catalogue text."""
    kiosk = make_kiosk(services=("identity", "insurance", "login", "payment"))
    patterns = _catalogue_patterns(language, available_services())
    kiosk.click(f"lang-{language}")
    kiosk.click("start")
    kiosk.wait_screen(Screen.SERVICES)
    assert not _strays(kiosk, patterns)
    shown = _shown_lines(kiosk.page())
    for service in ("insurance", "login", "payment"):
        assert available_services()[service].title.get(language) in shown, service
    kiosk.click("service-insurance")
    kiosk.wait_screen(Screen.INSERT_CARD)
    assert not _strays(kiosk, patterns)
    kiosk.insert()
    kiosk.wait_screen(Screen.PIN)
    assert not _strays(kiosk, patterns)
