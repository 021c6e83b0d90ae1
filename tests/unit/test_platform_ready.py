"""`/v1/ready` (kiosk.platform.metrics.Readiness): 200 only with a reachable store and every CRL
in force fresh (within nextUpdate + crl_grace_s, verification's own rule), else 503 with the
reasons as codes; no token; the store asked at most once a second however often it is polled.
On SQLite and PostgreSQL; the store gone on SQLite (its directory taken away)."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from platform_ops_support import Clock, Ops, open_local

from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.crl import check_crl

pytest_plugins = ["test_verify_support"]

GRACE_S = 300
#: world.crl: thisUpdate an hour before world.now, nextUpdate a day after thisUpdate.
UNTIL_NEXT_UPDATE = timedelta(hours=23)


@pytest.fixture
def any_local(world, tmp_path, store_url):
    local = open_local(world, tmp_path, store_url)
    yield local
    local.db.dispose()


def ready(http):
    r = http.get("/v1/ready")
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    return r.status_code, r.json()


def test_ready_with_a_reachable_store_and_fresh_crls_no_token_needed(any_local, world):
    http = Ops(any_local, world, Clock(world.now), grace_s=GRACE_S).client()
    assert ready(http) == (200, {"status": "ready", "reasons": []})


def test_crl_stale_once_the_clock_passes_next_update_and_grace(any_local, world):
    clock = Clock(world.now)
    http = Ops(any_local, world, clock, grace_s=GRACE_S).client()
    clock.advance((UNTIL_NEXT_UPDATE + timedelta(seconds=GRACE_S)).total_seconds())
    assert ready(http)[0] == 200  # at nextUpdate + grace exactly: still usable

    clock.advance(1)
    stale = sorted(f"crl_stale:{world.key_id(which)}" for which in ("auth", "sign"))
    assert ready(http) == (503, {"status": "not_ready", "reasons": stale})


def test_only_the_stale_issuer_is_named_and_a_new_crl_makes_it_ready(any_local, world):
    clock = Clock(world.now)
    http = Ops(any_local, world, clock, grace_s=GRACE_S).client()
    clock.advance((UNTIL_NEXT_UPDATE + timedelta(seconds=GRACE_S + 1)).total_seconds())
    newer = world.crl("auth", this_update=clock.now - timedelta(minutes=5), number=8)
    SqlRevocationIndex(any_local.db).replace(check_crl(newer, world.trust, clock.now), clock.now)

    clock.advance(1)  # past the cache's second: the store is read again
    assert ready(http) == (
        503,
        {"status": "not_ready", "reasons": [f"crl_stale:{world.key_id('sign')}"]},
    )
    newer = world.crl("sign", this_update=clock.now - timedelta(minutes=5), number=8)
    SqlRevocationIndex(any_local.db).replace(check_crl(newer, world.trust, clock.now), clock.now)
    clock.advance(1)
    assert ready(http) == (200, {"status": "ready", "reasons": []})


def test_no_crl_in_force_is_not_ready(world, tmp_path):
    local = open_local(world, tmp_path, crls=False)
    try:
        http = Ops(local, world, Clock(world.now)).client()
        assert ready(http) == (503, {"status": "not_ready", "reasons": ["no_crl"]})
    finally:
        local.db.dispose()


def test_the_store_gone_is_store_unavailable_never_a_500(world, tmp_path):
    local = open_local(world, tmp_path / "store")
    clock = Clock(world.now)
    try:
        http = Ops(local, world, clock).client()
        assert ready(http)[0] == 200
        local.db.dispose()
        shutil.rmtree(tmp_path / "store" / "data")  # the SQLite file and its directory gone

        assert ready(http)[0] == 200  # the answer of this second, reused
        clock.advance(1)
        assert ready(http) == (503, {"status": "not_ready", "reasons": ["store_unavailable"]})
    finally:
        local.db.dispose()


class CountingCrls:
    """The store's CRLs, counting how often they are read."""

    def __init__(self, index: SqlRevocationIndex) -> None:
        self.index, self.reads = index, 0

    def all_info(self):
        self.reads += 1
        return self.index.all_info()


def test_the_store_is_asked_at_most_once_a_second_and_freshness_judged_at_every_poll(
    world, tmp_path
):
    local = open_local(world, tmp_path)
    try:
        clock = Clock(world.now)
        crls = CountingCrls(SqlRevocationIndex(local.db))
        http = Ops(local, world, clock, grace_s=GRACE_S, crls=crls).client()
        for _ in range(5):
            assert ready(http)[0] == 200
        assert crls.reads == 1

        clock.now += UNTIL_NEXT_UPDATE + timedelta(seconds=GRACE_S + 1)  # the ticker stays
        assert ready(http)[0] == 503  # the CRLs read this second, judged by the clock now
        assert crls.reads == 1
        clock.tick += 1
        assert ready(http)[0] == 503
        assert crls.reads == 2
    finally:
        local.db.dispose()


def test_the_schema_documents_ready_and_not_metrics(world, tmp_path):
    local = open_local(world, tmp_path)
    try:
        spec = Ops(local, world, Clock(world.now)).client().get("/openapi.json").json()
    finally:
        local.db.dispose()
    assert "/metrics" not in spec["paths"]
    responses = spec["paths"]["/v1/ready"]["get"]["responses"]
    for status in ("200", "503"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/ReadyBody")
    assert set(spec["components"]["schemas"]["ReadyBody"]["required"]) == {"status", "reasons"}
