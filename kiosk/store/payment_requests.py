"""Payment requests: the amount a shop's POS rings up for one kiosk terminal.

A request is `open` until the card holder pays it (`paid`, marked by the payment service),
the shop withdraws it (`cancelled`) or its time to live runs out (`expired`). The three are
final. A terminal has at most one open request, and the database enforces it (the unique
`open_terminal` column, kiosk.store.models.PaymentRequestRow): of two POS calls racing for
one terminal, one opens the request and the other is refused with TerminalBusy.

Expiry needs no timer: whichever call notices that an open request is past its time (a
create for its terminal, a get, a cancel, a mark_paid, or `expire_due`) closes it as
`expired` first, so a stale request never blocks its terminal nor gets paid.

Every query is scoped to the provider: a provider never sees another's request, not even
whether it exists. Only codes, references, amounts and times are stored.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.models import PaymentRequestRow, table_of

_t = table_of(PaymentRequestRow)
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/#-]{0,63}")
_RECEIPT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/#-]{0,127}")

#: The largest amount a request may ask for unless the store is given another limit.
DEFAULT_MAX_AMOUNT_YEN = 10_000
#: The longest a request may stay open (a day): a longer TTL is a mistake, not a wish.
MAX_TTL_S = 86_400


class PaymentRequestError(StoreError):
    """A payment request was refused; `code` says why."""

    code = "payment_request"


class BadAmount(PaymentRequestError):
    """The amount is not a whole number of yen above zero and within the store's limit."""

    code = "bad_amount"


class BadField(PaymentRequestError):
    """An identifier or reference is not a short code (or the TTL is out of range)."""

    code = "bad_field"


class TerminalBusy(PaymentRequestError):
    """The terminal has an open request already."""

    code = "terminal_busy"


class UnknownRequest(PaymentRequestError):
    """No request with this id for this provider."""

    code = "unknown_request"


class RequestClosed(PaymentRequestError):
    """The request is no longer open; `state` says what it became (`code` equals it)."""

    def __init__(self, state: str) -> None:
        super().__init__(f"the payment request is {state}")
        self.state = state
        self.code = state


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """One payment request as the store hands it out."""

    request_id: str
    provider_id: str
    terminal_id: str
    amount_yen: int
    order_ref: str
    shop: str
    state: str
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    receipt_no: str | None

    @property
    def open(self) -> bool:
        """Whether it still waits for the card holder."""
        return self.state == "open"


def _check(field_name: str, value: object, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise BadField(f"payment request field '{field_name}' must be a short code")
    return value


def _request_id(value: object) -> str | None:
    """The canonical text of a request id (a uuid), or None for anything else."""
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def _request(row: Row[Any]) -> PaymentRequest:
    r = row._mapping
    return PaymentRequest(
        r["request_id"],
        r["provider_id"],
        r["terminal_id"],
        r["amount_yen"],
        r["order_ref"],
        r["shop"],
        r["state"],
        r["created_at"],
        r["expires_at"],
        r["closed_at"],
        r["receipt_no"],
    )


def _expire_stale(conn: Connection, at: datetime, *conditions: Any) -> int:
    """Close as `expired` the open requests (matching `conditions`) whose time is up."""
    result = conn.execute(
        update(_t)
        .where(_t.c.state == "open", _t.c.expires_at <= at, *conditions)
        .values(state="expired", open_terminal=None, closed_at=at)
    )
    return result.rowcount


class PaymentRequests:
    """Create, read, cancel, expire and mark paid the payment requests of the kiosk's shops."""

    def __init__(self, db: Database, max_amount_yen: int = DEFAULT_MAX_AMOUNT_YEN) -> None:
        if isinstance(max_amount_yen, bool) or not isinstance(max_amount_yen, int):
            raise TypeError("the largest amount is a whole number of yen")
        if max_amount_yen <= 0:
            raise ValueError("the largest amount is above zero")
        self._db = db
        self.max_amount_yen = max_amount_yen

    def check_amount(self, amount_yen: object) -> int:
        """The amount if it is whole yen above zero and within the limit; else BadAmount."""
        if isinstance(amount_yen, bool) or not isinstance(amount_yen, int):
            raise BadAmount("the amount is a whole number of yen")
        if not 0 < amount_yen <= self.max_amount_yen:
            raise BadAmount(f"the amount is 1 to {self.max_amount_yen} yen")
        return amount_yen

    def create(
        self,
        provider_id: str,
        terminal_id: str,
        amount_yen: int,
        order_ref: str,
        shop: str,
        ttl_s: int,
        at: datetime,
    ) -> PaymentRequest:
        """Open a request with a fresh id for `terminal_id`, open until `at + ttl_s`.

        A stale open request of the terminal is expired first. Raises BadAmount, BadField,
        TerminalBusy when the terminal has an open request, StoreError when the database
        is unavailable."""
        values = {
            "provider_id": _check("provider_id", provider_id, _IDENTIFIER),
            "terminal_id": _check("terminal_id", terminal_id, _IDENTIFIER),
            "open_terminal": terminal_id,
            "amount_yen": self.check_amount(amount_yen),
            "order_ref": _check("order_ref", order_ref, _REFERENCE),
            "shop": _check("shop", shop, _IDENTIFIER),
        }
        if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or not 0 < ttl_s <= MAX_TTL_S:
            raise BadField(f"a payment request lives 1 to {MAX_TTL_S} seconds")
        request_id = str(uuid.uuid4())
        try:
            with self._db.writing() as conn:
                _expire_stale(conn, at, _t.c.open_terminal == terminal_id)
                conn.execute(
                    insert(_t).values(
                        request_id=request_id,
                        state="open",
                        created_at=at,
                        expires_at=at + timedelta(seconds=ttl_s),
                        **values,
                    )
                )
        except IntegrityError as e:
            raise TerminalBusy(f"terminal {terminal_id} has an open payment request") from e
        return self._read(provider_id, request_id)

    def get(self, provider_id: str, request_id: str, at: datetime) -> PaymentRequest:
        """The request as of `at` (expired first if its time is up). Raises UnknownRequest."""
        found = self._read(provider_id, request_id)
        if not found.open or found.expires_at > at:
            return found  # a POS polls: most reads need no write transaction
        with self._db.writing() as conn:
            _expire_stale(conn, at, _t.c.request_id == found.request_id)
        return self._read(provider_id, found.request_id)

    def open_for(self, provider_id: str, terminal_id: str, at: datetime) -> PaymentRequest | None:
        """The request open for this terminal of the provider as of `at`, if any (a stale
        one is expired first, and is not it)."""
        query = select(_t).where(_t.c.open_terminal == terminal_id, _t.c.provider_id == provider_id)
        with self._db.reading() as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            return None
        found = _request(row)
        if found.expires_at > at:
            return found
        with self._db.writing() as conn:
            _expire_stale(conn, at, _t.c.request_id == found.request_id)
        return None

    def cancel(self, provider_id: str, request_id: str, at: datetime) -> PaymentRequest:
        """Withdraw an open request; cancelling a cancelled one again changes nothing.

        Raises UnknownRequest, RequestClosed('expired') or RequestClosed('paid')."""
        return self._close(provider_id, request_id, at, "cancelled", None)

    def mark_paid(
        self, provider_id: str, request_id: str, receipt_no: str, at: datetime
    ) -> PaymentRequest:
        """Record that the card was charged for a request; marking it again with the same
        receipt changes nothing. The card holder agreed while it was open, so a request that
        expired while the card company was answering is still marked paid (the money moved);
        a cancelled one is not (RequestClosed('cancelled'): staff void the charge).
        Raises UnknownRequest, BadField, RequestClosed."""
        _check("receipt_no", receipt_no, _RECEIPT)
        rid = self._known(provider_id, request_id)
        with self._db.writing() as conn:
            conn.execute(
                update(_t)
                .where(_t.c.request_id == rid, _t.c.state.in_(("open", "expired")))
                .values(state="paid", open_terminal=None, closed_at=at, receipt_no=receipt_no)
            )
        found = self._read(provider_id, rid)
        if found.state != "paid" or found.receipt_no != receipt_no:
            raise RequestClosed(found.state)
        return found

    def expire_due(self, at: datetime) -> int:
        """Close as `expired` every open request whose time is up; how many there were."""
        with self._db.writing() as conn:
            return _expire_stale(conn, at)

    def _close(
        self, provider_id: str, request_id: str, at: datetime, state: str, receipt: str | None
    ) -> PaymentRequest:
        rid = self._known(provider_id, request_id)
        with self._db.writing() as conn:
            _expire_stale(conn, at, _t.c.request_id == rid)
            conn.execute(
                update(_t)
                .where(_t.c.request_id == rid, _t.c.state == "open")
                .values(state=state, open_terminal=None, closed_at=at, receipt_no=receipt)
            )
        found = self._read(provider_id, rid)
        if found.state != state or found.receipt_no != receipt:
            raise RequestClosed(found.state)
        return found

    def _known(self, provider_id: str, request_id: str) -> str:
        """The canonical id of a request of this provider; UnknownRequest otherwise."""
        return self._read(provider_id, request_id).request_id

    def _read(self, provider_id: str, request_id: str) -> PaymentRequest:
        rid = _request_id(request_id)
        if rid is None:
            raise UnknownRequest("no such payment request")
        with self._db.reading() as conn:
            row = conn.execute(
                select(_t).where(and_(_t.c.request_id == rid, _t.c.provider_id == provider_id))
            ).one_or_none()
        if row is None:
            raise UnknownRequest("no such payment request")
        return _request(row)
