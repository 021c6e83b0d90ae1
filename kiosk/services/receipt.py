"""The paper receipt of a counter payment, printed through python-escpos.

A payment is settled before its receipt is printed, and a printer can be absent, offline, out
of paper or broken at any moment. So printing is a *port that never raises*:
`ReceiptPrinter.print` answers a `PrintOutcome` — printed, or a typed warning that the screen
passes on to staff — and the payment stands whatever the printer did.

Japanese is printed as *images of the text* (rendered with Pillow in a CJK font such as Noto
Sans CJK JP), not in the printer's Kanji mode: raster images (`GS v 0`) print the same on every
ESC/POS printer, whereas Kanji mode needs a printer sold with a Japanese font ROM and a model's
own choice of Shift_JIS/JIS commands, which python-escpos does not send (its code pages are
single-byte; CP932 there means half-width katakana only). The values a person or a test looks
for — the amount, the transaction id, the time, the terminal and the masked account — are
printed as plain ASCII text beside their Japanese labels, so they are in the bytes as written.
See docs/receipts.md.

The full account reference never reaches this module: a `ReceiptData` holds only the masked
account (`mask_account`), and refuses a value that shows more than its last four characters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from escpos.escpos import Escpos
from escpos.exceptions import (
    DeviceNotFoundError,
)
from escpos.exceptions import Error as EscposError
from escpos.printer import Dummy, File, Network
from PIL import Image, ImageDraw, ImageFont

from kiosk.clock import JST
from kiosk.errors import KioskError
from kiosk.i18n import Text
from kiosk.services.money import Receipt, whole_yen

log = logging.getLogger(__name__)

#: The printer profile assumed unless configured: Epson TM-T88V, 80 mm paper, 512 dots a line.
DEFAULT_PROFILE = "TM-T88V"
#: Dots a line when the profile does not say (58 mm paper: fits every common roll).
_FALLBACK_WIDTH_DOTS = 384
#: Characters of the account shown at the end of the mask.
_ACCOUNT_VISIBLE = 4
_MASK = "*"
#: Where Debian's fonts-noto-cjk (and a few other CJK fonts) live; a Japanese face is chosen.
_CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
)
_LABEL_SIZE = 24
_TITLE_SIZE = 40


# --- the receipt -------------------------------------------------------------------------


class ReceiptError(KioskError):
    """A receipt cannot be rendered (a fault of the set-up, never of the person)."""

    code = "receipt_error"


class CjkFontMissing(ReceiptError):
    """No font with Japanese glyphs was found (install fonts-noto-cjk or configure `font`)."""

    code = "receipt_no_cjk_font"


def _printable_ascii(value: str) -> bool:
    return bool(value) and value.isascii() and value.isprintable()


def mask_account(account_ref: str) -> str:
    """The account as a receipt may show it: `****1234` (only the last four characters).

    A reference of eight characters or fewer shows nothing but the mask, so a short one is
    never mostly revealed.
    """
    visible = _ACCOUNT_VISIBLE if len(account_ref) > 2 * _ACCOUNT_VISIBLE else 0
    tail = account_ref[len(account_ref) - visible :] if visible else ""
    return _MASK * 4 + tail


@dataclass(frozen=True, slots=True)
class ReceiptData:
    """What a printed receipt says; every field is checked so rendering cannot leak or lie."""

    shop: str  # the shop's name as shown (may be Japanese)
    terminal_id: str
    amount_yen: int
    paid_at: datetime  # timezone-aware; printed in Japan time
    masked_account: str  # from `mask_account`, never the account reference itself
    transaction_id: str  # the gateway's receipt number
    test: bool = False  # a TEST gateway's payment: nothing was really charged

    def __post_init__(self) -> None:
        whole_yen(self.amount_yen)
        if self.paid_at.tzinfo is None or self.paid_at.utcoffset() is None:
            raise ValueError("a receipt's time must be timezone-aware")
        for name in ("terminal_id", "transaction_id", "masked_account"):
            if not _printable_ascii(getattr(self, name)):
                raise ValueError(f"a receipt's {name} must be printable ASCII")
        shown = sum(1 for c in self.masked_account if c != _MASK)
        if shown > _ACCOUNT_VISIBLE:
            raise ValueError("a receipt shows at most the last four characters of the account")
        if not self.shop.strip():
            raise ValueError("a receipt names its shop")

    @property
    def amount_text(self) -> str:
        """The amount as printed in ASCII: `JPY 1,280`."""
        return f"JPY {self.amount_yen:,}"

    @property
    def time_text(self) -> str:
        """The time as printed: `2026-12-03 23:47 JST`."""
        return self.paid_at.astimezone(JST).strftime("%Y-%m-%d %H:%M JST")


# --- rendering ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CjkFont:
    """A font file and the face inside it (a .ttc holds several) that has Japanese glyphs."""

    path: str
    index: int = 0

    def at(self, size: int) -> ImageFont.FreeTypeFont:
        """The face at a pixel size."""
        return ImageFont.truetype(self.path, size, index=self.index)


def find_cjk_font(configured: str | None = None) -> CjkFont:
    """The configured font, else the first Japanese face among the usual system fonts.

    Raises CjkFontMissing when none is usable (a receipt without its labels is refused rather
    than printed as boxes).
    """
    candidates = (configured,) if configured else _CJK_FONT_CANDIDATES
    for path in candidates:
        if path and Path(path).is_file():
            font = _japanese_face(path)
            if font is not None:
                return font
    raise CjkFontMissing("no font with Japanese glyphs was found for the receipt")


def _japanese_face(path: str) -> CjkFont | None:
    """The face of `path` named for Japan (Noto's .ttc holds JP, KR, SC, TC, HK), else 0."""
    first: CjkFont | None = None
    for index in range(8):
        try:
            face = ImageFont.truetype(path, 12, index=index)
        except OSError:
            break
        first = first or CjkFont(path, index)
        family = face.getname()[0] or ""
        if family.endswith(" JP") or "Japan" in family:
            return CjkFont(path, index)
    return first


def _text_image(text: str, font: ImageFont.FreeTypeFont, width: int) -> Image.Image:
    """`text` drawn black on white, wrapped to `width` dots, as a 1-bit image."""
    lines = _wrap(text, font, width)
    ascent, descent = font.getmetrics()
    line_height = ascent + descent + 4
    image = Image.new("1", (width, line_height * len(lines)), 1)
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((0, row * line_height), line, font=font, fill=0)
    return image


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Break `text` by character (Japanese has no spaces to break at) to fit `width` dots."""
    lines: list[str] = []
    current = ""
    for char in text:
        if current and font.getlength(current + char) > width:
            lines.append(current)
            current = ""
        current += char
    return [*lines, current] if current else lines or [""]


def _width_dots(printer: Escpos) -> int:
    pixels = printer.profile.profile_data.get("media", {}).get("width", {}).get("pixels")
    return pixels if isinstance(pixels, int) and pixels > 0 else _FALLBACK_WIDTH_DOTS


def render(receipt: ReceiptData, printer: Escpos, font: CjkFont | None = None) -> None:
    """Write the receipt to a python-escpos printer: Japanese labels as images, values as
    ASCII text, then cut. Raises whatever the printer raises (the port turns it into a
    warning) and CjkFontMissing."""
    font = font or find_cjk_font()
    width = _width_dots(printer)
    label, title = font.at(_LABEL_SIZE), font.at(_TITLE_SIZE)

    def japanese(text: str, face: ImageFont.FreeTypeFont = label) -> None:
        printer.image(_text_image(text, face, width))

    printer.hw("INIT")
    if receipt.test:
        _test_banner(printer)
        japanese("テスト取引です。実際の請求はありません。")
    printer.set(align="left")
    japanese("領収書", title)
    japanese(receipt.shop)
    for name, value in (
        ("日時  Date", receipt.time_text),
        ("端末  Terminal", receipt.terminal_id),
        ("口座  Account", receipt.masked_account),
        ("取引番号  Transaction", receipt.transaction_id),
    ):
        japanese(name)
        printer.textln(value)
    japanese("ご利用金額  Amount")
    printer.set(bold=True, double_height=True, double_width=True)
    printer.textln(receipt.amount_text)
    printer.set_with_default()
    japanese("マイナンバーカードでお支払いいただきました。ありがとうございました。")
    if receipt.test:
        _test_banner(printer)
    printer.cut()


def _test_banner(printer: Escpos) -> None:
    printer.set(align="center", bold=True, double_height=True, double_width=True, invert=True)
    printer.textln(" *** TEST *** ")
    printer.set_with_default()


def receipt_bytes(receipt: ReceiptData, font: CjkFont | None = None) -> bytes:
    """The ESC/POS bytes of the receipt, through python-escpos's Dummy printer."""
    printer = Dummy(profile=DEFAULT_PROFILE)
    render(receipt, printer, font)
    return bytes(printer.output)


# --- the port and its adapters -------------------------------------------------------------


class PrintStatus(Enum):
    """How printing a receipt ended; everything but PRINTED is a warning to staff."""

    PRINTED = "printed"
    NO_PRINTER = "no_printer"
    OFFLINE = "offline"
    OUT_OF_PAPER = "out_of_paper"
    ERROR = "error"


_STAFF_TEXTS = {
    PrintStatus.NO_PRINTER: Text(
        "レシートプリンターが設定されていません。お支払いは完了しています。",
        "No receipt printer is set up. The payment is complete.",
        "レシートは でません。しはらいは おわりました。",
    ),
    PrintStatus.OFFLINE: Text(
        "レシートプリンターにつながりません。お支払いは完了しています。係員をお呼びください。",
        "The receipt printer cannot be reached. The payment is complete; please call staff.",
        "レシートが でません。しはらいは おわりました。かかりの ひとを よんで ください。",
    ),
    PrintStatus.OUT_OF_PAPER: Text(
        "レシートの用紙がありません。お支払いは完了しています。係員をお呼びください。",
        "The receipt printer is out of paper. The payment is complete; please call staff.",
        "レシートの かみが ありません。しはらいは おわりました。かかりの ひとを よんで ください。",
    ),
    PrintStatus.ERROR: Text(
        "レシートを印刷できませんでした。お支払いは完了しています。係員をお呼びください。",
        "The receipt could not be printed. The payment is complete; please call staff.",
        "レシートが でません。しはらいは おわりました。かかりの ひとを よんで ください。",
    ),
}


@dataclass(frozen=True, slots=True)
class PrintOutcome:
    """The printer's answer: PRINTED, or a warning with a short machine code for the log."""

    status: PrintStatus
    code: str = ""  # e.g. "unreachable", "no_paper", "no_cjk_font", "usb_support_missing"

    @property
    def printed(self) -> bool:
        """True when the receipt went to the printer."""
        return self.status is PrintStatus.PRINTED

    @property
    def staff_text(self) -> Text | None:
        """What the screen tells the person and staff, or None when printed."""
        return _STAFF_TEXTS.get(self.status)


PRINTED = PrintOutcome(PrintStatus.PRINTED)


class ReceiptPrinter(Protocol):
    """Prints a receipt; never raises: every failure is a warning outcome."""

    def print(self, receipt: ReceiptData) -> PrintOutcome:
        """Print the receipt and say how it went."""
        ...


@dataclass(frozen=True, slots=True)
class NoReceiptPrinter:
    """No printer configured: the receipt is only on screen."""

    def print(self, receipt: ReceiptData) -> PrintOutcome:
        """Always NO_PRINTER."""
        return PrintOutcome(PrintStatus.NO_PRINTER, "not_configured")


@dataclass(frozen=True, slots=True)
class EscposReceiptPrinter:
    """A receipt printer reached through python-escpos; a fresh connection per receipt.

    `connect` builds the escpos printer object (Network, File, Usb or a test double); with
    `check_paper` the printer's paper sensor is asked first (DLE EOT; bidirectional links
    only) so an empty roll is reported as OUT_OF_PAPER rather than printed into nothing.
    """

    connect: Callable[[], Escpos]
    check_paper: bool = False
    font: str | None = None  # a CJK font file; None: found on the system

    def print(self, receipt: ReceiptData) -> PrintOutcome:
        """Print; any escpos, USB or socket failure becomes a warning, never an exception.

        This is the boundary between a settled payment and a device: catching everything here
        is deliberate (the payment stands; staff are told), and only the failure's type and
        code are logged, never the receipt.
        """
        printer: Escpos | None = None
        try:
            font = find_cjk_font(self.font)
            printer = self.connect()
            printer.open()
            if self.check_paper and _no_paper(printer):
                return PrintOutcome(PrintStatus.OUT_OF_PAPER, "no_paper")
            render(receipt, printer, font)
            return PRINTED
        except Exception as error:  # noqa: BLE001 - the port's contract: never raise
            outcome = _outcome_of(error)
            log.warning("receipt not printed: %s (%s)", outcome.code, type(error).__name__)
            return outcome
        finally:
            if printer is not None:
                _close_quietly(printer)


def _no_paper(printer: Escpos) -> bool:
    """True only when the printer says its roll is empty; no or a garbled answer is not."""
    try:
        return bool(printer.paper_status() == 0)
    except (OSError, NotImplementedError, EscposError):
        return False


def _close_quietly(printer: Escpos) -> None:
    try:
        printer.close()
    except Exception:  # noqa: BLE001 - closing a broken device must not undo the outcome
        log.debug("closing the receipt printer failed", exc_info=True)


def _outcome_of(error: Exception) -> PrintOutcome:
    """The warning for a failure: unreachable devices are OFFLINE, the rest ERROR."""
    if isinstance(error, CjkFontMissing):
        return PrintOutcome(PrintStatus.ERROR, "no_cjk_font")
    if isinstance(error, DeviceNotFoundError):
        return PrintOutcome(PrintStatus.OFFLINE, "unreachable")
    if isinstance(error, TimeoutError):
        return PrintOutcome(PrintStatus.OFFLINE, "timeout")
    if isinstance(error, OSError):
        return PrintOutcome(PrintStatus.OFFLINE, "connection_lost")
    if isinstance(error, ImportError):
        return PrintOutcome(PrintStatus.ERROR, "usb_support_missing")
    if isinstance(error, EscposError):
        return PrintOutcome(PrintStatus.ERROR, "escpos")
    return PrintOutcome(PrintStatus.ERROR, "unexpected")


# --- configuration -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceiptPrinterSettings:
    """The `[receipt]` section: which printer, and how to reach it."""

    printer: str = "none"  # "none" | "network" | "file" | "usb"
    host: str = ""
    port: int = 9100
    timeout_seconds: float = 5.0
    path: str = ""  # a device file such as /dev/usb/lp0
    usb_vendor: int = 0
    usb_product: int = 0
    profile: str = DEFAULT_PROFILE  # a python-escpos printer profile (paper width)
    font: str = ""  # a CJK font file; empty: found on the system
    check_paper: bool = True  # ask the paper sensor first (network and USB only)

    def __post_init__(self) -> None:
        if self.printer not in ("none", "network", "file", "usb"):
            raise ValueError("receipt.printer is one of none, network, file, usb")
        if self.printer == "network" and not self.host:
            raise ValueError("receipt.host is needed for a network printer")
        if self.printer == "file" and not self.path:
            raise ValueError("receipt.path is needed for a file printer")
        if self.printer == "usb" and not (self.usb_vendor and self.usb_product):
            raise ValueError("receipt.usb_vendor and receipt.usb_product are needed for USB")
        if not 0 < self.timeout_seconds <= 60:
            raise ValueError("receipt.timeout_seconds is above 0 and at most 60")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ReceiptPrinterSettings:
        """Settings from a TOML table; an unknown key is refused with its name."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown key receipt.{unknown[0]}")
        return cls(**dict(values))


def build_receipt_printer(settings: ReceiptPrinterSettings) -> ReceiptPrinter:
    """The adapter the settings describe (the composition root calls this once)."""
    font = settings.font or None
    profile = settings.profile
    if settings.printer == "network":
        return EscposReceiptPrinter(
            lambda: Network(
                settings.host, settings.port, settings.timeout_seconds, profile=profile
            ),
            check_paper=settings.check_paper,
            font=font,
        )
    if settings.printer == "file":
        return EscposReceiptPrinter(
            lambda: File(settings.path, profile=profile), check_paper=False, font=font
        )
    if settings.printer == "usb":
        return EscposReceiptPrinter(
            lambda: _usb_printer(settings), check_paper=settings.check_paper, font=font
        )
    return NoReceiptPrinter()


def _usb_printer(settings: ReceiptPrinterSettings) -> Escpos:
    """A USB printer; pyusb (and libusb) are imported only now, when USB is configured.

    Without them escpos raises a RuntimeError on open; it is reported as an ImportError so
    the outcome says `usb_support_missing`.
    """
    from escpos.printer.usb import Usb, is_usable

    if not is_usable():
        raise ImportError("python-escpos's USB printer needs pyusb and libusb")
    timeout_ms = int(settings.timeout_seconds * 1000)
    printer: Escpos = Usb(
        settings.usb_vendor, settings.usb_product, timeout=timeout_ms, profile=settings.profile
    )
    return printer


def receipt_data(paid: Receipt, *, terminal_id: str, account_ref: str, test: bool) -> ReceiptData:
    """The printed receipt of a completed payment; the account is masked here, once."""
    return ReceiptData(
        shop=paid.shop,
        terminal_id=terminal_id,
        amount_yen=paid.amount_yen,
        paid_at=paid.paid_at,
        masked_account=mask_account(account_ref),
        transaction_id=paid.receipt_no,
        test=test,
    )
