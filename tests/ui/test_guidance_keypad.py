"""Spoken guidance and the USB numeric keypad (issue 17), on the real kiosk window.

The guidance's player port is replaced by a recorder (no audio device is needed): the tests
check which packaged file the kiosk asks to play. The keypad is driven by key events that
carry Qt.KeypadModifier, as a USB numeric keypad's keys do.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton

from kiosk.flow.machine import Screen
from kiosk.ui.guidance import QtGuidancePlayer, speech
from kiosk.ui.keypad_widget import DIGITS

KEYPAD = Qt.KeyboardModifier.KeypadModifier
DIGIT_KEYS = {str(n): getattr(Qt.Key, f"Key_{n}") for n in range(10)}
SPEECH = files("kiosk.resources") / "speech"


class RecordingPlayer:
    """The guidance player port, remembering what it was asked to play."""

    def __init__(self) -> None:
        self.played: list[str] = []
        self.stops = 0

    def play(self, audio) -> None:
        assert audio.is_file(), audio  # only files the package carries are ever asked for
        self.played.append(str(audio))

    def stop(self) -> None:
        self.stops += 1


def audio(language: str, prompt_id: str) -> str:
    return str(SPEECH / language / f"{prompt_id}.wav")


def listen(kiosk) -> RecordingPlayer:
    player = RecordingPlayer()
    kiosk.window.guidance.player = player
    return player


def key(kiosk, name: str) -> None:
    """One key of the numeric keypad, sent to the kiosk window."""
    keys = {
        "enter": Qt.Key.Key_Enter,
        "+": Qt.Key.Key_Plus,
        "-": Qt.Key.Key_Minus,
        "/": Qt.Key.Key_Slash,
        "*": Qt.Key.Key_Asterisk,
        "del": Qt.Key.Key_Delete,
        **DIGIT_KEYS,
    }
    kiosk.qtbot.keyClick(kiosk.window, keys[name], KEYPAD)


def keys(kiosk, typed: str) -> None:
    for digit in typed:
        key(kiosk, digit)


def texts(page) -> str:
    return "\n".join(w.text() for w in page.findChildren(QLabel) if w.isVisible())


def enrol_by_touch(kiosk) -> None:
    """A first visit by touch, so the card is enrolled and the next visit needs only a PIN."""
    kiosk.click("start")
    kiosk.wait_screen(Screen.SERVICES)
    kiosk.click("service-identity")
    kiosk.wait_screen(Screen.INSERT_CARD)
    kiosk.insert()
    kiosk.wait_screen(Screen.PIN)
    kiosk.pin_then_enrol()
    kiosk.wait_screen(Screen.RESULT)
    kiosk.click("done")
    kiosk.wait_screen(Screen.TAKE_CARD)
    kiosk.reader.pull()
    kiosk.wait_screen(Screen.ATTRACT)


def test_the_guidance_button_plays_the_screens_prompt_in_the_current_language(kiosk):
    player = listen(kiosk)
    kiosk.click("guidance")
    assert player.played == [audio("ja", "screen.attract")]
    assert kiosk.window.findChild(QPushButton, "guidance").isChecked()
    kiosk.click("lang-en")  # the same screen in another language is spoken again
    assert player.played[-1] == audio("en", "screen.attract")
    kiosk.click("start")
    kiosk.wait_screen(Screen.INSERT_CARD)
    assert player.played[-1] == audio("en", "screen.insert_card")
    kiosk.click("lang-ja-easy")
    assert player.played[-1] == audio("ja-easy", "screen.insert_card")


def test_guidance_is_silent_until_asked_and_ends_with_the_visit(kiosk):
    player = listen(kiosk)
    kiosk.click("start")
    kiosk.wait_screen(Screen.INSERT_CARD)
    assert player.played == []  # nobody asked
    kiosk.click("guidance")
    assert player.played == [audio("ja", "screen.insert_card")]
    kiosk.click("cancel")
    kiosk.wait_screen(Screen.ATTRACT)
    assert not kiosk.window.guidance.active and player.stops == 1
    kiosk.click("start")
    kiosk.wait_screen(Screen.INSERT_CARD)
    assert player.played == [audio("ja", "screen.insert_card")]  # the next person: silence


def test_a_handset_makes_guidance_speak_every_screen_unasked(make_kiosk):
    kiosk = make_kiosk(audio_output="handset")
    player = listen(kiosk)
    assert kiosk.window.guidance.active
    kiosk.click("start")
    kiosk.wait_screen(Screen.INSERT_CARD)
    assert player.played == [audio("ja", "screen.insert_card")]
    kiosk.click("cancel")
    kiosk.wait_screen(Screen.ATTRACT)
    assert kiosk.window.guidance.active  # on for the next person too
    assert player.played[-1] == audio("ja", "screen.attract")


def test_pin_guidance_counts_the_digits_and_never_says_which(make_kiosk):
    kiosk = make_kiosk(shuffle_pin_pad=True)
    player = listen(kiosk)
    kiosk.click("start")
    kiosk.wait_screen(Screen.INSERT_CARD)
    kiosk.insert()
    kiosk.wait_screen(Screen.PIN)
    pad = kiosk.page().pad
    assert pad.key_order() != list(DIGITS)  # dealt at random (1 in 3.6 million: in order)
    kiosk.click("guidance")
    assert pad.key_order() == list(DIGITS)  # put back in printed order at once
    assert player.played == [audio("ja", "screen.pin")]

    spoken_per_entry = []
    for pin in ("9876", "5555"):
        start = len(player.played)
        for digit in pin:
            kiosk.click(f"key-{digit}")
        kiosk.click("delete")
        kiosk.click("clear")
        spoken_per_entry.append(player.played[start:])
    counts = [audio("ja", f"pin.count.{n}") for n in (1, 2, 3, 4, 3, 0)]
    assert spoken_per_entry == [counts, counts]  # the same words whatever the digits
    for played in player.played:  # no file named after a digit typed (9, 8, 7, 6, 5)
        assert not set(Path(played).name) & set("98765"), played


def test_the_pin_pad_stays_in_order_while_guidance_is_on(make_kiosk):
    kiosk = make_kiosk(shuffle_pin_pad=True)
    listen(kiosk)
    kiosk.click("guidance")
    for _ in range(3):  # shuffled by default; never while guidance is on
        kiosk.click("start")
        kiosk.wait_screen(Screen.INSERT_CARD)
        kiosk.insert()
        kiosk.wait_screen(Screen.PIN)
        assert kiosk.page().pad.key_order() == list(DIGITS)
        kiosk.click("cancel")
        kiosk.qtbot.waitUntil(lambda: kiosk.screen is not Screen.PIN)
        kiosk.reader.pull()
        kiosk.wait_screen(Screen.ATTRACT)
        kiosk.click("guidance")  # the visit ended, so guidance went off: ask again


def test_a_visit_completed_with_the_numeric_keypad_alone(make_kiosk):
    kiosk = make_kiosk(services=("identity", "insurance"))
    enrol_by_touch(kiosk)
    player = listen(kiosk)

    key(kiosk, "*")  # guidance on: the keys' meanings are spoken on every screen
    assert player.played == [audio("ja", "screen.attract")]
    key(kiosk, "enter")
    kiosk.wait_screen(Screen.SERVICES)
    assert player.played[-1] == audio("ja", "screen.services")
    key(kiosk, "9")  # no ninth service: nothing happens
    key(kiosk, "1")
    kiosk.wait_screen(Screen.INSERT_CARD)
    assert kiosk.controller.state.service_id == "identity"
    kiosk.insert()
    kiosk.wait_screen(Screen.PIN)
    keys(kiosk, "9999")  # a wrong PIN: the tries left are spoken, not the PIN
    key(kiosk, "enter")
    kiosk.qtbot.waitUntil(lambda: player.played[-1] == audio("ja", "pin.wrong.2"))
    assert kiosk.screen is Screen.PIN
    keys(kiosk, "12")
    key(kiosk, "del")
    keys(kiosk, "9")
    assert kiosk.page().pad.length == 2
    key(kiosk, "del")  # Backspace and Del alike delete one
    kiosk.qtbot.keyClick(kiosk.window, Qt.Key.Key_Backspace)
    keys(kiosk, "1234")
    key(kiosk, "enter")
    kiosk.wait_screen(Screen.RESULT)
    assert "ご本人と確認できました" in texts(kiosk.page())
    assert player.played[-1] == audio("ja", "screen.result")
    key(kiosk, "+")  # + is "next" too: Finish
    kiosk.wait_screen(Screen.TAKE_CARD)
    kiosk.reader.pull()
    kiosk.wait_screen(Screen.ATTRACT)
    assert [r.action for r in kiosk.audit.records][-1] == "service.identity"
    pin_counts = [p for p in player.played if "pin.count" in p]
    typed = (1, 2, 3, 4, 1, 2, 1, 2, 1, 0, 1, 2, 3, 4)
    assert pin_counts == [audio("ja", f"pin.count.{n}") for n in typed]


def test_minus_goes_back_and_cancels_and_a_full_keyboard_types_nothing(make_kiosk):
    kiosk = make_kiosk(services=("identity", "insurance"))
    key(kiosk, "enter")
    kiosk.wait_screen(Screen.SERVICES)
    key(kiosk, "-")
    kiosk.wait_screen(Screen.ATTRACT)
    key(kiosk, "+")
    kiosk.wait_screen(Screen.SERVICES)
    key(kiosk, "2")
    kiosk.wait_screen(Screen.INSERT_CARD)
    key(kiosk, "/")  # back from the card to the choice
    kiosk.wait_screen(Screen.SERVICES)
    key(kiosk, "-")
    kiosk.wait_screen(Screen.ATTRACT)
    # the main keyboard's digits and Return carry no KeypadModifier: they do nothing
    kiosk.qtbot.keyClick(kiosk.window, Qt.Key.Key_Return)
    kiosk.qtbot.keyClick(kiosk.window, Qt.Key.Key_1)
    assert kiosk.screen is Screen.ATTRACT


def test_speech_resources_are_found_as_package_data():
    found = speech("en", "screen.pin")
    assert found.is_file() and str(found).endswith("speech/en/screen.pin.wav")


@pytest.fixture
def no_qt_warnings(qtlog):
    """Here Qt's multimedia may say there is no audio device (this machine has none)."""
    yield


def test_the_qt_player_plays_a_prompt_offscreen_without_an_audio_device(qtbot):
    """QMediaPlayer decodes the packaged 16 kHz IMA ADPCM WAV to its end with no audio device
    (offscreen, as in CI); the player is stopped only once it has ended (stopping it just as
    the playback starts can deadlock against pytest-qt's message handler, which takes the
    GIL in Qt's decoding thread — the kiosk installs no such handler)."""
    from PySide6.QtMultimedia import QMediaPlayer

    player = QtGuidancePlayer()
    player.play(speech("en", "pin.count.1"))
    media = player._player
    assert isinstance(media, QMediaPlayer)
    assert media.source().toLocalFile().endswith("speech/en/pin.count.1.wav")
    qtbot.waitUntil(
        lambda: media.mediaStatus() is QMediaPlayer.MediaStatus.EndOfMedia, timeout=15000
    )
    assert media.error() is QMediaPlayer.Error.NoError
    assert media.duration() > 1000  # the whole prompt was decoded: over a second of speech
    player.close()


def test_only_the_keypads_own_keys_mean_anything():
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QKeyEvent

    from kiosk.ui.keypad_widget import KeypadKey, keypad_key

    def meaning(qt_key, modifiers=KEYPAD):
        return keypad_key(QKeyEvent(QEvent.Type.KeyPress, qt_key, modifiers))

    none = Qt.KeyboardModifier.NoModifier
    assert meaning(Qt.Key.Key_7) == (KeypadKey.DIGIT, "7")
    assert meaning(Qt.Key.Key_0) == (KeypadKey.DIGIT, "0")
    assert meaning(Qt.Key.Key_7, none) is None  # the main keyboard's 7
    assert meaning(Qt.Key.Key_Enter) == (KeypadKey.NEXT, "")
    assert meaning(Qt.Key.Key_Plus) == (KeypadKey.NEXT, "")
    assert meaning(Qt.Key.Key_Minus) == (KeypadKey.BACK, "")
    assert meaning(Qt.Key.Key_Slash) == (KeypadKey.BACK, "")
    assert meaning(Qt.Key.Key_Asterisk) == (KeypadKey.GUIDANCE, "")
    assert meaning(Qt.Key.Key_Delete) == (KeypadKey.DELETE, "")
    assert meaning(Qt.Key.Key_Backspace, none) == (KeypadKey.DELETE, "")
    assert meaning(Qt.Key.Key_End) is None  # NumLock off: the 1 key is End
    assert meaning(Qt.Key.Key_Escape, none) is None
