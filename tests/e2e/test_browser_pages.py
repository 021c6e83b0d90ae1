"""Pages in a real browser: Debian's headless chromium loads what uvicorn serves on 127.0.0.1
and follows redirects — the POS API's schema, a 303 after a click, and a page that waits and
then sends the browser on (as the OIDC authorization page sends it back to the online service).
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from kiosk.pos.api import create_pos_app
from kiosk.store.engine import Database
from kiosk.store.payment_requests import PaymentRequests
from tests.browser_support import wait_for_url

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

AT = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)


@pytest.fixture
def pos_app(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'kiosk.sqlite3'}")
    database.upgrade()
    digest = hashlib.sha256(b"browser-test-token").hexdigest()
    yield create_pos_app(PaymentRequests(database), {"shop-a": digest}, lambda: AT)
    database.dispose()


def test_chromium_loads_the_pos_apis_schema_from_uvicorn(page, serve, pos_app):
    base = serve(pos_app)

    answer = page.goto(f"{base}/openapi.json")

    assert answer is not None and answer.status == 200
    schema = answer.json()
    assert schema["info"]["title"] == "jpki-kiosk POS"
    assert "/v1/terminals/{terminal_id}/payment-requests" in schema["paths"]


def test_chromium_is_refused_by_the_pos_api_without_a_token(page, serve, pos_app):
    base = serve(pos_app)

    answer = page.goto(f"{base}/v1/payment-requests/no-such-request")

    assert answer is not None and answer.status == 401


def _redirecting_app(approved: threading.Event) -> FastAPI:
    """A start page whose button answers 303 elsewhere, and a waiting page that moves on by
    itself once `approved` is set (it asks /status, as the authorization page will)."""
    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    def start() -> str:
        return '<form action="/go" method="get"><button type="submit">Go</button></form>'

    @app.get("/go")
    def go() -> RedirectResponse:
        return RedirectResponse("/landed?from=go", status_code=303)

    @app.get("/landed", response_class=HTMLResponse)
    def landed() -> str:
        return '<p id="where">landed</p>'

    @app.get("/waiting", response_class=HTMLResponse)
    def waiting() -> str:
        return (
            '<p id="where">waiting</p><script>'
            "async function poll() {"
            "  const answer = await (await fetch('/status')).json();"
            "  if (answer.next) { location.assign(answer.next); } else { setTimeout(poll, 50); }"
            "}"
            "poll();</script>"
        )

    @app.get("/status")
    def status() -> JSONResponse:
        return JSONResponse({"next": "/go" if approved.is_set() else None})

    return app


def test_chromium_follows_a_303_after_a_click(page, serve):
    base = serve(_redirecting_app(threading.Event()))
    page.goto(f"{base}/")

    page.get_by_role("button", name="Go").click()

    wait_for_url(page, f"{base}/landed?from=go")
    assert page.locator("#where").inner_text() == "landed"


def test_a_waiting_page_sends_the_browser_on_once_approved(page, serve):
    approved = threading.Event()
    base = serve(_redirecting_app(approved))
    page.goto(f"{base}/waiting")
    assert page.locator("#where").inner_text() == "waiting"

    approved.set()

    wait_for_url(page, lambda url: url.endswith("/landed?from=go"))
    assert page.locator("#where").inner_text() == "landed"
