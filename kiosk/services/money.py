"""Money as the payment service, its receipts and its gateways handle it: whole yen (an
`int` above zero, never a float or a bool), and what a completed payment is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


def whole_yen(amount: object) -> int:
    """`amount` if it is a whole number of yen above zero (never a float or a bool)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError("an amount is a whole number of yen above zero")
    return amount


def yen(amount: int) -> str:
    """An amount as shown: ¥1,280."""
    return f"¥{whole_yen(amount):,}"


@dataclass(frozen=True, slots=True)
class Receipt:
    """A completed payment: the card company's transaction id (the receipt number), the
    payment request it paid, and when the card company approved it."""

    receipt_no: str
    request_id: str
    amount_yen: int
    order_ref: str
    shop: str
    paid_at: datetime

    def __post_init__(self) -> None:
        whole_yen(self.amount_yen)
