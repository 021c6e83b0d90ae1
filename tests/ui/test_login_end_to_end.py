"""Signing in to an online service with the card, end to end (issue 13's "done when").

The online service is the demo wing's, which signs people in with **Authlib's OAuth 2.0 /
OpenID Connect client** (discovery, PKCE S256, state and nonce, the code exchange with its
client secret) and validates the ID token against the provider's published JWKS. The provider
is the real one (kiosk.oidc over a store), served over HTTP (kiosk.platform.oidc_web) with
uvicorn. **Debian's chromium** walks the online service's start page, the provider's
authorization page with its sign-in code, and — after the kiosk visit — the redirect back to
the online service. The kiosk visit is the real kiosk window over the virtual card: pick
ログイン, card, PIN, enrol, type the code from the browser's page, see the service's name,
agree."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from browser_support import wait_for_url
from test_service_login_ui import agree, enrol, start_login, texts, type_code

from kiosk.clock import utc_now
from kiosk.demo.online_service import OnlineServiceSettings, create_online_service_app
from kiosk.flow.machine import Screen
from kiosk.oidc.claims import ACR_JPKI_KIOSK
from kiosk.oidc.clients import OidcClient
from kiosk.oidc.keys import KeyRing
from kiosk.oidc.provider import ID_TOKEN_LIFETIME, OpenIdProvider
from kiosk.platform.oidc_web import create_oidc_app
from kiosk.services.login import LoginService
from kiosk.store.engine import Database
from kiosk.store.oidc import OidcStore

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CLIENT_ID, CLIENT_SECRET = "demo-online", "online-service-secret-for-the-test"  # noqa: S105
SERVICE_NAME = "TEST ネットサービス"


class Late:
    """An ASGI app set after its server is up (the issuer and the redirect URI name the
    port the server got)."""

    app = None

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)


@pytest.fixture
def sign_in_world(tmp_path: Path, serve, make_kiosk):
    """The provider and the online service on 127.0.0.1, and a kiosk that signs in with it."""
    provider_late, service_late = Late(), Late()
    issuer, service_url = serve(provider_late), serve(service_late)
    db = Database(f"sqlite:///{tmp_path / 'oidc.sqlite3'}")
    db.upgrade()
    kiosk_box: list = []

    def link_active(provider_id: str, account_ref: str) -> bool:
        # the kiosk's own links (the verifier's store of this kiosk)
        return kiosk_box[0].verdicts.account_status(provider_id, account_ref) == "active"

    client = OidcClient(
        client_id=CLIENT_ID,
        name=SERVICE_NAME,
        redirect_uris=(f"{service_url}/callback",),
        auth_method="client_secret_basic",
        secret_sha256=hashlib.sha256(CLIENT_SECRET.encode()).hexdigest(),
        providers=frozenset({"demo-clinic"}),
    )
    provider = OpenIdProvider(
        OidcStore(db),
        {CLIENT_ID: client},
        KeyRing(tmp_path / "oidc-keys", ID_TOKEN_LIFETIME),
        issuer,
        b"p" * 32,
        utc_now,
        link_active,
    )
    provider_late.app = create_oidc_app(provider)
    service_late.app = create_online_service_app(
        OnlineServiceSettings(issuer, CLIENT_ID, CLIENT_SECRET, f"{service_url}/callback")
    )
    kiosk = make_kiosk(
        extra_services={"login": LoginService(provider, "kiosk-1")},
        services=("identity", "login"),
    )
    kiosk_box.append(kiosk)
    yield kiosk, issuer, service_url
    db.dispose()


def test_a_person_signs_in_to_an_online_service_with_the_card_at_the_kiosk(sign_in_world, page):
    kiosk, issuer, service_url = sign_in_world
    # 1. on the phone or PC: the online service sends the browser to the provider
    page.goto(f"{service_url}/")
    page.get_by_role("button").click()
    wait_for_url(page, lambda url: url.startswith(f"{issuer}/oidc/authorize"))
    assert SERVICE_NAME in page.content()
    code = re.sub(r"\D", "", page.locator("#binding-code").inner_text())
    assert len(code) == 8

    # 2. at the kiosk: ログイン, the card, the PIN, enrolment, the code, the service's name
    start_login(kiosk)  # ログイン, the card, the PIN
    enrol(kiosk)
    type_code(kiosk, code)
    kiosk.wait_screen(Screen.SERVICE_CONSENT)
    assert f"{SERVICE_NAME} にログインします" in texts(kiosk.page())
    agree(kiosk)
    assert kiosk.controller.state.result.ok

    # 3. the waiting page moves on by itself: back at the online service, signed in
    wait_for_url(page, lambda url: url.startswith(f"{service_url}/callback"))
    shown = page.content()
    assert "signed in" in shown.lower() and ACR_JPKI_KIOSK in shown
    assert "1234" not in shown  # no PIN anywhere near the browser
