"""The operator console in a real browser (issue 14's "done when"): Debian's headless chromium
against the real platform (`app_from_config` over a SQLite store with the test PKI's CRLs) on
uvicorn. An operator is refused with a wrong password, signs in, issues a terminal credential
(its token shown once, and accepted by the platform's API), revokes it (refused from then on),
and finds a verification made through the platform's API in the audit search; a form sent
without its CSRF token is refused and changes nothing."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from browser_support import wait_for_url
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from kiosk import config
from kiosk.flow.staff import Credential
from kiosk.pki.authority import make_crl
from kiosk.platform.client import PlatformClient
from kiosk.store.engine import Database
from kiosk.store.operators import Operators
from kiosk.verify.proof import UserProof, signed_message

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PROVIDER, OTHER, TERMINAL = "demo-clinic", "demo-shop", "kiosk-1"
TOKEN = secrets.token_urlsafe(32)
OTHER_TOKEN = secrets.token_urlsafe(32)
PASSWORD = "operator password for the browser test"  # noqa: S105 - a test password


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def platform(tmp_path, test_pki, serve):
    """The platform with the console, served on 127.0.0.1; an operator `alice`."""
    now = datetime.now(UTC)
    crl_dir = tmp_path / "crl"
    crl_dir.mkdir()
    for which in ("auth", "sign"):
        crl = make_crl(
            test_pki.ca_certificate(which),
            test_pki.ca_key(which),
            [],
            this_update=now - timedelta(hours=1),
            next_update=now + timedelta(days=1),
            number=1,
        )
        (crl_dir / f"{which}.crl").write_bytes(crl.public_bytes(serialization.Encoding.DER))
    cfg = config.from_mapping(
        {
            "data_dir": str(tmp_path / "data"),
            "trust_dir": str(test_pki.trust_dir),
            "crl_dir": str(crl_dir),
            "platform_tokens": {PROVIDER: sha256(TOKEN), OTHER: sha256(OTHER_TOKEN)},
        }
    )
    from kiosk.platform.service import app_from_config

    app = app_from_config(cfg)
    db = Database(cfg.effective_database_url)
    Operators(db).add("alice", Credential.make(PASSWORD).encode(), now)
    db.dispose()
    return serve(app)


def verify_once(base: str, card_file) -> None:
    """A user proof through the platform's API, as a kiosk sends it: it verifies."""
    key = serialization.load_pem_private_key(card_file.auth.private_key_pem, password=None)
    assert isinstance(key, RSAPrivateKey)
    with PlatformClient(base, TOKEN, timeout_s=10) as client:
        issued = client.issue(PROVIDER, TERMINAL, datetime.now(UTC))
        message = signed_message(PROVIDER, TERMINAL, issued.nonce)
        signature = key.sign(message, PKCS1v15(), hashes.SHA256())
        proof = UserProof(PROVIDER, TERMINAL, issued.nonce, card_file.auth.certificate, signature)
        verdict = client.verify_user_proof(proof, datetime.now(UTC))
    assert verdict.ok, verdict.reason


def sign_in(page, base: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/console/")
    wait_for_url(page, f"{base}/console/login")
    page.fill("#name", "alice")
    page.fill("#password", password)
    page.click("#sign-in")


def challenge_with(base: str, token: str) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/challenges",
        json={"provider_id": PROVIDER, "terminal_id": "kiosk-7"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_a_wrong_password_is_refused(page, platform):
    sign_in(page, platform, "not the password at all")

    assert page.locator("#error").inner_text() == "Wrong name or password."
    assert page.locator("#operator").count() == 0
    page.goto(f"{platform}/console/terminals")
    wait_for_url(page, f"{platform}/console/login")


def test_an_operator_issues_and_revokes_a_terminal_credential(page, platform):
    sign_in(page, platform)
    wait_for_url(page, f"{platform}/console/")
    assert page.locator("#operator").inner_text() == "alice"
    assert page.locator("#crls tr").count() == 3  # the header and both CRLs, fresh
    page.click("text=Terminals")

    page.fill("#terminal_id", "kiosk-7")
    page.check(f"input[name=provider][value={PROVIDER}]")
    page.check(f"input[name=provider][value={OTHER}]")
    page.click("#issue")

    token = page.locator("#token").inner_text().strip()
    assert page.locator("#acts-for").inner_text() == f"{PROVIDER}, {OTHER}"
    assert challenge_with(platform, token).status_code == 201  # the kiosk may ask now
    page.click("#done")
    wait_for_url(page, f"{platform}/console/terminals")
    assert token not in page.content()  # shown once, never again
    credential_id = page.locator("#credentials td").first.inner_text()
    assert page.locator(f"#row-{credential_id} .state").inner_text() == "active"

    page.click(f"#revoke-{credential_id}")

    assert "Revoked" in page.locator("#notice").inner_text()
    assert page.locator(f"#row-{credential_id} .state").inner_text().startswith("revoked")
    refused = challenge_with(platform, token)
    assert refused.status_code == 401 and refused.json()["error"] == "credential_revoked"


def test_a_verification_is_found_in_the_audit_search(page, platform, card_file):
    verify_once(platform, card_file)
    sign_in(page, platform)
    wait_for_url(page, f"{platform}/console/")
    assert page.locator("#verdicts").inner_text().count("ok") >= 1
    page.click("text=Audit")

    page.fill("#provider", PROVIDER)
    page.fill("#terminal", TERMINAL)
    page.click("#find")

    rows = page.locator("#results tr")
    assert rows.count() == 2  # the header and the one verification
    cells = rows.nth(1).locator("td").all_inner_texts()
    assert cells[1:7] == ["verification", PROVIDER, TERMINAL, "user_proof", "ok", "ok"]
    page.fill("#terminal", "kiosk-2")
    page.click("#find")
    assert page.locator("#no-results").is_visible()


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(page, platform):
    sign_in(page, platform)
    wait_for_url(page, f"{platform}/console/")
    page.goto(f"{platform}/console/terminals")
    page.fill("#terminal_id", "kiosk-8")
    page.check(f"input[name=provider][value={PROVIDER}]")
    page.locator("#issue-form input[name=csrf]").evaluate("field => field.remove()")

    with page.expect_response(f"{platform}/console/terminals/issue") as answer:
        page.click("#issue")

    assert answer.value.status == 403
    assert "token is missing or wrong" in page.locator("#message").inner_text()
    page.goto(f"{platform}/console/terminals")
    assert page.locator("#no-credentials").is_visible()
