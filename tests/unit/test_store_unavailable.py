"""A database that cannot be reached is the store's StoreError on every path (callers fail
closed and may try again), never the driver's or SQLAlchemy's own exception."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.links import LinkRepository


@pytest.fixture
def gone():
    db = Database("postgresql://kiosk@127.0.0.1:9/nowhere")  # nobody listens on port 9
    yield db
    db.dispose()


def test_hot_path_statements(gone):
    with pytest.raises(StoreError, match="unavailable"):
        gone.one("SELECT 1", ())
    with pytest.raises(StoreError, match="unavailable"):
        gone.count("SELECT 1", ())


def test_units_and_transactions(gone):
    with pytest.raises(StoreError, match="unavailable"), gone.unit():
        pass
    with pytest.raises(StoreError, match="unavailable"), gone.reading() as conn:
        conn.execute(text("SELECT 1"))
    with pytest.raises(StoreError, match="unavailable"), gone.writing() as conn:
        conn.execute(text("SELECT 1"))


def test_repositories(gone):
    with pytest.raises(StoreError, match="unavailable"):
        LinkRepository(gone).find_by_account("demo-clinic", "patient-42")
