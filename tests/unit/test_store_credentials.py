"""Terminal credentials in the store (kiosk.store.credentials), on SQLite and PostgreSQL:
issue (token shown once, kept as its SHA-256 only), look up, rotate, revoke, list; ids
refused; migration 0010 down and up again."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from kiosk.store.credentials import (
    CREDENTIAL_ID,
    MAX_PROVIDERS,
    BadCredentialField,
    CredentialRevoked,
    TerminalCredential,
    TerminalCredentials,
    UnknownCredential,
    token_digest,
)
from kiosk.store.engine import Database, alembic_config
from kiosk.store.errors import StoreError
from kiosk.store.models import Base

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def creds(db: Database) -> TerminalCredentials:
    return TerminalCredentials(db)


def test_issue_gives_a_credential_and_a_token_kept_as_its_digest_only(db, creds):
    credential, token = creds.issue("kiosk-7", ["shop-b", "clinic-a", "shop-b"], NOW)
    assert CREDENTIAL_ID.fullmatch(credential.credential_id)
    assert credential == TerminalCredential(
        credential.credential_id, "kiosk-7", ("clinic-a", "shop-b"), NOW, None, None
    )
    assert len(token) >= 43  # 256 bits, URL-safe base64
    with db.engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT * FROM terminal_credentials").one()._mapping
    assert bytes(row["token_digest"]) == hashlib.sha256(token.encode()).digest()
    assert token not in {str(v) for v in row.values()}
    assert creds.by_token(token) == credential
    assert creds.lookup(token_digest(token)) == credential
    assert creds.get(credential.credential_id) == credential
    assert creds.by_token(token + "x") is None


def test_each_issue_is_its_own_credential_and_token(creds):
    one, token_one = creds.issue("kiosk-1", ["clinic-a"], NOW)
    two, token_two = creds.issue("kiosk-1", ["clinic-a"], NOW + timedelta(seconds=1))
    assert one.credential_id != two.credential_id and token_one != token_two
    assert creds.all() == [one, two]
    assert creds.by_token(token_two) == two


def test_rotate_replaces_the_token_and_the_old_one_is_unknown(creds):
    credential, old = creds.issue("kiosk-1", ["clinic-a"], NOW)
    later = NOW + timedelta(hours=1)
    rotated, new = creds.rotate(credential.credential_id, later)
    assert new != old
    assert rotated == TerminalCredential(
        credential.credential_id, "kiosk-1", ("clinic-a",), NOW, None, later
    )
    assert creds.by_token(old) is None and creds.lookup(token_digest(old)) is None
    assert creds.by_token(new) == rotated


def test_revoke_refuses_the_token_but_the_lookup_still_says_revoked(creds):
    credential, token = creds.issue("kiosk-1", ["clinic-a"], NOW)
    later = NOW + timedelta(minutes=5)
    assert creds.revoke(credential.credential_id, later) is True
    assert creds.by_token(token) is None
    found = creds.lookup(token_digest(token))
    assert found is not None and found.revoked_at == later and not found.active
    assert creds.revoke(credential.credential_id, later) is False  # already
    assert creds.revoke("tc-000000000000", later) is False  # unknown
    assert creds.revoke("'; DROP TABLE terminal_credentials; --", later) is False
    with pytest.raises(CredentialRevoked):
        creds.rotate(credential.credential_id, later)
    assert [c.revoked_at for c in creds.all()] == [later]


def test_rotating_an_unknown_credential_is_a_typed_store_error(creds):
    with pytest.raises(UnknownCredential) as refused:
        creds.rotate("tc-0123456789ab", NOW)
    assert isinstance(refused.value, StoreError)


@pytest.mark.parametrize(
    ("terminal", "providers"),
    [
        ("", ["clinic-a"]),
        ("kiosk 1", ["clinic-a"]),
        ("-kiosk", ["clinic-a"]),
        ("k" * 65, ["clinic-a"]),
        ("kiosk-1", []),
        ("kiosk-1", ["clinic a"]),
        ("kiosk-1", ["ok", ""]),
        ("kiosk-1", "clinic-a"),  # a string, not a list
        ("kiosk-1", [f"p{n}" for n in range(MAX_PROVIDERS + 1)]),
    ],
)
def test_ids_of_the_wrong_form_are_refused(creds, terminal, providers):
    with pytest.raises(BadCredentialField):
        creds.issue(terminal, providers, NOW)
    assert creds.all() == []


def test_a_credential_for_the_most_providers_is_kept_whole(creds):
    providers = [f"provider-{n:02d}-" + "x" * 52 for n in range(MAX_PROVIDERS)]
    credential, token = creds.issue("kiosk-1", providers, NOW)
    assert creds.by_token(token) == credential and credential.providers == tuple(providers)


def test_another_handle_sees_a_revocation_at_once(store_url, creds):
    credential, token = creds.issue("kiosk-1", ["clinic-a"], NOW)
    other = Database(store_url)
    try:
        assert TerminalCredentials(other).revoke(credential.credential_id, NOW)
    finally:
        other.dispose()
    assert creds.by_token(token) is None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh' / 'kiosk.sqlite3'}"
    return request.getfixturevalue("postgres_empty_db")


def test_0010_goes_down_and_up_again(empty_url):
    db = Database(empty_url)
    try:
        db.upgrade("0010")
        with db.engine.connect() as conn:
            assert "terminal_credentials" in inspect(conn).get_table_names()
        _, token = TerminalCredentials(db).issue("kiosk-1", ["clinic-a"], NOW)
        db.dispose()
        with db.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0009")
        with db.engine.connect() as conn:
            assert "terminal_credentials" not in inspect(conn).get_table_names()
        db.upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
        assert [d for d in diff if "terminal_credentials" in repr(d)] == []
        assert TerminalCredentials(db).by_token(token) is None  # gone with the table
    finally:
        db.dispose()
