"""Spoken guidance: the screen's prompt and what can be done there, out loud (issue 17).

A person asks for it with the guidance button in the top bar or the keypad's * key, and it
stays on for the rest of the visit: each new screen is spoken as it appears, and on the PIN
screen each key press is answered with how many digits are typed (never which) while the
PIN pad keeps its printed order. With a handset or headphones as the configured audio output
(`audio_output` in the configuration) it is always on.

The audio was made at build time (kiosk.ui.guidance_build) and ships as package data under
kiosk/resources/speech/<language>/<prompt-id>.wav; it is played through Qt's multimedia module
behind a small port (`GuidancePlayer`), so a test can watch which file is asked for.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from importlib.resources import as_file
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtWidgets import QPushButton

from kiosk.flow.errors_catalogue import Problem, ProblemCode
from kiosk.flow.machine import Screen
from kiosk.i18n import Language
from kiosk.ui import style
from kiosk.ui.accessibility import set_name
from kiosk.ui.guidance_texts import (
    BUTTON,
    BUTTON_DESCRIPTION,
    PIN_DIGITS,
    pin_count_prompt,
    pin_refused_prompt,
    screen_prompt_id,
)
from kiosk.ui.keypad_widget import SecretPad

if TYPE_CHECKING:  # imported when first played: loading QtMultimedia probes the audio stack
    from PySide6.QtMultimedia import QMediaPlayer

log = logging.getLogger(__name__)


def speech(language: Language, prompt_id: str) -> Traversable:
    """The audio resource of `prompt_id` in `language` (kiosk/resources/speech)."""
    return style.resources() / "speech" / language / f"{prompt_id}.wav"


class GuidancePlayer(Protocol):
    """Where spoken guidance goes: play one prompt's audio, cutting off the one before."""

    def play(self, audio: Traversable) -> None:
        """Play `audio` now (stopping whatever guidance is playing)."""

    def stop(self) -> None:
        """Stop playing."""


class QtGuidancePlayer:
    """The real player: QMediaPlayer to the default audio output, made on first use.

    Made lazily so a kiosk that never speaks never opens the audio stack; `enabled=False`
    (the configuration's `sound = false`) keeps it silent. A machine without an audio device
    plays into nothing (Qt says so once) and the kiosk goes on."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._files = ExitStack()  # extracted copies, when the package is a zip
        self._paths: dict[str, Path] = {}
        self._player: QMediaPlayer | None = None

    def play(self, audio: Traversable) -> None:
        """Play `audio` from its start."""
        if not self.enabled:
            return
        from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer

        path = self._path(audio)
        if path is None:
            return
        player = self._player
        if player is None:
            player = QMediaPlayer()
            output = QAudioOutput(player)
            player.setAudioOutput(output)
            player.errorOccurred.connect(self._failed)
            self._player = player
        player.stop()
        player.setSource(QUrl.fromLocalFile(str(path)))
        player.play()

    def stop(self) -> None:
        """Stop playing (nothing when nothing was ever played)."""
        if self._player is not None:
            self._player.stop()

    def _path(self, audio: Traversable) -> Path | None:
        key = str(audio)
        if key not in self._paths:
            try:
                self._paths[key] = self._files.enter_context(as_file(audio))
            except OSError as e:
                log.warning("no guidance audio %s: %s", key, e.strerror)
                return None
        return self._paths[key]

    @staticmethod
    def _failed(error: object, message: str) -> None:
        log.warning("guidance audio could not be played: %s", message)

    def close(self) -> None:
        """Let go of the player and any extracted copies."""
        self.stop()
        self._paths.clear()
        self._files.close()


class Guidance(QObject):
    """What to say and when: the screen's prompt on request or on arrival, PIN digit counts."""

    #: Guidance went on (True) or off (False).
    active_changed = Signal(bool)

    def __init__(self, player: GuidancePlayer, *, automatic: bool = False) -> None:
        super().__init__()
        self.player = player
        #: Always on (a handset or headphones): never switched off between visits.
        self.automatic = automatic
        self.active = automatic
        self.screen: Screen | None = None
        self.language: Language = "ja"
        self.problem: Problem | None = None
        self._buttons: list[QPushButton] = []

    def button(self) -> QPushButton:
        """A guidance button for the top bar (labelled in the current language by `show`)."""
        button = QPushButton()
        button.setObjectName("guidance")
        button.setProperty("role", "lang")
        button.setCheckable(True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.clicked.connect(self.request)
        self._buttons.append(button)
        self._label_buttons()
        return button

    def watch_pin_pad(self, pad: SecretPad) -> SecretPad:
        """Count `pad`'s digits aloud and keep its keys in order while guidance is on."""
        pad.edited.connect(self.digits_typed)
        self.active_changed.connect(pad.set_fixed_order)
        pad.set_fixed_order(self.active)
        return pad

    def show(self, screen: Screen, language: Language, problem: Problem | None = None) -> None:
        """The kiosk shows `screen` in `language` (on every state change): speak it when it
        is new and guidance is on, and a refused PIN (tries left) when one is reported; a
        visit ending (back to the start) turns guidance off."""
        if screen is Screen.ATTRACT and self.screen not in (None, Screen.ATTRACT):
            self._set_active(self.automatic)
        changed = (screen, language) != (self.screen, self.language)
        new_problem = problem is not None and problem != self.problem
        self.screen, self.language, self.problem = screen, language, problem
        self._label_buttons()
        if not self.active:
            return
        if screen is Screen.PIN and new_problem and problem is not None:
            refused = problem.code in (ProblemCode.PIN_INCORRECT, ProblemCode.PIN_FORMAT)
            if refused:
                malformed = problem.code is ProblemCode.PIN_FORMAT
                self._play(pin_refused_prompt(problem.retries_left, malformed=malformed))
                return
        if changed:
            self.speak_screen()

    def request(self) -> None:
        """The person asked (button, * key): guidance on, and the screen spoken now."""
        self._set_active(True)
        self.speak_screen()

    def speak_screen(self) -> None:
        """Speak the current screen's prompt."""
        if self.screen is not None:
            self._play(screen_prompt_id(self.screen))

    def digits_typed(self, count: int) -> None:
        """The PIN pad changed: say how many digits it holds (never which)."""
        if self.active and self.screen is Screen.PIN:
            self._play(pin_count_prompt(min(count, PIN_DIGITS)))

    def _play(self, prompt_id: str) -> None:
        self.player.play(speech(self.language, prompt_id))

    def _set_active(self, active: bool) -> None:
        if active != self.active:
            self.active = active
            if not active:
                self.player.stop()
            self.active_changed.emit(active)
        self._label_buttons()

    def _label_buttons(self) -> None:
        for button in self._buttons:
            button.setText(BUTTON.get(self.language))
            button.setChecked(self.active)
            set_name(button, button.text(), BUTTON_DESCRIPTION.get(self.language))
