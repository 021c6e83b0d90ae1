"""Screenshots of every kiosk screen, in each language, from the real app on a virtual card.

Run under Xvfb (a real X window, as on the kiosk):

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python packaging/screenshots.py

It builds the kiosk window exactly as `kiosk run` does (kiosk mode, full screen, the
configured theme), with local verification against a TEST PKI and the card in an in-process
reader instead of PC/SC, so it can also pull the card, block a PIN and hold the card busy.
With `--config` it uses that configuration's trust anchors, CRLs and `card.json` (the
`kiosk demo` card); without, it makes a throw-away TEST PKI and card. The card file is never
written back. PNGs go to `<out>/<language>/NN-name.png`.

`--large` switches 文字を大きく on first, and `--size 800x1280` makes the window that size
(not full screen; the picture is the window's own); such a variant goes to
`<out>/<variant>/<language>/NN-name.png`, the variant named `large-landscape`, `portrait` or
`large-portrait`. `--screens` keeps only the pictures named (the tour still walks them all);
`--palette` saves them with 256 colours (a third of the bytes, for the documentation).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STAFF_ID = "1"  # the demo's staff number
STAFF_PIN = "000000"  # noqa: S105 - the demo staff PIN


class Clock:
    """A monotonic clock the script can move forward (to show the idle countdown)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="kiosk configuration (trust_dir, crl_dir, data_dir)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--languages", default="ja,en", help="comma-separated: ja,en,ja-easy")
    parser.add_argument("--large", action="store_true", help="large text (文字を大きく) on")
    parser.add_argument("--size", type=window_size, help="the window's size, e.g. 800x1280")
    parser.add_argument(
        "--screens", help="comma-separated names of the pictures to keep (default: all)"
    )
    parser.add_argument("--palette", action="store_true", help="256-colour PNGs (smaller)")
    args = parser.parse_args(argv)
    variant = variant_name(args.large, args.size)
    keep = None if not args.screens else {n.strip() for n in args.screens.split(",")}

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        cfg, card_file = prepare(args.config, Path(tmp))
        for language in languages:
            out = Path(args.out) / variant / language
            out.mkdir(parents=True, exist_ok=True)
            look = {"large": args.large, "size": args.size, "keep": keep, "palette": args.palette}
            tour = Tour(app, cfg, card_file, language, out, **look)
            tour.run()
            services = ServicesTour(app, cfg, card_file, language, out, tour.stop_count + 1, **look)
            services.run()
            shots = tour.shots + services.shots
            print(f"{language}: {len(shots)} screenshots in {out}")
    return 0


def window_size(value: str) -> tuple[int, int]:
    """`--size`: "800x1280" as (800, 1280)."""
    width, _, height = value.lower().partition("x")
    try:
        return int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not WIDTHxHEIGHT: {value}") from None


def variant_name(large: bool, size: tuple[int, int] | None) -> str:
    """The folder of a variant: "" for the usual screens (full screen, landscape, usual text),
    else `large-landscape`, `portrait` or `large-portrait`."""
    portrait = size is not None and size[1] > size[0]
    if not large and not portrait:
        return ""
    shape = "portrait" if portrait else "landscape"
    return f"large-{shape}" if large else shape


def prepare(config_path: str | None, tmp: Path):  # noqa: ANN201
    """The kiosk configuration and the virtual card to use."""
    from kiosk import config
    from kiosk.flow.staff import Credential, StaffMember
    from kiosk.pki.authority import init_pki
    from kiosk.pki.cardfile import load_card

    staff = (StaffMember(STAFF_ID, Credential.make(STAFF_PIN)),)
    providers = {"demo-clinic": "みなと診療所", "demo-pharmacy": "みなと薬局"}
    if config_path:
        cfg = config.load(config_path)
        card_path = cfg.data_dir / "card.json"
        if card_path.exists():
            # the tour's script walks the identity check alone first (ServicesTour offers the
            # others together), whatever services the configuration offers
            tour = replace(cfg, staff=staff, sound=False, providers=providers)
            return replace(tour, services=("identity",)), load_card(card_path)
    pki = init_pki(tmp / "pki")
    cfg = config.Config(
        data_dir=tmp,
        trust_dir=pki.trust_dir,
        crl_dir=pki.crl_dir,
        staff=staff,
        sound=False,
        providers=providers,
    )
    return cfg, pki.issue_card()


class Tour:
    """One walk through every screen in one language, saving a PNG at each stop."""

    def __init__(  # noqa: ANN001, PLR0913
        self,
        app,
        cfg,
        card_file,
        language: str,
        out: Path,
        first: int = 1,
        *,
        large: bool = False,
        size: tuple[int, int] | None = None,
        keep: set[str] | None = None,
        palette: bool = False,
    ) -> None:
        from kiosk.app import available_services, build_window
        from kiosk.card.reader import InProcessReader
        from kiosk.clock import utc_now
        from kiosk.demo.audit import MemoryAudit
        from kiosk.demo.verification import MemoryVerificationStore
        from kiosk.flow.staff import StaffDesk
        from kiosk.services.visit import Visit
        from kiosk.verify.challenge import ChallengeService
        from kiosk.verify.crl import verify_crl_in
        from kiosk.verify.trust import TrustStore
        from kiosk.verify.verifier import Verifier

        self.app = app
        self.card_file = card_file
        self.language = language
        self.out = out
        self.first = first  # the number of this tour's first picture
        self.stop_count = 0  # the stops made (a picture each, unless not kept)
        self.shots: list[Path] = []
        self.size = size  # the window's, when not full screen
        self.keep = keep  # the names of the pictures to save (None: all)
        self.palette = palette  # saved with 256 colours
        trust = TrustStore.from_dir(cfg.trust_dir)
        index = MemoryVerificationStore()
        for crl in sorted(cfg.crl_dir.glob("*")):
            index.import_crl(verify_crl_in(crl.read_bytes(), trust, utc_now()))
        challenges = ChallengeService()
        self.reader = InProcessReader()
        audit = MemoryAudit()
        self.provider_id = cfg.provider_id
        self.services = available_services(cfg.terminal_id, cfg.provider_id)
        backend = Visit(
            self.reader.connect,
            Verifier(trust, index, challenges),
            challenges,
            audit,
            self.services,
            cfg.terminal_id,
            utc_now,
        )
        self.clock = Clock()
        staff = StaffDesk(cfg.staff, audit, cfg.provider_id, utc_now)
        self.window, self.controller = build_window(
            cfg, self.reader, backend, windowed=False, clock=self.clock, staff=staff
        )
        self.window.show_kiosk()
        if size is not None:  # a window of that size, not the screen's
            self.window.showNormal()
            app.processEvents()  # the full-screen state settled before the new size
            self.window.setGeometry(0, 0, *size)
            app.processEvents()
        if large:  # as a person would switch it on, on the screen as it is
            self.window.toggle_large_text()
            app.processEvents()

    # -- helpers -------------------------------------------------------------------

    def wait(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"stuck on {self.controller.state.screen}")
            self.app.processEvents()
            time.sleep(0.005)

    def at(self, screen: str) -> None:
        self.wait(lambda: self.controller.state.screen.value == screen)

    def send(self, event) -> None:  # noqa: ANN001
        from kiosk.flow.machine import SetLanguage

        self.controller.send(event)
        if self.controller.state.language != self.language:
            self.controller.send(SetLanguage(self.language))  # as the person would tap it

    def press(self, keys: str) -> None:
        page = self.window.current_page()
        for key in keys:
            page.pad.press(key)
        page.pad.ok_button.click()

    def shot(self, name: str) -> None:
        from kiosk.flow.machine import SetLanguage

        if self.controller.state.language != self.language:
            self.controller.send(SetLanguage(self.language))
        for _ in range(5):
            self.app.processEvents()
            time.sleep(0.01)
        self.window.current_page().repaint()  # widgets added on entering (consent items)
        self.app.processEvents()
        self.stop_count += 1
        if self.keep is not None and name not in self.keep:
            return
        screen = self.window.screen()
        if self.size is not None or os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen"):
            pixmap = self.window.grab()
        else:
            pixmap = screen.grabWindow(0)
        path = self.out / f"{self.first + self.stop_count - 1:02d}-{name}.png"
        if self.palette:
            save_with_palette(pixmap, path)
        else:
            pixmap.save(str(path))
        self.shots.append(path)

    def insert(self, card=None):  # noqa: ANN001, ANN201
        from kiosk.simcard.applet import VirtualCard

        card = card or VirtualCard(self.card_file)
        self.reader.insert(card)
        return card

    # -- the tour ------------------------------------------------------------------

    def run(self) -> list[Path]:
        from kiosk.flow.machine import (
            ChooseProvider,
            ConfirmInfo,
            Consent,
            Done,
            ReaderChanged,
            StaffAssist,
            StaffRequest,
            Start,
            SubmitAssist,
            Touch,
        )
        from kiosk.reader_status import ReaderStatus

        c = self.controller
        self.at("attract")
        self.shot("attract")
        self.send(Start())
        self.at("providers")
        self.shot("provider-choice")
        self.send(ChooseProvider(c.flow.config.providers[0].id))
        self.at("insert_card")
        self.shot("insert-card")
        self.reader.insert(ForeignCard())
        self.wait(lambda: c.state.reader.value == "not_my_number")
        self.shot("not-a-my-number-card")
        self.reader.pull()

        card = GatedCard(self.card_file)
        self.insert(card)
        self.at("pin")
        self.shot("pin")
        self.clock.offset += c.flow.config.idle_timeout_s - 8
        self.wait(lambda: self.window.countdown.isVisible())
        self.shot("idle-countdown")
        self.send(Touch())
        self.press("9999")
        self.wait(lambda: c.state.problem is not None and c.state.screen.value == "pin")
        self.shot("pin-wrong")
        self.reader.pull()
        self.at("put_back")
        self.shot("put-card-back")
        self.insert(card)
        self.at("pin")
        card.arm()
        self.press("1234")
        self.wait(card.signing.is_set)
        self.at("working")
        self.shot("working")
        card.release()
        self.at("password")
        self.shot("signature-password")
        self.press("ABC123")
        self.at("review")
        self.shot("review-4-info")
        self.send(ConfirmInfo())
        self.at("enrol_consent")
        self.shot("consent")
        self.send(Consent())
        self.at("result")
        self.shot("result-identity")
        self.send(Done())
        self.at("take_card")
        self.shot("take-your-card")
        self.reader.pull()
        self.at("attract")

        self.send(Start())
        self.send(ChooseProvider(c.flow.config.providers[0].id))
        card = GatedCard(self.card_file)
        self.insert(card)
        self.at("pin")
        card.arm()
        self.press("1234")
        self.wait(card.signing.is_set)
        self.send(ReaderChanged(ReaderStatus.READY))  # the card goes mid-signing
        self.reader.pull()
        card.release()
        self.at("error")
        self.shot("error-card-removed")
        self.send(Done())
        self.at("attract")

        self.send(Start())
        self.send(ChooseProvider(c.flow.config.providers[0].id))
        self.insert(GatedCard(self.card_file.with_retries(auth=1)))
        self.at("pin")
        self.shot("pin-last-try")
        self.press("9999")
        self.at("blocked")
        self.shot("blocked")
        self.send(Done())
        self.reader.pull()
        self.at("attract")

        self.send(StaffRequest())
        self.at("staff_login")
        self.shot("staff-login")
        self.press(STAFF_ID)
        self.wait(lambda: self.controller.state.staff_login_id == STAFF_ID)
        self.press(STAFF_PIN)
        self.at("staff_menu")
        self.shot("staff-menu")
        self.send(StaffAssist())
        self.at("staff_assist")
        page = self.window.current_page()
        page.insurer.setText("06123456")
        page.member.setText("12-345")
        self.shot("staff-assisted-check")
        self.send(SubmitAssist("06123456", "12-345"))
        self.at("result")
        self.shot("result-staff-assisted")
        self.send(Done())
        self.at("attract")

        self.window.toggle_contrast()
        self.shot("high-contrast-attract")
        self.send(Start())
        self.send(ChooseProvider(c.flow.config.providers[0].id))
        self.insert()
        self.at("pin")
        self.shot("high-contrast-pin")
        self.window.toggle_contrast()
        self.controller.stop()
        self.window.staff_exit()
        return self.shots


class ServicesTour(Tour):
    """The other services, offered together: the picker, the payment with its amount before
    consent, the insurance check's consent and result, and a login's binding code typed at the
    kiosk (TEST adapters: the TEST login broker plays the online service)."""

    SERVICES = ("identity", "insurance", "login", "payment")

    def __init__(  # noqa: ANN001, ANN003
        self, app, cfg, card_file, language: str, out: Path, first: int = 1, **look
    ) -> None:
        one_provider = {cfg.provider_id: "みなと薬局"}
        cfg = replace(cfg, services=self.SERVICES, providers=one_provider)
        super().__init__(app, cfg, card_file, language, out, first, **look)

    def visit(self, service_id: str) -> None:
        from kiosk.flow.machine import ChooseService, Start

        self.at("attract")
        self.send(Start())
        self.at("services")
        if service_id == "payment":
            self.shot("service-picker")
        self.send(ChooseService(service_id))
        self.at("insert_card")
        self.insert()
        self.at("pin")
        self.press("1234")

    def leave(self) -> None:
        from kiosk.flow.machine import Done

        self.send(Done())
        self.at("take_card")
        self.reader.pull()
        self.at("attract")

    def run(self) -> list[Path]:
        from kiosk.flow.machine import ConfirmInfo, Consent

        self.visit("payment")  # the first visit: the card is linked here first
        self.at("password")
        self.press("ABC123")
        self.at("review")
        self.send(ConfirmInfo())
        self.at("enrol_consent")
        self.send(Consent())
        self.at("service_consent")
        self.shot("payment-amount-before-consent")
        self.send(Consent(frozenset({"pay"})))
        self.at("result")
        self.shot("payment-receipt")
        self.leave()

        self.visit("insurance")
        self.at("service_consent")
        self.shot("insurance-sharing-consent")
        self.send(Consent(frozenset({"medication"})))
        self.at("result")
        self.shot("insurance-eligibility")
        self.leave()

        code = self.services["login"].broker.open("TEST オンラインショップ", [self.provider_id])
        self.visit("login")
        self.at("binding_code")
        pad = self.window.current_page().pad
        for key in code:
            pad.press(key)
        self.shot("login-code-entry")
        pad.ok_button.click()
        self.at("service_consent")
        self.send(Consent(frozenset({"sign_in"})))
        self.at("result")
        self.leave()
        self.controller.stop()
        self.window.staff_exit()
        return self.shots


def save_with_palette(pixmap, path: Path) -> None:  # noqa: ANN001
    """Save `pixmap` as a PNG of 256 colours chosen from it (no dithering: flat colours and
    the text's edges stay clean), a third of the bytes of a full-colour one."""
    from io import BytesIO

    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice

    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    pixmap.save(buffer, "PNG")
    image = Image.open(BytesIO(bytes(buffer.data().data()))).convert("RGB")
    image.quantize(colors=256, dither=Image.Dither.NONE).save(path, optimize=True)


class GatedCard:
    """The virtual card, able to hold still just before signing (to show the working screen)."""

    def __init__(self, card_file) -> None:  # noqa: ANN001
        from kiosk.simcard.applet import VirtualCard

        self._card = VirtualCard(card_file)
        self.atr = self._card.atr
        self.signing = threading.Event()
        self._go = threading.Event()
        self._go.set()

    def arm(self) -> None:
        self.signing.clear()
        self._go.clear()

    def release(self) -> None:
        self._go.set()

    def power_on(self) -> None:
        self._card.power_on()

    def power_off(self) -> None:
        self._card.power_off()

    def reset(self) -> None:
        self._card.reset()

    def transmit(self, apdu: bytes) -> bytes:
        if apdu[:2] == b"\x80\x2a":
            self.signing.set()
            self._go.wait(30)
        return self._card.transmit(apdu)


class ForeignCard:
    """A card without the JPKI application."""

    atr = bytes.fromhex("3b8f8001")

    def power_on(self) -> None: ...

    def power_off(self) -> None: ...

    def reset(self) -> None: ...

    def transmit(self, apdu: bytes) -> bytes:
        return bytes.fromhex("6a82")


if __name__ == "__main__":
    sys.exit(main())
