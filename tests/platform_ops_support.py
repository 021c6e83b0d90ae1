"""The platform with its operations endpoints (/metrics, /v1/ready) over a real store, for the
tests of kiosk.platform.metrics and kiosk.platform.logs: a settable clock and ticker, the test
PKI's CRLs in force, TestClients that call from an address of the caller's choosing, and the
exposition parsed by prometheus-client's own parser."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from ipaddress import ip_network
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from kiosk import config
from kiosk.local import LocalContext
from kiosk.platform.metrics import Operations
from kiosk.platform.service import create_app
from kiosk.store.outbox import Outbox
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.crl import check_crl
from kiosk.verify.ports import IssuedChallenge

PROVIDER, TERMINAL = "demo-clinic", "kiosk-1"
TOKEN = "clinic-secret-token-0123456789"  # noqa: S105 - a test token
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOKENS = {PROVIDER: hashlib.sha256(TOKEN.encode()).hexdigest()}
#: A scraper on this machine, and one elsewhere.
LOOPBACK = ("127.0.0.1", 50123)
ELSEWHERE = ("203.0.113.7", 50123)
LOCAL_ONLY = (ip_network("127.0.0.0/8"), ip_network("::1/128"))


@dataclass
class Clock:
    """The platform's clock (aware UTC) and the readiness cache's ticker, both set by hand."""

    now: datetime
    tick: float = 1000.0

    def __call__(self) -> datetime:
        return self.now

    def ticks(self) -> float:
        return self.tick

    def advance(self, seconds: float) -> None:
        """Time passes: the wall clock and the ticker alike."""
        self.now += timedelta(seconds=seconds)
        self.tick += seconds


def settings(world: Any, tmp_path: Path, **more: Any) -> config.Config:
    values: dict[str, Any] = {
        "data_dir": str(tmp_path / "data"),
        "trust_dir": str(world.pki.trust_dir),
        "crl_dir": str(tmp_path / "crl"),
        "provider_id": PROVIDER,
        "terminal_id": TERMINAL,
    }
    values.update(more)
    return config.from_mapping(values)


def open_local(world: Any, tmp_path: Path, url: str = "", *, crls: bool = True) -> LocalContext:
    """A migrated store (SQLite in tmp_path, or `url`), with the test PKI's CRLs in force."""
    local = LocalContext.from_config(settings(world, tmp_path, database_url=url))
    if crls:
        index = SqlRevocationIndex(local.db)
        for which in ("auth", "sign"):
            index.replace(check_crl(world.crl(which), world.trust, world.now), world.now)
    return local


@dataclass
class Ops:
    """The platform app over `local` with its operations, and clients of it."""

    local: LocalContext
    world: Any
    clock: Clock
    grace_s: int = 0
    networks: tuple[Any, ...] = LOCAL_ONLY
    crls: Any = None  # the CrlStatus to read; None = the store's
    sources: Any = None  # the CRL refresher's record (CrlSources), if any
    app: Any = field(init=False)

    def __post_init__(self) -> None:
        operations = Operations(
            self.crls or SqlRevocationIndex(self.local.db),
            self.grace_s,
            self.networks,
            Outbox(self.local.db),
            self.sources,
            ticks=self.clock.ticks,
        )
        self.app = create_app(
            verifier=self.local.verifier,
            challenges=self.local.challenges,
            tokens=TOKENS,
            clock=self.clock,
            operations=operations,
        )

    def client(self, address: tuple[str, int] = LOOPBACK) -> TestClient:
        return TestClient(self.app, raise_server_exceptions=False, client=address)

    def issue(self, http: TestClient) -> IssuedChallenge:
        body = {"provider_id": PROVIDER, "terminal_id": TERMINAL}
        r = http.post("/v1/challenges", json=body, headers=AUTH)
        assert r.status_code == 201, r.text
        answer = r.json()
        return IssuedChallenge(
            base64.b64decode(answer["nonce"]),
            answer["provider_id"],
            answer["terminal_id"],
            datetime.fromisoformat(answer["issued_at"]),
            datetime.fromisoformat(answer["expires_at"]),
        )


def families(text: str) -> dict[str, Any]:
    """The exposition's metric families by name (prometheus-client's parser)."""
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(found: dict[str, Any], sample: str, **labels: str) -> float | None:
    """The value of the one sample of that name and labels, or None when there is none."""
    for family in found.values():
        for s in family.samples:
            if s.name == sample and s.labels == labels:
                return float(s.value)
    return None


def scrape(http: TestClient) -> dict[str, Any]:
    r = http.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return families(r.text)
