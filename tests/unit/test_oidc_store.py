"""The OpenID Provider's records (kiosk.store.oidc), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import inspect

from kiosk.store.engine import Database, alembic_config
from kiosk.store.oidc import (
    Approval,
    AuthorizationClosed,
    BindingTaken,
    NewAuthorization,
    OidcStore,
    UnknownAuthorization,
)

AT = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
TTL = timedelta(minutes=5)
CODE_TTL = timedelta(minutes=2)
APPROVAL = Approval("clinic-a", "kiosk-1", "pairwise-sub", AT, "urn:acr", ("sc", "hwk", "pin"))


@pytest.fixture
def store(db) -> OidcStore:
    return OidcStore(db)


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def new(n: int = 1, binding: str = "12345678", nonce: str | None = None) -> NewAuthorization:
    return NewAuthorization(
        request_id=f"req-{n}",
        login_id=f"login-{n}",
        client_id="shop",
        redirect_uri="https://shop.example/cb",
        state="st",
        nonce=nonce or f"nonce-{n}",
        code_challenge="c" * 43,
        scope="openid",
        binding_digest=digest(binding),
    )


def test_a_request_is_kept_waiting_until_its_time(store):
    kept = store.create(new(), TTL, AT)
    assert (kept.status, kept.expires_at, kept.approval) == ("waiting", AT + TTL, None)
    assert store.get("req-1", AT) == kept == store.by_login("login-1", AT)
    assert store.by_binding(digest("12345678"), AT) == kept
    later = store.get("req-1", AT + TTL)
    assert (later.status, later.closed_at) == ("expired", AT + TTL)
    with pytest.raises(UnknownAuthorization):
        store.get("req-2", AT)


def test_one_waiting_request_per_binding_code_and_a_stale_one_frees_it(store):
    store.create(new(1), TTL, AT)
    with pytest.raises(BindingTaken):
        store.create(new(2), TTL, AT + timedelta(minutes=1))
    second = store.create(new(3), TTL, AT + TTL)  # the first has expired meanwhile
    assert store.get("req-1", AT + TTL).status == "expired"
    assert store.by_binding(digest("12345678"), AT + TTL) == second
    assert store.by_binding(digest("87654321"), AT) is None


def test_approve_records_the_login_and_its_code_once(store):
    store.create(new(), TTL, AT)
    approved = store.approve("login-1", APPROVAL, digest("code"), CODE_TTL, AT)
    assert approved.status == "approved" and approved.approval == APPROVAL
    issued = store.code(digest("code"))
    assert (issued.request_id, issued.client_id, issued.expires_at, issued.used_at) == (
        "req-1", "shop", AT + CODE_TTL, None)  # fmt: skip
    with pytest.raises(AuthorizationClosed) as closed:
        store.approve("login-1", APPROVAL, digest("code-2"), CODE_TTL, AT)
    assert closed.value.status == "approved"
    assert store.code(digest("code-2")) is None
    with pytest.raises(UnknownAuthorization):
        store.approve("login-9", APPROVAL, digest("code-3"), CODE_TTL, AT)


def test_an_expired_or_denied_request_cannot_be_approved(store):
    store.create(new(1), TTL, AT)
    with pytest.raises(AuthorizationClosed) as closed:
        store.approve("login-1", APPROVAL, digest("c1"), CODE_TTL, AT + TTL)
    assert closed.value.status == "expired"
    store.create(new(2, "11112222"), TTL, AT)
    assert store.deny("req-2", AT).status == "denied"
    with pytest.raises(AuthorizationClosed):
        store.approve("login-2", APPROVAL, digest("c2"), CODE_TTL, AT)
    with pytest.raises(AuthorizationClosed):
        store.deny("req-2", AT)


def test_a_code_is_used_once_and_not_after_its_time(store):
    store.create(new(1), TTL, AT)
    store.approve("login-1", APPROVAL, digest("code-1"), CODE_TTL, AT)
    assert store.use_code(digest("code-1"), AT + timedelta(seconds=5))
    assert not store.use_code(digest("code-1"), AT + timedelta(seconds=6))
    assert store.get("req-1", AT).status == "exchanged"
    assert store.code(digest("code-1")).used_at == AT + timedelta(seconds=5)
    store.create(new(2, "22223333"), TTL, AT)
    store.approve("login-2", APPROVAL, digest("code-2"), CODE_TTL, AT)
    assert not store.use_code(digest("code-2"), AT + CODE_TTL)
    assert not store.use_code(digest("never-issued"), AT)


def test_of_two_racing_exchanges_one_wins(store):
    store.create(new(), TTL, AT)
    store.approve("login-1", APPROVAL, digest("code"), CODE_TTL, AT)
    results: list[bool] = []
    start = threading.Barrier(2)

    def exchange() -> None:
        start.wait()
        results.append(store.use_code(digest("code"), AT))

    threads = [threading.Thread(target=exchange) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]


def test_nonces_are_remembered_per_client(store):
    store.create(new(1, nonce="n"), TTL, AT)
    assert store.nonce_seen("shop", "n")
    assert not store.nonce_seen("shop", "n", other_than="req-1")
    assert not store.nonce_seen("bank", "n")


def test_wrong_codes_are_counted_per_terminal(store):
    for minute in (0, 1, 2):
        store.record_failure("clinic-a", "kiosk-1", AT + timedelta(minutes=minute))
    store.record_failure("clinic-a", "kiosk-2", AT)
    found = store.failures_since("clinic-a", "kiosk-1", AT)
    assert found == (AT + timedelta(minutes=1), AT + timedelta(minutes=2))
    assert store.failures_since("clinic-b", "kiosk-1", AT - timedelta(hours=1)) == ()


def test_an_assertion_id_is_accepted_once_per_client(store):
    assert store.use_assertion("jwt-app", "jti-1", AT + timedelta(minutes=1))
    assert not store.use_assertion("jwt-app", "jti-1", AT + timedelta(minutes=1))
    assert store.use_assertion("other-app", "jti-1", AT + timedelta(minutes=1))


def test_purge_deletes_what_no_longer_matters(store):
    store.create(new(1), TTL, AT)
    store.approve("login-1", APPROVAL, digest("code-1"), CODE_TTL, AT)
    store.create(new(2, "22223333"), TTL, AT + timedelta(days=2))
    store.record_failure("clinic-a", "kiosk-1", AT)
    store.use_assertion("jwt-app", "jti-1", AT + timedelta(minutes=1))
    later = AT + timedelta(days=2)
    assert store.purge(later, timedelta(days=1)) == 4
    assert store.count() == 1 and store.code(digest("code-1")) is None
    assert store.get("req-2", later).waiting
    assert store.use_assertion("jwt-app", "jti-1", later + timedelta(minutes=1))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh' / 'kiosk.sqlite3'}"
    return request.getfixturevalue("postgres_empty_db")


def test_0009_goes_down_and_up_again(empty_url):
    db = Database(empty_url)
    try:
        db.upgrade("0009")
        OidcStore(db).create(new(), TTL, AT)
        with db.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0008")
        with db.engine.connect() as conn:
            assert not {"oidc_requests", "oidc_codes"} & set(inspect(conn).get_table_names())
        db.upgrade("0009")
        assert OidcStore(db).create(new(), TTL, AT).waiting
    finally:
        db.dispose()
