"""On-screen keypads: the 4-digit PIN pad, the A–Z/0–9 password keyboard, the staff pad, and
the pad for an online service's binding code.

What a secret pad types shows only as ● (never the last character, not even briefly), keys do
not animate when pressed (the stylesheet keeps :pressed identical), and the digit order can be
shuffled each time the pad appears. What is typed leaves the widget only through `submitted`,
and the buffer is cleared at that moment and whenever the pad is shown or hidden. The binding
code's pad is the same widget unmasked: the code is read off a phone and checked against it,
and it is no secret of the card (it is still forgotten the same way). While spoken guidance is
on, a shuffled pad keeps its printed order (`set_fixed_order`), and `edited` tells the guidance
how many characters are typed after each press — never which.

A USB numeric keypad (as ATM-style stands have) drives the same buttons: `PhysicalKeypad` maps
its digits, Enter, Backspace/Del, + and -, / and * onto what the page shows (docs/guidance.md).
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from enum import Enum

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QHideEvent, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QGridLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.i18n import Language
from kiosk.ui.accessibility import pad_display_name, set_name

DIGITS = "1234567890"
ALNUM = string.ascii_uppercase + string.digits


class SecretPad(QWidget):
    """A masked keypad; `submitted` carries the secret once, then it is forgotten."""

    submitted = Signal(str)
    #: How many characters are typed, after each key, delete or clear the person pressed
    #: (not when the pad forgets on its own): what the spoken guidance counts, never which.
    edited = Signal(int)
    # The masked display; the name hides QWidget.mask(), which the kiosk never calls (Qt's own
    # C++ calls do not see a Python attribute), and the tests read `pad.mask`.
    mask: QLabel  # type: ignore[assignment]

    def __init__(
        self,
        keys: str,
        columns: int,
        max_length: int,
        shuffle: Callable[[list[str]], None] | None = None,
        *,
        masked: bool = True,
    ) -> None:
        super().__init__()
        self._keys = keys
        self.columns = columns
        self._max = max_length
        self._shuffle = shuffle
        #: Keys in their printed order even when shuffling (while spoken guidance is on).
        self._fixed = False
        self._shuffled = False
        self.masked = masked
        self._typed: list[str] = []
        #: The language a screen reader is told what the display shows in (`speak_in`).
        self.language: Language = "ja"
        self.mask = QLabel()
        self.mask.setObjectName("mask")
        self.mask.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.mask.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._grid = QGridLayout()
        self._grid.setSpacing(10)
        self.key_buttons: dict[str, QPushButton] = {}
        for key in keys:
            button = QPushButton(key)
            button.setObjectName(f"key-{key}")
            button.setProperty("role", "key" if columns <= 3 else "keysmall")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _=False, k=key: self.press(k))
            self.key_buttons[key] = button
        self.clear_button = self._action("clear", "secondary", self._clear_typed)
        self.delete_button = self._action("delete", "secondary", self._delete)
        self.ok_button = self._action("ok", "", self._submit)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.mask)
        layout.addLayout(self._grid)
        layout.addStretch(1)
        self._place(list(keys))
        self._refresh()

    def _action(self, name: str, role: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton()
        button.setObjectName(name)
        if role:
            button.setProperty("role", role)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.clicked.connect(slot)
        return button

    def _place(self, order: Sequence[str]) -> None:
        cols = self.columns
        rows = (len(order) + cols - 1) // cols
        phone = cols == 3 and len(order) % cols == 1  # 1-9 then 0 between clear and delete
        for index, key in enumerate(order):
            row, col = divmod(index, cols)
            self._grid.addWidget(
                self.key_buttons[key], row, 1 if phone and row == rows - 1 else col
            )
        if phone:
            self._grid.addWidget(self.clear_button, rows - 1, 0)
            self._grid.addWidget(self.delete_button, rows - 1, 2)
            self._grid.addWidget(self.ok_button, rows, 0, 1, cols)
        else:
            self._grid.addWidget(self.clear_button, rows, 0, 1, 2)
            self._grid.addWidget(self.delete_button, rows, 2, 1, 2)
            self._grid.addWidget(self.ok_button, rows, cols - 3, 1, 3)
        for col in range(max(cols, self._grid.columnCount())):
            self._grid.setColumnStretch(col, 1 if col < cols else 0)

    def key_order(self) -> list[str]:
        """The keys in their on-screen order (row by row)."""
        found = []
        for index in range(self._grid.count()):
            item = self._grid.itemAt(index)
            widget = None if item is None else item.widget()
            if isinstance(widget, QPushButton) and widget in self.key_buttons.values():
                found.append(widget.text())
        return found

    def reset(self) -> None:
        """Forget what was typed and, when shuffling (and not fixed), deal the keys again."""
        self.clear()
        if self._shuffle is not None and not self._fixed:
            order = list(self._keys)
            self._shuffle(order)
            self._replace(order)
            self._shuffled = True

    def _replace(self, order: Sequence[str]) -> None:
        for button in self.key_buttons.values():
            self._grid.removeWidget(button)
        for button in (self.clear_button, self.delete_button, self.ok_button):
            self._grid.removeWidget(button)
        self._place(order)

    def set_columns(self, columns: int) -> None:
        """Lay a keyboard's keys out in `columns` columns (a landscape screen has the room for
        more across and less down); a pad of three stays a pad of three."""
        if self.columns <= 3 or columns <= 3 or columns == self.columns:
            return
        order = self.key_order()
        self.columns = columns
        self._replace(order)

    def least_width(self, columns: int) -> int:
        """The least width of `columns` keys side by side (at their touch size)."""
        key = max(button.minimumSizeHint().width() for button in self.key_buttons.values())
        key = max(key, *(button.minimumWidth() for button in self.key_buttons.values()))
        return columns * key + self._grid.horizontalSpacing() * (columns - 1)

    def set_fixed_order(self, fixed: bool) -> None:
        """Keep the keys in their printed order (spoken guidance: a person who cannot see the
        screen finds a key by its place); a shuffled pad is put back in order at once."""
        self._fixed = fixed
        if fixed and self._shuffled:
            self._replace(self._keys)
            self._shuffled = False

    def press(self, key: str) -> None:
        """Type one key (ignored when the secret is already at its longest)."""
        if len(self._typed) < self._max:
            self._typed.append(key)
        self._refresh()
        self.edited.emit(len(self._typed))

    def clear(self) -> None:
        """Forget everything typed."""
        self._typed.clear()
        self._refresh()

    @property
    def length(self) -> int:
        """How many characters are typed (the pad never exposes which)."""
        return len(self._typed)

    def _delete(self) -> None:
        if self._typed:
            self._typed.pop()
        self._refresh()
        self.edited.emit(len(self._typed))

    def _clear_typed(self) -> None:
        self.clear()
        self.edited.emit(0)

    def _submit(self) -> None:
        secret = "".join(self._typed)
        self.clear()
        self.submitted.emit(secret)

    def _refresh(self) -> None:
        if self.masked:
            shown = "●" * len(self._typed)
        else:  # in groups of four, as the code is shown on the phone
            typed = "".join(self._typed)
            shown = " ".join(typed[i : i + 4] for i in range(0, len(typed), 4))
        self.mask.setText(shown or " ")
        # a screen reader hears how many are typed, never which (the binding code: as shown)
        spoken = pad_display_name(
            self.language,
            masked=self.masked,
            digits=self._keys.isdigit(),
            count=len(self._typed),
            longest=self._max,
            shown=shown,
        )
        set_name(self.mask, spoken)

    def speak_in(self, language: Language) -> None:
        """Name the display for screen readers in `language` (the page's, on each state)."""
        if language != self.language:
            self.language = language
            self._refresh()

    def set_labels(self, clear: str, delete: str, ok: str) -> None:
        """Label the action keys in the current language."""
        self.clear_button.setText(clear)
        self.delete_button.setText(delete)
        self.ok_button.setText(ok)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt override
        """Leaving the screen forgets the secret."""
        self.clear()
        super().hideEvent(event)


def pin_pad(shuffle: bool, rng: random.Random | None = None) -> SecretPad:
    """The 4-digit PIN pad (3 columns), shuffled on each showing when asked."""
    shuffler = (rng or random.SystemRandom()).shuffle if shuffle else None
    return SecretPad(DIGITS, 3, 4, shuffler)


def password_keyboard() -> SecretPad:
    """The signature-password keyboard: A–Z and 0–9, up to 16 characters."""
    return SecretPad(ALNUM, 9, 16)


def staff_pad() -> SecretPad:
    """The staff PIN pad: digits, up to 12."""
    return SecretPad(DIGITS, 3, 12)


def code_pad() -> SecretPad:
    """The binding code's pad: 8 digits, shown as typed (in groups of four), never shuffled."""
    return SecretPad(DIGITS, 3, 8, masked=False)


# --- the physical numeric keypad -------------------------------------------------------------


class KeypadKey(Enum):
    """What a key of a USB numeric keypad means to the kiosk (docs/guidance.md)."""

    DIGIT = "digit"  # type it on a pad; choose the option with that number elsewhere
    NEXT = "next"  # Enter, +: the pad's OK, or the screen's main button
    DELETE = "delete"  # Backspace, Del: delete the last character typed
    BACK = "back"  # -, /: back, cancel, decline
    GUIDANCE = "guidance"  # *: speak the screen's guidance (and keep it on for the visit)


_KEYPAD_MEANINGS = {
    Qt.Key.Key_Enter: KeypadKey.NEXT,
    Qt.Key.Key_Return: KeypadKey.NEXT,
    Qt.Key.Key_Plus: KeypadKey.NEXT,
    Qt.Key.Key_Delete: KeypadKey.DELETE,
    Qt.Key.Key_Minus: KeypadKey.BACK,
    Qt.Key.Key_Slash: KeypadKey.BACK,
    Qt.Key.Key_Asterisk: KeypadKey.GUIDANCE,
}
#: The screen's main button for Enter / +, in order of preference (the first shown wins).
NEXT_BUTTONS = ("start", "confirm-info", "agree", "confirmed", "retry", "done")
#: The way back for - and /, in order of preference.
BACK_BUTTONS = ("back", "cancel", "decline", "done")
#: Buttons a digit chooses, numbered from the top as the page lays them out.
_CHOICE_PREFIXES = ("service-", "provider-")


def keypad_key(event: QKeyEvent) -> tuple[KeypadKey, str] | None:
    """What `event` means when it comes from a numeric keypad (and the digit typed), or None.

    Only the keypad's own keys count (Qt marks them with KeypadModifier), so a full keyboard
    left on a kiosk types nothing; Backspace counts from anywhere, as most keypads that have
    it send a plain Backspace."""
    key = Qt.Key(event.key())
    if key == Qt.Key.Key_Backspace:
        return KeypadKey.DELETE, ""
    if not event.modifiers() & Qt.KeyboardModifier.KeypadModifier:
        return None
    if Qt.Key.Key_0 <= key <= Qt.Key.Key_9:
        return KeypadKey.DIGIT, chr(key.value)
    meaning = _KEYPAD_MEANINGS.get(key)
    return None if meaning is None else (meaning, "")


def _shown(buttons: Sequence[QAbstractButton]) -> list[QAbstractButton]:
    return [b for b in buttons if b.isVisible() and b.isEnabled()]


class PhysicalKeypad:
    """Turns numeric-keypad presses into the touches they stand for on the page shown.

    A key presses a button that a finger could press (`click()`), so the keypad can do nothing
    the screen does not offer, and the flow sees the same events either way."""

    def __init__(self, on_guidance: Callable[[], None]) -> None:
        self._on_guidance = on_guidance

    def press(self, event: QKeyEvent, page: QWidget) -> bool:
        """Act on `event` on `page`; True when it was a keypad key the page had a use for."""
        meaning = keypad_key(event)
        if meaning is None:
            return False
        kind, digit = meaning
        if kind is KeypadKey.GUIDANCE:
            self._on_guidance()
            return True
        pads = [p for p in page.findChildren(SecretPad) if p.isVisible()]
        if pads:
            if self._on_pad(pads[0], kind, digit):
                return True
        elif kind is KeypadKey.DIGIT:
            return self._choose(page, int(digit))
        if kind is KeypadKey.NEXT:
            return self._click_first(page, NEXT_BUTTONS)
        if kind is KeypadKey.BACK:
            return self._click_first(page, BACK_BUTTONS)
        return False

    @staticmethod
    def _on_pad(pad: SecretPad, kind: KeypadKey, digit: str) -> bool:
        button: QAbstractButton | None = None
        if kind is KeypadKey.DIGIT:
            button = pad.key_buttons.get(digit)
        elif kind is KeypadKey.NEXT:
            button = pad.ok_button
        elif kind is KeypadKey.DELETE:
            button = pad.delete_button
        if button is None or not button.isEnabled():
            return False
        button.click()
        return True

    @staticmethod
    def _choose(page: QWidget, number: int) -> bool:
        choices = _shown(
            [
                b
                for b in page.findChildren(QPushButton)
                if b.objectName().startswith(_CHOICE_PREFIXES)
            ]
        )
        if not 1 <= number <= len(choices):
            return False
        choices[number - 1].click()
        return True

    @staticmethod
    def _click_first(page: QWidget, names: Sequence[str]) -> bool:
        for name in names:
            found = _shown(page.findChildren(QPushButton, name))
            if found:
                found[0].click()
                return True
        return False
