"""A service that shows a preview before consent (the shop payment does): the amount is on the
consent screen, and the service acts on exactly what was shown."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtWidgets import QCheckBox
from test_kiosk_flows import start_to_pin, texts

from kiosk.flow.machine import Screen
from kiosk.i18n import Text
from kiosk.services.base import (
    ConsentItem,
    ResultRow,
    ServiceContext,
    ServicePreview,
    ServiceResult,
)


@dataclass
class Counter:
    """A payment-like service over a fixed pending amount (the real one is services.payment)."""

    id: str = "counter"
    title: Text = Text("お支払い", "Pay at the counter")
    description: Text = Text("", "")
    needs_link: bool = False
    consent_items: tuple[ConsentItem, ...] = (
        ConsentItem("pay", Text("表示された金額を支払う", "Pay the amount shown"), required=True),
    )
    ran: list[ServiceContext] = field(default_factory=list)

    def prepare(self, context: ServiceContext) -> ServicePreview:
        rows = (ResultRow(Text("金額", "Amount"), "¥1,280"),)
        return ServicePreview(Text("お支払い内容", "To pay"), rows, "order-7:1280")

    def run(self, context: ServiceContext) -> ServiceResult:
        self.ran.append(context)
        paid = context.preview.reference if context.preview else "nothing"
        return ServiceResult(True, Text("お支払い完了", "Paid"), Text(paid, paid))


def test_the_amount_is_shown_before_consent_and_paid_as_shown(make_kiosk):
    counter = Counter()
    kiosk = make_kiosk(extra_services={"counter": counter}, services=("counter",))
    start_to_pin(kiosk)
    kiosk.type_secret("1234")
    kiosk.wait_screen(Screen.SERVICE_CONSENT)
    shown = texts(kiosk.page())
    assert "お支払い内容" in shown and "金額: ¥1,280" in shown
    assert "内容をご確認ください" in shown  # a check of what will be done, not a sharing choice
    assert counter.ran == []  # nothing is paid before the person agrees
    kiosk.page().findChild(QCheckBox, "consent-pay").setChecked(True)
    kiosk.click("agree")
    kiosk.wait_screen(Screen.RESULT)
    (context,) = counter.ran
    assert context.preview is not None and context.preview.reference == "order-7:1280"
    assert context.consented == frozenset({"pay"})


def test_declining_pays_nothing(make_kiosk):
    counter = Counter()
    kiosk = make_kiosk(extra_services={"counter": counter}, services=("counter",))
    start_to_pin(kiosk)
    kiosk.type_secret("1234")
    kiosk.wait_screen(Screen.SERVICE_CONSENT)
    kiosk.click("decline")
    kiosk.wait_screen(Screen.TAKE_CARD)
    assert counter.ran == []
