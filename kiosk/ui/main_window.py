"""The kiosk window: frameless and full screen, one page per flow screen, hardened.

In kiosk mode the window takes the whole screen's geometry (a bare X server has no window
manager to do it), ignores Esc / Alt+F4 / Alt+Tab and refuses to close unless staff asked
through the staff menu. Every press anywhere counts as activity for the idle timeout.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeyEvent, QMouseEvent, QResizeEvent, QScreen
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QPushButton,
    QStackedWidget,
    QWidget,
)

from kiosk.flow.machine import (
    Event,
    FlowState,
    MoreTime,
    Screen,
    SetLanguage,
    StaffRequest,
    Touch,
    more_time_offered,
)
from kiosk.flow.texts import text
from kiosk.i18n import LANGUAGES, Language
from kiosk.ui.accessibility import LARGE_TEXT_SCALE, mirror_names, scaled_fonts, set_name
from kiosk.ui.attract_page import AttractPage
from kiosk.ui.base_page import Page, label
from kiosk.ui.card_page import InsertPage, PutBackPage, TakeCardPage
from kiosk.ui.code_page import BindingCodePage
from kiosk.ui.controller import FlowController
from kiosk.ui.enrol_page import ConsentPage, ReviewPage
from kiosk.ui.fit import BarLayout, WindowLayout, fit_page, wrap_buttons
from kiosk.ui.guidance import Guidance, QtGuidancePlayer
from kiosk.ui.keypad_widget import PhysicalKeypad, code_pad, password_keyboard, pin_pad, staff_pad
from kiosk.ui.message_page import ProblemPage, ResultPage, WorkingPage
from kiosk.ui.picker_page import providers_page, services_page
from kiosk.ui.secret_page import PasswordPage, PinPage
from kiosk.ui.sound import SoundPlayer
from kiosk.ui.staff_page import (
    StaffAssistPage,
    StaffLinkPage,
    StaffLoginPage,
    StaffMenuPage,
    StaffVoidPage,
)
from kiosk.ui.style import enforce_touch_size, theme, touch_px
from kiosk.ui.token_page import ConfirmPhonePage, TokenRefusedPage

_LANGUAGE_KEYS = {"ja": "lang.ja", "en": "lang.en", "ja-easy": "lang.easy"}
#: What each language button does, told to a screen reader in the current language.
_LANGUAGE_DESCRIPTIONS = {"ja": "a11y.lang.ja", "en": "a11y.lang.en", "ja-easy": "a11y.lang.easy"}
#: Key presses that would leave the kiosk (with Alt: F4, Tab; alone: Escape).
_ESCAPES = {Qt.Key.Key_Escape, Qt.Key.Key_F4, Qt.Key.Key_Tab, Qt.Key.Key_Backtab}


class StaffCorner(QWidget):
    """An invisible corner; holding it down for `hold_ms` asks for staff mode."""

    def __init__(self, parent: QWidget, on_hold: Callable[[], None], hold_ms: int) -> None:
        super().__init__(parent)
        self.setObjectName("staff-corner")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(hold_ms)
        self._timer.timeout.connect(on_hold)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        """Start timing the hold."""
        self._timer.start()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        """A short tap does nothing."""
        self._timer.stop()
        event.accept()

    @property
    def holding(self) -> bool:
        """A press is being timed (released before `hold_ms`, it asks for nothing)."""
        return self._timer.isActive()


class KioskWindow(QWidget):
    """The main window: top bar (languages, contrast, idle countdown) over the pages."""

    def __init__(
        self,
        controller: FlowController,
        *,
        kiosk_mode: bool = True,
        shuffle_pin_pad: bool = False,
        high_contrast: bool = False,
        sound: SoundPlayer | None = None,
        staff_hold_ms: int = 3000,
        guidance: Guidance | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("kiosk")
        self.setWindowTitle("jpki-kiosk")
        self.controller = controller
        self.kiosk_mode = kiosk_mode
        self.sound = sound or SoundPlayer(enabled=False)
        # spoken guidance (button, keypad *) and the USB numeric keypad: docs/guidance.md
        self.guidance = guidance or Guidance(QtGuidancePlayer(enabled=False))
        self.keypad = PhysicalKeypad(self.guidance.request)
        self._allow_close = not kiosk_mode
        self._screen: Screen | None = None
        if kiosk_mode:
            self.setWindowFlags(
                Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
            )
        self.high_contrast = high_contrast
        self.large_text = False
        self._apply_theme()

        send = controller.send
        flow = controller.flow
        self.pages: dict[Screen, Page] = {}
        working = WorkingPage(send)
        problem = ProblemPage(send)
        consent = ConsentPage(send, flow)
        services = [(s.id, s.title, s.description) for s in flow.config.services]
        providers = [(p.id, p.name) for p in flow.config.providers]
        for screen, page in (
            (Screen.ATTRACT, AttractPage(send)),
            (Screen.SERVICES, services_page(send, services)),
            (Screen.PROVIDERS, providers_page(send, providers)),
            (Screen.INSERT_CARD, InsertPage(send)),
            (Screen.READING, working),
            (Screen.PIN, PinPage(send, self.guidance.watch_pin_pad(pin_pad(shuffle_pin_pad)))),
            (Screen.CONFIRM_ON_PHONE, ConfirmPhonePage(send)),
            (Screen.TOKEN_REFUSED, TokenRefusedPage(send)),
            (Screen.PUT_BACK, PutBackPage(send)),
            (Screen.WORKING, working),
            (Screen.PASSWORD, PasswordPage(send, password_keyboard())),
            (Screen.REVIEW, ReviewPage(send)),
            (Screen.ENROL_CONSENT, consent),
            (Screen.BINDING_CODE, BindingCodePage(send, code_pad())),
            (Screen.SERVICE_CONSENT, consent),
            (Screen.RESULT, ResultPage(send)),
            (Screen.TAKE_CARD, TakeCardPage(send)),
            (Screen.ERROR, problem),
            (Screen.BLOCKED, problem),
            (Screen.STAFF_LOGIN, StaffLoginPage(send, staff_pad())),
            (Screen.STAFF_MENU, StaffMenuPage(send, flow)),
            (Screen.STAFF_ASSIST, StaffAssistPage(send, flow)),
            (Screen.STAFF_LINK, StaffLinkPage(send)),
            (Screen.STAFF_VOID, StaffVoidPage(send)),
        ):
            self.pages[screen] = page
        self.stack = QStackedWidget()
        for distinct in dict.fromkeys(self.pages.values()):
            self.stack.addWidget(distinct)

        bar = self._top_bar(send)
        self.countdown = label("countdown")
        self.countdown.hide()
        self._countdown_text = ""
        self.more_time = QPushButton()
        self.more_time.setObjectName("more-time")
        self.more_time.setProperty("role", "lang")
        self.more_time.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.more_time.clicked.connect(lambda: send(MoreTime()))
        self.more_time.hide()
        # the idle countdown takes the brand's place in the top bar (no page loses height to
        # it), "more time" first among the bar's buttons
        self.bar_layout.insert_widget(1, self.countdown)
        self.bar_layout.insert_widget(2, self.more_time)
        self.window_layout = WindowLayout(self, bar, self.stack)  # the bar over the pages
        self.staff_corner = StaffCorner(self, lambda: send(StaffRequest()), staff_hold_ms)

        controller.state_changed.connect(self.show_state)
        controller.ticked.connect(self.tick)
        controller.sound.connect(self.sound.play)
        controller.exit_requested.connect(self.staff_exit)
        app = QApplication.instance()
        if app is None:  # Qt refuses a widget before the application anyway
            raise RuntimeError("The main window needs the QApplication to exist first.")
        app.installEventFilter(self)
        # laid out for the screen it will fill (not Qt's 640×480 of a window never shown)
        display = QApplication.primaryScreen()
        if kiosk_mode and display is not None:
            self.resize(display.size())
        else:
            self.resize(1280, 800)
        self.show_state(controller.state)

    def _top_bar(self, send: Callable[[Event], None]) -> QWidget:
        bar = QWidget()
        bar.setObjectName("topbar")
        row = BarLayout(bar)  # one row, or more when the window is narrow or the text large
        self.bar_layout = row
        row.setContentsMargins(24, 8, 16, 8)
        self.brand = label("brand", center=False)
        row.addWidget(self.brand)
        self.language_buttons: dict[Language, QPushButton] = {}
        group = QButtonGroup(bar)
        group.setExclusive(True)
        for language in LANGUAGES:
            button = QPushButton(text(_LANGUAGE_KEYS[language]).ja)
            button.setObjectName(f"lang-{language}")
            button.setProperty("role", "lang")
            button.setCheckable(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _=False, lang=language: send(SetLanguage(lang)))
            group.addButton(button)
            row.addWidget(button)
            self.language_buttons[language] = button
        self.contrast = QPushButton()
        self.contrast.setObjectName("contrast")
        self.contrast.setProperty("role", "lang")
        self.contrast.setCheckable(True)
        self.contrast.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.contrast.clicked.connect(self.toggle_contrast)
        row.addWidget(self.contrast)
        self.large = QPushButton()
        self.large.setObjectName("large-text")
        self.large.setProperty("role", "lang")
        self.large.setCheckable(True)
        self.large.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.large.clicked.connect(self.toggle_large_text)
        row.addWidget(self.large)
        row.addWidget(self.guidance.button())
        return bar

    # -- showing ---------------------------------------------------------------------

    def show_kiosk(self) -> None:
        """Show full screen on the primary screen (or as a normal window when windowed)."""
        screen = self.screen() or QApplication.primaryScreen()
        enforce_touch_size(self, touch_px(screen))
        self._place_corner(screen)
        if self.kiosk_mode:
            self.setGeometry(screen.geometry())
            self.showFullScreen()
        else:
            self.resize(1280, 800)
            self.show()

    def _place_corner(self, screen: QScreen | None) -> None:
        size = math.ceil(touch_px(screen) * 1.5)
        self.staff_corner.setGeometry(0, 0, size, size)
        self.staff_corner.raise_()

    def current_page(self) -> Page:
        """The page on screen now."""
        page = self.stack.currentWidget()
        if not isinstance(page, Page):
            raise TypeError(f"The stack shows {type(page).__name__}, which is not a page.")
        return page

    @contextmanager
    def _held(self) -> Iterator[None]:
        """The window's layout held while a state is drawn, and laid out once at the end:
        Qt lays a window out at once when a widget in it is shown, and a page half drawn (a
        row shown before the page fits its words, the countdown shown before the pages fit
        the taller bar) would make the window larger than the screen, for good."""
        layout = self.layout()
        if layout is None or not layout.isEnabled():  # held already
            yield
            return
        layout.setEnabled(False)
        try:
            yield
        finally:
            layout.setEnabled(True)
            layout.activate()  # (nothing to do when nothing changed: a tick costs nothing)

    def show_state(self, state: FlowState) -> None:
        """Switch to the state's page (entering it when the screen changed) and draw it."""
        with self._held():
            self._draw(state)

    def _draw(self, state: FlowState) -> None:
        page = self.pages[state.screen]
        if state.screen is not self._screen:
            if self._screen is not None and self.pages[self._screen] is not page:
                self.pages[self._screen].leave()
            self._screen = state.screen
            page.enter(state)
            # laid out for this window before it shows anything: a row shown at once would
            # otherwise be measured in the page's layout as built and could widen the window
            page.arrange(self.width(), self.height())
            self.stack.setCurrentWidget(page)
        self.brand.setText(text("attract.title").get(state.language))
        for language, button in self.language_buttons.items():
            button.setChecked(language == state.language)
        self.contrast.setText(text("contrast").get(state.language))
        self.contrast.setChecked(self.high_contrast)
        self.large.setText(text("large_text").get(state.language))
        self.large.setChecked(self.large_text)
        self.more_time.setText(text("more_time").get(state.language))
        now = self.controller.clock()
        page.show_state(state, now)
        self._show_countdown(state, now)
        # (the guidance button is labelled in the state's language before the bar is measured)
        self.guidance.show(state.screen, state.language, state.problem)
        self._fit()
        self._name_for_screen_readers(state)

    def _name_for_screen_readers(self, state: FlowState) -> None:
        """Every widget's accessible name in the state's language; the frame's toggles also
        say what they do."""
        mirror_names(self, state.language)
        for language, button in self.language_buttons.items():
            description = text(_LANGUAGE_DESCRIPTIONS[language]).get(state.language)
            set_name(button, button.text(), description)
        for button, key in (
            (self.contrast, "a11y.contrast"),
            (self.large, "a11y.large_text"),
            (self.more_time, "a11y.more_time"),
        ):
            set_name(button, button.text(), text(key).get(state.language))

    def tick(self, now: float) -> None:
        """Redraw what changes with time: the idle countdown and a page's own clock."""
        state = self.controller.state
        with self._held():
            if self._show_countdown(state, now):  # the top bar's height changed
                self._fit()
            page = self.pages[state.screen]
            if page.ticking:
                page.show_state(state, now)
                self._wrap_words()  # the page set its buttons' words again
                mirror_names(page, state.language)

    def _show_countdown(self, state: FlowState, now: float) -> bool:
        """Show the idle countdown (and "more time") as the state needs; whether either
        appeared or went."""
        changed = False
        deadline = state.idle_deadline
        warn = self.controller.flow.config.idle_warning_s
        left = None if deadline is None else deadline - now
        shown = ""
        if left is not None and left <= warn and state.screen is not Screen.TAKE_CARD:
            seconds = max(0, math.ceil(left))
            shown = text("idle.countdown").format(state.language, seconds=seconds)
        if shown != self._countdown_text:  # touch Qt only when something changes
            changed = bool(shown) != bool(self._countdown_text)
            self._countdown_text = shown
            self.countdown.setText(shown)
            self.countdown.setAccessibleName(shown)
            self.countdown.setVisible(bool(shown))
            self.brand.setVisible(not shown)
        # "more time" beside any countdown: this idle one, or the put-the-card-back page's
        counting = bool(shown) or state.countdown_deadline is not None
        offered = counting and more_time_offered(self.controller.flow.config, state)
        if offered != self.more_time.isVisible():
            self.more_time.setVisible(offered)
            changed = True
        return changed

    def toggle_contrast(self) -> None:
        """Switch between the default and the high-contrast theme."""
        self.high_contrast = not self.high_contrast
        with self._held():
            self._apply_theme()
            self.contrast.setChecked(self.high_contrast)
            self._fit()

    def toggle_large_text(self) -> None:
        """Switch every screen's text between its usual and its large size (文字を大きく)."""
        self.large_text = not self.large_text
        with self._held():
            self._apply_theme()
            self.large.setChecked(self.large_text)
            self._fit()

    def _apply_theme(self) -> None:
        sheet = theme("high-contrast" if self.high_contrast else "default")
        self.setStyleSheet(scaled_fonts(sheet, LARGE_TEXT_SCALE if self.large_text else 1))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        """A new shape (landscape, portrait): lay the page out again."""
        super().resizeEvent(event)
        self._fit()

    def _wrap_words(self) -> None:
        """The buttons' words broken into lines where wider than the page shown."""
        layout = self.current_page().layout()
        margins = layout.contentsMargins() if layout is not None else None
        room = self.width() - (0 if margins is None else margins.left() + margins.right())
        wrap_buttons(self, room)

    def _fit(self) -> None:
        """Every page arranged for the window's shape (a hidden one counts too: the window
        is as tall as its tallest page), the buttons' words broken into lines where wider
        than the page, and the pages fitted to the height the top bar leaves."""
        for each in dict.fromkeys(self.pages.values()):
            each.arrange(self.width(), self.height())
        self._wrap_words()
        # what the top bar leaves (now, not at the layout's next pass: the countdown may just
        # have made the bar taller)
        left = self.height() - self.window_layout.bar_height(self.width())
        for each in dict.fromkeys(self.pages.values()):  # the window is as tall as the tallest
            fit_page(each, self.width(), left)

    # -- hardening -------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """Count presses as activity; in kiosk mode swallow the keys that would leave."""
        kind = event.type()
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin):
            if watched is self.windowHandle():
                self.controller.send(Touch())
        elif kind in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride) and isinstance(
            event, QKeyEvent
        ):
            if self.kiosk_mode and self.is_escape(event):
                event.accept()
                return True
            if kind is QEvent.Type.KeyPress and watched is self.windowHandle():
                self.controller.send(Touch())
        return False

    @staticmethod
    def is_escape(event: QKeyEvent) -> bool:
        """Esc, Alt+F4, Alt+Tab (and any Alt/Meta chord) — keys that leave a kiosk."""
        mods = event.modifiers()
        chord = bool(mods & (Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier))
        return (
            event.key() == Qt.Key.Key_Escape
            or (chord and event.key() in _ESCAPES)
            or (event.key() in (Qt.Key.Key_Meta, Qt.Key.Key_Super_L, Qt.Key.Key_Super_R))
        )

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        """A numeric keypad's keys act on the page; nothing else typed does in kiosk mode."""
        if self.keypad.press(event, self.current_page()):
            event.accept()
            return
        if self.kiosk_mode:
            event.accept()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Refuse to close in kiosk mode unless staff asked."""
        if not self._allow_close:
            event.ignore()
            return
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        event.accept()

    def staff_exit(self) -> None:
        """Staff asked to leave: close for real."""
        self._allow_close = True
        self.close()
