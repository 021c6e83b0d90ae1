"""Printed receipts through python-escpos: what the bytes say (amount, transaction id, TEST,
Japan time, a masked account only), Japanese as raster images, and a printer that fails in any
way giving a warning outcome, never an exception, while the payment stays settled."""

from __future__ import annotations

import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from escpos.exceptions import Error as EscposError
from escpos.printer import Dummy

from kiosk.demo.payment import MemoryCardGateway
from kiosk.services.card_gateway import Approved
from kiosk.services.money import Receipt
from kiosk.services.payment import idempotency_key
from kiosk.services.receipt import (
    DEFAULT_PROFILE,
    PRINTED,
    CjkFontMissing,
    EscposReceiptPrinter,
    NoReceiptPrinter,
    PrintStatus,
    ReceiptData,
    ReceiptPrinterSettings,
    build_receipt_printer,
    find_cjk_font,
    mask_account,
    receipt_bytes,
    receipt_data,
    render,
)

ACCOUNT = "ACCT-7730-0000-4821"
PAID_AT = datetime(2026, 12, 3, 14, 47, tzinfo=UTC)  # 23:47 in Japan


def _receipt(**changes: object) -> ReceiptData:
    base = ReceiptData(
        shop="デモ商店 本店",
        terminal_id="kiosk-7",
        amount_yen=1280,
        paid_at=PAID_AT,
        masked_account=mask_account(ACCOUNT),
        transaction_id="R-TEST-0042",
        test=False,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# --- what the bytes say ------------------------------------------------------------------


def test_the_bytes_carry_the_amount_and_the_transaction_id_in_ascii() -> None:
    data = receipt_bytes(_receipt())

    assert b"JPY 1,280" in data
    assert b"R-TEST-0042" in data
    assert b"kiosk-7" in data


def test_a_test_gateway_receipt_says_test_and_a_real_one_does_not() -> None:
    assert b"TEST ***" in receipt_bytes(_receipt(test=True))
    assert b"TEST ***" not in receipt_bytes(_receipt(test=False))


def test_the_time_is_printed_in_japan_time() -> None:
    assert b"2026-12-03 23:47 JST" in receipt_bytes(_receipt())
    # 20:30 UTC is already the next day in Japan
    late = datetime(2026, 12, 3, 20, 30, tzinfo=UTC)
    assert b"2026-12-04 05:30 JST" in receipt_bytes(_receipt(paid_at=late))
    # any aware time is converted, not printed in its own zone
    pacific = datetime(2026, 12, 2, 22, 47, tzinfo=timezone(timedelta(hours=-8)))
    assert b"2026-12-03 15:47 JST" in receipt_bytes(_receipt(paid_at=pacific))


def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _receipt(paid_at=datetime(2026, 12, 3, 14, 47))


def test_the_account_reference_never_appears_in_clear() -> None:
    assert mask_account(ACCOUNT) == "****4821"
    data = receipt_bytes(_receipt())

    assert b"****4821" in data
    assert ACCOUNT.encode() not in data
    assert b"7730" not in data


def test_a_short_account_reference_shows_only_the_mask() -> None:
    assert mask_account("AC-12345") == "****"


def test_a_receipt_refuses_an_account_reference_that_is_not_masked() -> None:
    with pytest.raises(ValueError, match="last four"):
        _receipt(masked_account=ACCOUNT)


@pytest.mark.parametrize(
    ("field", "value"),
    [("amount_yen", 0), ("amount_yen", 12.5), ("transaction_id", ""), ("shop", " ")],
)
def test_a_receipt_refuses_values_it_cannot_print_truthfully(field: str, value: object) -> None:
    with pytest.raises(ValueError):
        _receipt(**{field: value})


def test_the_transaction_id_must_be_printable_ascii() -> None:
    with pytest.raises(ValueError, match="transaction_id"):
        _receipt(transaction_id="R-0042\x1b@")


def test_japanese_is_printed_as_raster_images_not_kanji_mode() -> None:
    data = receipt_bytes(_receipt())

    assert b"\x1dv0" in data  # GS v 0: a raster image
    assert b"\x1c&" not in data  # FS &: Kanji mode is never entered
    assert "領収書".encode("shift_jis") not in data
    assert b"\x1dV" in data[-8:]  # GS V: cut at the end


def _paid(gateway: MemoryCardGateway) -> tuple[str, Receipt]:
    """A TEST charge of ¥1,280 and its receipt (the key as the payment service makes it)."""
    key = idempotency_key("demo-shop", "kiosk-7", ACCOUNT, "REQ-1", 1280)
    approved = gateway.authorise_and_capture(key, "demo-shop", "kiosk-7", ACCOUNT, 1280, "REQ-1")
    assert isinstance(approved, Approved)
    receipt = Receipt(
        approved.transaction_id, "REQ-1", 1280, "ORDER-1", "デモ商店", approved.approved_at
    )
    return key, receipt


def test_the_receipt_of_a_payment_masks_the_account_once() -> None:
    _key, paid = _paid(MemoryCardGateway(clock=lambda: PAID_AT))

    receipt = receipt_data(paid, terminal_id="kiosk-7", account_ref=ACCOUNT, test=True)

    assert receipt.masked_account == "****4821"
    assert receipt.transaction_id == paid.receipt_no == "T-TEST-000001"
    assert receipt.amount_yen == 1280 and receipt.test and receipt.paid_at == PAID_AT


def test_a_system_cjk_font_with_a_japanese_face_is_found() -> None:
    font = find_cjk_font()

    assert font.at(12).getname()[0].endswith(" JP")  # fonts-noto-cjk's Japanese face


def test_a_missing_configured_font_is_refused() -> None:
    with pytest.raises(CjkFontMissing):
        find_cjk_font("/nonexistent/font.ttc")


# --- the port never raises -------------------------------------------------------------


class _Raising:
    """A stand-in escpos printer whose every method raises."""

    def __init__(self, error: Exception) -> None:
        self._error = error

    def __getattr__(self, name: str) -> object:
        def fail(*_args: object, **_kwargs: object) -> None:
            raise self._error

        return fail


class _BreaksAtCut(Dummy):
    """A printer that accepts the receipt and then fails (a jam, a pulled cable) at the cut."""

    def __init__(self, error: Exception) -> None:
        super().__init__(profile=DEFAULT_PROFILE)
        self._error = error

    def cut(self, mode: str = "FULL", feed: bool = True) -> None:
        raise self._error


class _Paper(Dummy):
    """A printer whose paper sensor answers `status` (2 plenty, 1 near end, 0 empty)."""

    def __init__(self, status: int) -> None:
        super().__init__(profile=DEFAULT_PROFILE)
        self._status = status

    def paper_status(self) -> int:
        return self._status


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (OSError("no route"), PrintStatus.OFFLINE, "connection_lost"),
        (TimeoutError(), PrintStatus.OFFLINE, "timeout"),
        (EscposError("bad"), PrintStatus.ERROR, "escpos"),
        (RuntimeError("usb library missing"), PrintStatus.ERROR, "unexpected"),
        (ValueError("anything"), PrintStatus.ERROR, "unexpected"),
    ],
)
def test_a_printer_whose_methods_raise_gives_a_warning(
    error: Exception, status: PrintStatus, code: str
) -> None:
    printer = EscposReceiptPrinter(lambda: _Raising(error))  # type: ignore[arg-type,return-value]

    outcome = printer.print(_receipt())

    assert (outcome.status, outcome.code) == (status, code)
    assert not outcome.printed
    assert outcome.staff_text is not None and outcome.staff_text.en


def test_a_printer_failing_mid_receipt_gives_a_warning() -> None:
    outcome = EscposReceiptPrinter(lambda: _BreaksAtCut(BrokenPipeError())).print(_receipt())

    assert outcome.status is PrintStatus.OFFLINE


def test_a_printer_that_cannot_be_built_gives_a_warning() -> None:
    def connect() -> Dummy:
        raise RuntimeError("driver")

    assert EscposReceiptPrinter(connect).print(_receipt()).status is PrintStatus.ERROR


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


def test_a_network_printer_on_a_closed_port_is_offline_not_an_exception() -> None:
    settings = ReceiptPrinterSettings(
        printer="network", host="127.0.0.1", port=_closed_port(), timeout_seconds=2
    )

    outcome = build_receipt_printer(settings).print(_receipt())

    assert (outcome.status, outcome.code) == (PrintStatus.OFFLINE, "unreachable")


def test_a_network_printer_receives_the_receipt_bytes() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(10)
        settings = ReceiptPrinterSettings(
            printer="network",
            host="127.0.0.1",
            port=server.getsockname()[1],
            check_paper=False,
        )

        outcome = build_receipt_printer(settings).print(_receipt())

        connection, _ = server.accept()
        with connection:
            received = b""
            while chunk := connection.recv(65536):
                received += chunk

    assert outcome == PRINTED
    assert received == receipt_bytes(_receipt())


def test_the_file_device_receives_the_receipt_bytes(tmp_path: Path) -> None:
    device = tmp_path / "lp0"
    settings = ReceiptPrinterSettings(printer="file", path=str(device))

    outcome = build_receipt_printer(settings).print(_receipt(test=True))

    assert outcome == PRINTED
    assert device.read_bytes() == receipt_bytes(_receipt(test=True))


def test_a_file_device_that_cannot_be_opened_is_offline(tmp_path: Path) -> None:
    settings = ReceiptPrinterSettings(printer="file", path=str(tmp_path / "absent" / "lp0"))

    outcome = build_receipt_printer(settings).print(_receipt())

    assert (outcome.status, outcome.code) == (PrintStatus.OFFLINE, "unreachable")


def test_an_empty_roll_is_out_of_paper_and_nothing_is_printed() -> None:
    printer = _Paper(0)

    outcome = EscposReceiptPrinter(lambda: printer, check_paper=True).print(_receipt())

    assert (outcome.status, outcome.code) == (PrintStatus.OUT_OF_PAPER, "no_paper")
    assert b"R-TEST-0042" not in printer.output


@pytest.mark.parametrize("status", [1, 2])
def test_a_roll_with_paper_prints(status: int) -> None:
    printer = _Paper(status)

    outcome = EscposReceiptPrinter(lambda: printer, check_paper=True).print(_receipt())

    assert outcome == PRINTED
    assert b"R-TEST-0042" in printer.output


def test_a_missing_font_is_an_error_warning_not_boxes() -> None:
    printer = Dummy(profile=DEFAULT_PROFILE)

    outcome = EscposReceiptPrinter(lambda: printer, font="/nonexistent.ttc").print(_receipt())

    assert (outcome.status, outcome.code) == (PrintStatus.ERROR, "no_cjk_font")
    assert printer.output == b""


def test_no_printer_configured_is_a_warning() -> None:
    outcome = build_receipt_printer(ReceiptPrinterSettings()).print(_receipt())

    assert outcome == NoReceiptPrinter().print(_receipt())
    assert outcome.status is PrintStatus.NO_PRINTER
    text = outcome.staff_text
    assert text is not None and text.ja and text.en and text.easy


def test_usb_without_pyusb_is_a_warning() -> None:
    pytest.importorskip("escpos.printer.usb")
    try:
        import usb  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pyusb is installed here")
    settings = ReceiptPrinterSettings(printer="usb", usb_vendor=0x04B8, usb_product=0x0202)

    outcome = build_receipt_printer(settings).print(_receipt())

    assert (outcome.status, outcome.code) == (PrintStatus.ERROR, "usb_support_missing")


def test_a_failed_print_leaves_the_payment_settled() -> None:
    gateway = MemoryCardGateway(clock=lambda: PAID_AT)
    key, paid = _paid(gateway)
    printer = EscposReceiptPrinter(lambda: _Raising(OSError("offline")))  # type: ignore[arg-type,return-value]

    outcome = printer.print(
        receipt_data(paid, terminal_id="kiosk-7", account_ref=ACCOUNT, test=True)
    )

    assert outcome.status is PrintStatus.OFFLINE
    assert [c.transaction_id for c in gateway.charges] == [paid.receipt_no]
    # the same charge again answers the first approval: the failed print changed nothing
    again = gateway.authorise_and_capture(key, "demo-shop", "kiosk-7", ACCOUNT, 1280, "REQ-1")
    assert isinstance(again, Approved) and again.transaction_id == paid.receipt_no
    assert len(gateway.charges) == 1 and gateway.charged_yen == 1280


# --- settings ------------------------------------------------------------------------------


def test_settings_refuse_an_unknown_key_by_name() -> None:
    with pytest.raises(ValueError, match="receipt.hots"):
        ReceiptPrinterSettings.from_mapping({"printer": "network", "hots": "10.0.0.5"})


@pytest.mark.parametrize(
    "values",
    [
        {"printer": "serial"},
        {"printer": "network"},
        {"printer": "file"},
        {"printer": "usb", "usb_vendor": 0x04B8},
        {"printer": "network", "host": "10.0.0.5", "timeout_seconds": 0},
    ],
)
def test_settings_refuse_an_incomplete_printer(values: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ReceiptPrinterSettings.from_mapping(values)


def test_settings_from_a_table() -> None:
    settings = ReceiptPrinterSettings.from_mapping(
        {"printer": "network", "host": "10.0.0.5", "port": 9100, "timeout_seconds": 3}
    )

    assert (settings.printer, settings.host, settings.port) == ("network", "10.0.0.5", 9100)
    assert settings.check_paper and settings.profile == DEFAULT_PROFILE


def test_render_writes_to_any_escpos_printer() -> None:
    printer = Dummy(profile="TM-T20II")  # 576 dots a line

    render(_receipt(), printer)

    assert b"R-TEST-0042" in printer.output
    assert b"\x1dv0" + bytes([0]) + (576 // 8).to_bytes(2, "little") in printer.output


def test_a_receipt_prints_within_the_paper_width() -> None:
    printer = Dummy(profile="ZJ-5870")  # 58 mm paper, 384 dots

    render(_receipt(shop="とても長い名前の商店" * 6), printer)

    assert b"\x1dv0" + bytes([0]) + (384 // 8).to_bytes(2, "little") in printer.output
