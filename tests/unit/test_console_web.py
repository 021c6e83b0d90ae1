"""The operator console over HTTP (kiosk/platform/console.py), on SQLite and PostgreSQL: the
login (right, wrong, locked, an unknown name, the login form's own token), the session cookie
and its expiry, CSRF (a POST without the session's token, or with another, is 403 and changes
nothing), issuing, rotating and revoking terminal credentials (the token shown once), the
overview (CRLs with stale ones marked, verdicts by hour, peers' health), and the audit search's
filters; every bad field is a message on the page, never a 5xx."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kiosk.config import PeerConfig
from kiosk.flow.staff import Credential
from kiosk.platform.console import (
    COOKIE,
    CSRF_FIELD,
    LOCKOUT,
    ConsoleSetup,
    console_router,
)
from kiosk.platform.edge import Edge, install_error_handlers
from kiosk.platform.relay import PeerHealth
from kiosk.store.audit import AuditLog
from kiosk.store.credentials import TerminalCredentials
from kiosk.store.errors import StoreError
from kiosk.store.operators import Operators, OperatorSessions
from kiosk.store.reports import AuditQuery, Reports

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test password
AT = datetime(2026, 12, 3, 10, 15, tzinfo=UTC)
PROVIDERS = {"clinic-a": "00" * 32, "shop-b": "11" * 32}


class Clock:
    """The console's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = AT

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def password_key() -> str:
    """One scrypt key for the module (each costs a few tenths of a second)."""
    return Credential.make(PASSWORD, n=2**14, r=8, p=5).encode()


@pytest.fixture
def clock() -> Clock:
    return Clock()


PEERS = {
    "bank-c": PeerConfig("https://bank.example", "t-1"),
    "card-d": PeerConfig("https://card.example", "t-2"),
}


def health(peers):
    """The peers' health as kiosk.platform.relay.peer_health answers it (its own tests ask
    real servers): one answers, one is down."""
    assert peers == PEERS
    return [
        PeerHealth("bank-c", "https://bank.example", "ok", 200, 12),
        PeerHealth("card-d", "https://card.example", "unreachable"),
    ]


@pytest.fixture
def app(db, clock, password_key) -> FastAPI:
    Operators(db).add("alice", password_key, AT - timedelta(days=1))
    setup = ConsoleSetup(db=db, peers=PEERS, health=health)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(console_router(setup, providers=PROVIDERS, clock=clock))
    app.add_middleware(Edge)
    return app


@pytest.fixture
def browser(app):
    with TestClient(app, follow_redirects=False) as client:
        yield client


def login(browser, name="alice", password=PASSWORD):
    page = browser.get("/console/login")
    token = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', page.text)
    assert token, page.text
    return browser.post(
        "/console/login", data={"name": name, "password": password, CSRF_FIELD: token.group(1)}
    )


def csrf_of(browser, path="/console/terminals") -> str:
    page = browser.get(path)
    assert page.status_code == 200, page.text
    found = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def signed_in(browser) -> str:
    answer = login(browser)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/"
    return csrf_of(browser)


# --- login ------------------------------------------------------------------------------


def test_the_console_asks_for_a_login_first(browser):
    for path in ("/console/", "/console/terminals", "/console/audit", "/console/providers"):
        answer = browser.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/login"


def test_the_right_password_opens_a_strict_http_only_session(browser, db):
    answer = login(browser)

    assert answer.status_code == 303
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and COOKIE + "=" in v
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http here; https gets Secure
    overview = browser.get("/console/providers")
    assert overview.status_code == 200 and 'id="operator">alice<' in overview.text
    assert overview.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in overview.headers["content-security-policy"]
    events = Reports(db).search(AuditQuery(AT - timedelta(hours=1), AT + timedelta(hours=1)))
    assert [(e.action, e.ok, e.actor) for e in events.entries] == [("console.login", True, "alice")]


def test_the_session_cookie_is_secure_over_https(app):
    with TestClient(app, base_url="https://console.example", follow_redirects=False) as client:
        answer = login(client)
    assert answer.status_code == 303
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and COOKIE + "=" in v
    )
    assert "Secure" in cookie


def test_a_wrong_password_or_an_unknown_name_is_refused_alike(browser, db):
    wrong = login(browser, password="not the password")
    unknown = login(browser, name="mallory")

    for answer in (wrong, unknown):
        assert answer.status_code == 401
        assert "Wrong name or password." in answer.text
        assert COOKIE + "=" not in answer.headers.get("set-cookie", "")
    assert browser.get("/console/").status_code == 303
    events = Reports(db).search(AuditQuery(AT - timedelta(hours=1), AT + timedelta(hours=1)))
    assert {(e.reason, e.actor) for e in events.entries} == {
        ("wrong_password", "alice"),
        ("unknown_operator", None),
    }
    found = Operators(db).get("alice")
    assert found is not None and found.failed_logins == 1


def test_wrong_passwords_lock_the_login_even_for_the_right_one(browser, clock, db):
    for _ in range(LOCKOUT.tries - 1):
        assert login(browser, password="guess").status_code == 401

    locking = login(browser, password="guess")
    while_locked = login(browser)

    assert locking.status_code == 429 and int(locking.headers["retry-after"]) == LOCKOUT.first_s
    assert while_locked.status_code == 429 and "Too many wrong passwords" in while_locked.text
    clock.now += timedelta(seconds=LOCKOUT.first_s)
    assert login(browser).status_code == 303
    found = Operators(db).get("alice")
    assert found is not None and found.failed_logins == 0


def test_a_login_without_the_login_forms_token_is_refused(browser):
    answer = browser.post("/console/login", data={"name": "alice", "password": PASSWORD})

    assert answer.status_code == 403
    assert COOKIE + "=" not in answer.headers.get("set-cookie", "")


def test_an_overlong_or_repeated_login_field_is_a_message(browser):
    browser.get("/console/login")
    long_name = browser.post("/console/login", data={"name": "a" * 500, "password": "x"})
    twice = browser.post(
        "/console/login",
        content="name=alice&name=bob&password=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    not_a_form = browser.post("/console/login", json={"name": "alice"})

    assert long_name.status_code == 400 and "too long" in long_name.text
    assert twice.status_code == 400 and "more than once" in twice.text
    assert not_a_form.status_code == 400


# --- sessions ---------------------------------------------------------------------------


def test_a_session_ends_when_left_idle_and_at_logout(browser, clock, db):
    csrf = signed_in(browser)

    logout = browser.post("/console/logout", data={CSRF_FIELD: csrf})

    assert logout.status_code == 303 and logout.headers["location"] == "/console/login"
    assert browser.get("/console/").status_code == 303
    signed_in(browser)
    clock.now += timedelta(minutes=31)
    assert browser.get("/console/").status_code == 303


def test_a_stolen_cookie_is_useless_after_the_absolute_expiry(browser, clock):
    signed_in(browser)
    for _ in range(24):  # used every 29 minutes: never idle, for 11 h 36 min
        clock.now += timedelta(minutes=29)
        assert browser.get("/console/providers").status_code == 200
    clock.now += timedelta(minutes=24)  # 12 hours after the login
    assert browser.get("/console/providers").status_code == 303


# --- CSRF -------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "another-token-of-the-right-length-abcdefghijk"])
def test_a_post_without_the_sessions_csrf_token_is_403_and_changes_nothing(browser, db, token):
    signed_in(browser)
    credentials = TerminalCredentials(db)
    existing, _ = credentials.issue("kiosk-9", ["clinic-a"], AT)
    form = {"terminal_id": "kiosk-1", "provider": "clinic-a"}
    revoke = {"credential_id": existing.credential_id}
    if token is not None:
        form[CSRF_FIELD] = revoke[CSRF_FIELD] = token

    issued = browser.post("/console/terminals/issue", data=form)
    revoked = browser.post("/console/terminals/revoke", data=revoke)
    logout = browser.post("/console/logout", data={} if token is None else {CSRF_FIELD: token})

    assert (issued.status_code, revoked.status_code, logout.status_code) == (403, 403, 403)
    assert [c.credential_id for c in credentials.all()] == [existing.credential_id]
    assert credentials.all()[0].revoked_at is None
    assert browser.get("/console/providers").status_code == 200  # still signed in


def test_another_sessions_token_is_refused(app, browser, db):
    signed_in(browser)
    with TestClient(app, follow_redirects=False) as other:
        others_token = signed_in(other)

    answer = browser.post(
        "/console/terminals/issue",
        data={"terminal_id": "kiosk-1", "provider": "clinic-a", CSRF_FIELD: others_token},
    )

    assert answer.status_code == 403 and TerminalCredentials(db).all() == []


def test_a_post_without_a_session_goes_to_the_login_and_changes_nothing(browser, db):
    answer = browser.post("/console/terminals/issue", data={"terminal_id": "kiosk-1"})

    assert answer.status_code == 303 and TerminalCredentials(db).all() == []


# --- terminals --------------------------------------------------------------------------


def test_a_credential_is_issued_with_its_token_shown_once_then_revoked(browser, db):
    csrf = signed_in(browser)

    issued = browser.post(
        "/console/terminals/issue",
        data={"terminal_id": "kiosk-7", "provider": ["clinic-a", "shop-b"], CSRF_FIELD: csrf},
    )

    assert issued.status_code == 200, issued.text
    token = re.search(r'id="token">([^<]+)<', issued.text)
    assert token
    found = TerminalCredentials(db).by_token(token.group(1))
    assert found is not None and found.providers == ("clinic-a", "shop-b")
    listing = browser.get("/console/terminals")
    assert found.credential_id in listing.text and token.group(1) not in listing.text

    revoked = browser.post(
        "/console/terminals/revoke", data={"credential_id": found.credential_id, CSRF_FIELD: csrf}
    )

    assert revoked.status_code == 200 and "Revoked" in revoked.text
    again = TerminalCredentials(db).get(found.credential_id)
    assert again is not None and again.revoked_at == AT
    actions = {
        (e.action, e.provider_id, e.actor)
        for e in Reports(db)
        .search(AuditQuery(AT - timedelta(hours=1), AT + timedelta(hours=1)))
        .entries
    }
    assert ("console.credential_issue", "shop-b", "alice") in actions
    assert ("console.credential_revoke", "clinic-a", "alice") in actions


def test_rotating_shows_a_new_token_and_the_old_one_is_unknown(browser, db):
    csrf = signed_in(browser)
    first, old_token = TerminalCredentials(db).issue("kiosk-7", ["clinic-a"], AT)

    rotated = browser.post(
        "/console/terminals/rotate", data={"credential_id": first.credential_id, CSRF_FIELD: csrf}
    )

    new_token = re.search(r'id="token">([^<]+)<', rotated.text)
    assert rotated.status_code == 200 and new_token
    assert TerminalCredentials(db).by_token(old_token) is None
    assert TerminalCredentials(db).by_token(new_token.group(1)) is not None


@pytest.mark.parametrize(
    ("path", "form", "message"),
    [
        ("issue", {"terminal_id": "kiosk 1", "provider": "clinic-a"}, "A terminal id is"),
        ("issue", {"terminal_id": "x" * 300, "provider": "clinic-a"}, "too long"),
        ("issue", {"terminal_id": "kiosk-1"}, "at least one provider"),
        ("issue", {"terminal_id": "kiosk-1", "provider": "nobody"}, "from the list only"),
        ("issue", {"terminal_id": "kiosk-1", "provider": ["shop-b", "shop-b"]}, "once"),
        ("revoke", {"credential_id": "tc-000000000000"}, "no credential with that id"),
        ("revoke", {"credential_id": "<script>"}, "no credential with that id"),
        ("revoke", {}, "No credential was named"),
        ("rotate", {"credential_id": "tc-000000000000"}, "no credential with that id"),
    ],
)
def test_a_bad_field_is_a_message_on_the_page(browser, db, path, form, message):
    csrf = signed_in(browser)

    answer = browser.post(f"/console/terminals/{path}", data={**form, CSRF_FIELD: csrf})

    assert answer.status_code == 400 and message in answer.text
    assert "<script>" not in answer.text
    assert TerminalCredentials(db).all() == []


def test_a_revoked_credential_is_neither_revoked_nor_rotated_again(browser, db):
    csrf = signed_in(browser)
    credential, _ = TerminalCredentials(db).issue("kiosk-7", ["clinic-a"], AT)
    TerminalCredentials(db).revoke(credential.credential_id, AT)

    for path in ("revoke", "rotate"):
        answer = browser.post(
            f"/console/terminals/{path}",
            data={"credential_id": credential.credential_id, CSRF_FIELD: csrf},
        )
        assert answer.status_code == 400 and "nothing was changed" in answer.text


# --- the overview and the search --------------------------------------------------------


def test_the_overview_shows_verdicts_by_hour_and_the_peers_health(browser, db):
    AuditLog(db).append(
        at=AT - timedelta(minutes=30),
        provider_id="clinic-a",
        terminal_id="kiosk-1",
        action="user_proof",
        ok=False,
        reason="challenge_unknown",
    )
    signed_in(browser)

    page = browser.get("/console/").text

    assert "<th>challenge_unknown</th>" in page
    assert "No CRL is in force" in page
    peers = re.findall(
        r"<td>([a-z]+-[a-z])</td><td>https://([a-z.]+)</td>\s*<td[^>]*>([a-z]+)<", page
    )
    assert peers == [("bank-c", "bank.example", "ok"), ("card-d", "card.example", "unreachable")]
    assert "12 ms" in page


def test_the_providers_page_lists_each_provider(browser, db):
    signed_in(browser)
    TerminalCredentials(db).issue("kiosk-7", ["clinic-a"], AT)

    page = browser.get("/console/providers").text

    assert "clinic-a" in page and "shop-b" in page and "https://bank.example" in page


def test_the_audit_search_filters_by_provider_terminal_and_time(browser, db):
    log = AuditLog(db)
    for minutes, provider, terminal in ((5, "clinic-a", "kiosk-1"), (6, "shop-b", "kiosk-2")):
        log.append(
            at=AT - timedelta(minutes=minutes),
            provider_id=provider,
            terminal_id=terminal,
            action="user_proof",
            ok=False,
            reason="challenge_expired",
        )
    signed_in(browser)

    def rows(**query):
        answer = browser.get("/console/audit", params=query)
        assert answer.status_code == 200, answer.text
        return re.findall(
            r"<td>(clinic-a|shop-b)</td><td>(kiosk-\d)</td><td>user_proof</td>", answer.text
        )

    assert rows() == [("clinic-a", "kiosk-1"), ("shop-b", "kiosk-2")]
    assert rows(provider="shop-b") == [("shop-b", "kiosk-2")]
    assert rows(terminal="kiosk-1") == [("clinic-a", "kiosk-1")]
    assert rows(since="2026-12-03T10:10", until="2026-12-03T10:11") == [("clinic-a", "kiosk-1")]
    assert rows(since="2026-12-02T00:00", until="2026-12-03T00:00") == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"since": "yesterday"}, "not a time"),
        ({"until": "2026-13-45T99:99"}, "not a time"),
        ({"since": "2026-01-01T00:00", "until": "2026-12-01T00:00"}, "at most 31 days"),
        ({"since": "2026-12-03T10:00", "until": "2026-12-03T09:00"}, "must come after"),
        ({"provider": "clinic a"}, "A provider id is"),
        ({"terminal": "<b>x</b>"}, "A terminal id is"),
        ({"page": "0"}, "The page is"),
        ({"page": "abc"}, "The page is"),
        ({"provider": "p" * 5000}, "too long"),
    ],
)
def test_a_bad_search_is_a_message_on_the_page(browser, query, message):
    signed_in(browser)

    answer = browser.get("/console/audit", params=query)

    assert answer.status_code == 400 and message in answer.text
    assert "<b>" not in answer.text


def test_a_store_that_is_down_is_a_503_page_not_a_crash(browser, monkeypatch):
    signed_in(browser)

    def down(*_args, **_kwargs):
        raise StoreError("the database is unavailable (OperationalError)")

    monkeypatch.setattr(OperatorSessions, "find", down)
    monkeypatch.setattr(Operators, "get", down)

    for answer in (browser.get("/console/"), browser.get("/console/audit"), login(browser)):
        assert answer.status_code == 503 and answer.headers["retry-after"] == "30"
