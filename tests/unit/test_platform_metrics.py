"""`/metrics` (kiosk.platform.metrics), read as a scraper reads it: prometheus-client's parser
over the exposition, after real requests to the platform over a real store (the test PKI's
CRLs, the virtual card's proofs).

Requests by route template and status, verdicts by the reason the route noted, latency by
route; no caller-chosen path or method ever becomes a label; the CRL in force per issuer (age,
seconds left, stale) and the outbox from the store at scrape time; only configured networks
may scrape; several worker processes' counts add up (real child processes writing into one
directory, a third one answering the scrape)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path

import pytest
from cryptography import x509
from fastapi.testclient import TestClient
from platform_ops_support import (
    AUTH,
    ELSEWHERE,
    LOOPBACK,
    PROVIDER,
    TERMINAL,
    TOKENS,
    Clock,
    Ops,
    families,
    open_local,
    scrape,
    settings,
    value,
)
from test_verify_support import make_proof

from kiosk import config
from kiosk.config import ConfigError
from kiosk.local import LocalContext, import_crls
from kiosk.platform import metrics, workers
from kiosk.platform.service import app_from_config
from kiosk.store.crlsources import CrlSources
from kiosk.store.engine import Database
from kiosk.store.outbox import Outbox, VisitAudit

pytest_plugins = ["test_verify_support"]

CHILD = Path(__file__).parents[1] / "platform_worker_child.py"
REQUESTS = "jpki_platform_requests_total"
VERDICTS = "jpki_platform_verdicts_total"
LATENCY = "jpki_platform_request_duration_seconds"


@pytest.fixture
def local(world, tmp_path):
    local = open_local(world, tmp_path)
    yield local
    local.db.dispose()


@pytest.fixture
def clock(world):
    return Clock(world.now)


@pytest.fixture
def ops(local, world, clock):
    return Ops(local, world, clock)


def prove(ops, http, proof=None):
    """Post a proof (a fresh one over a new challenge unless given); the proof sent."""
    proof = proof or make_proof(ops.world, ops.issue(http))
    r = http.post("/v1/proofs", json=proof.to_json(), headers=AUTH)
    assert r.status_code == 200, r.text
    return proof


# --- requests, verdicts, latency -----------------------------------------------------------


def test_requests_are_counted_by_route_template_method_and_status(ops):
    http = ops.client()
    proof = prove(ops, http)
    prove(ops, http, proof)  # the replay: still a 200 (a verdict), counted as one
    assert http.post("/v1/proofs", json=proof.to_json()).status_code == 401
    assert http.get("/v1/health").status_code == 200

    found = scrape(http)
    assert value(found, REQUESTS, route="/v1/challenges", method="POST", status="201") == 1
    assert value(found, REQUESTS, route="/v1/proofs", method="POST", status="200") == 2
    assert value(found, REQUESTS, route="/v1/proofs", method="POST", status="401") == 1
    assert value(found, REQUESTS, route="/v1/health", method="GET", status="200") == 1
    assert found["jpki_platform_requests"].type == "counter"


def test_verdicts_are_counted_by_the_reason_the_route_noted(ops):
    http = ops.client()
    proof = prove(ops, http)
    prove(ops, http, proof)
    prove(ops, http, proof)
    assert http.post("/v1/proofs", json=proof.to_json()).status_code == 401
    r = http.post("/v1/proofs", content=b"{", headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 400

    found = scrape(http)
    assert value(found, VERDICTS, route="/v1/challenges", reason="issued") == 1
    assert value(found, VERDICTS, route="/v1/proofs", reason="ok") == 1
    assert value(found, VERDICTS, route="/v1/proofs", reason="challenge_replayed") == 2
    assert value(found, VERDICTS, route="/v1/proofs", reason="unauthorized") == 1
    assert value(found, VERDICTS, route="/v1/proofs", reason="malformed") == 1


def test_latency_is_a_histogram_per_route(ops):
    http = ops.client()
    for _ in range(3):
        prove(ops, http)

    found = scrape(http)
    assert found[LATENCY].type == "histogram"
    route = {"route": "/v1/proofs"}
    assert value(found, f"{LATENCY}_count", **route) == 3
    assert value(found, f"{LATENCY}_bucket", le="+Inf", **route) == 3
    buckets = [
        s.value
        for s in found[LATENCY].samples
        if s.name == f"{LATENCY}_bucket" and s.labels["route"] == "/v1/proofs"
    ]
    assert buckets == sorted(buckets)  # cumulative
    assert 0 < value(found, f"{LATENCY}_sum", **route) < 60


def test_no_path_or_method_the_caller_chose_becomes_a_label(ops):
    http = ops.client()
    assert http.get("/v1/x?y=1").status_code == 404
    series = len(scrape(http)["jpki_platform_requests"].samples)

    for path in ("/v1/x?y=2", "/v1/other/thing", "/%2e%2e/etc", "/v1/proofs/123", "/a" * 40):
        assert http.get(path).status_code == 404
    assert http.request("BREW", "/v1/health").status_code == 405
    assert http.request("BREW", "/v1/coffee").status_code == 404

    found = scrape(http)
    assert value(found, REQUESTS, route="unmatched", method="GET", status="404") == 6
    assert value(found, REQUESTS, route="unmatched", method="other", status="404") == 1
    assert value(found, REQUESTS, route="/v1/health", method="other", status="405") == 1
    assert value(found, VERDICTS, route="unmatched", reason="not_found") == 7
    # the first 404 made the series the later ones count in; only the two 'other' ones and
    # the /metrics scrape itself are new
    assert len(found["jpki_platform_requests"].samples) <= series + 3
    routes = {s.labels.get("route") for f in found.values() for s in f.samples} - {None}
    assert routes <= {
        "/v1/health", "/v1/challenges", "/v1/proofs", "/metrics", "unmatched",
    }  # fmt: skip


def test_a_reason_that_is_not_a_short_code_is_other():
    assert metrics.label_values(None, "Not a code\n" + "x" * 100) == ("unmatched", "other")
    assert metrics.label_values(None, "x" * 49) == ("unmatched", "other")
    assert metrics.label_values(None, None) == ("unmatched", None)


# --- read from the store at scrape time ----------------------------------------------------


def test_the_crl_in_force_per_issuer_age_time_left_and_stale(local, world, clock):
    ops = Ops(local, world, clock, grace_s=600)
    http = ops.client()
    auth, sign = world.key_id("auth"), world.key_id("sign")
    # world.crl: thisUpdate an hour before world.now, nextUpdate a day after thisUpdate

    found = scrape(http)
    assert value(found, "jpki_platform_store_up") == 1
    for issuer in (auth, sign):
        assert value(found, "jpki_platform_crl_age_seconds", issuer=issuer) == 3600
        left = 23 * 3600 + 600
        assert value(found, "jpki_platform_crl_fresh_seconds", issuer=issuer) == left
        assert value(found, "jpki_platform_crl_stale", issuer=issuer) == 0
        assert value(found, "jpki_platform_crl_entries", issuer=issuer) == 0

    clock.advance(23 * 3600 + 601)  # past nextUpdate + grace
    found = scrape(http)
    assert value(found, "jpki_platform_crl_stale", issuer=auth) == 1
    assert value(found, "jpki_platform_crl_fresh_seconds", issuer=auth) == -1
    assert value(found, "jpki_platform_crl_age_seconds", issuer=auth) == 3600 + 23 * 3600 + 601


def test_the_outbox_depth(ops, local, world):
    http = ops.client()
    assert value(scrape(http), "jpki_platform_outbox_pending") == 0
    audit = VisitAudit("insurance_check", True, PROVIDER, TERMINAL)
    Outbox(local.db).enqueue(uuid.uuid4(), "reception", b"{}", world.now, audit=audit)
    assert value(scrape(http), "jpki_platform_outbox_pending") == 1


def test_a_store_that_cannot_be_read_is_store_up_0_and_the_counts_are_still_served(
    world, tmp_path, clock
):
    local = open_local(world, tmp_path / "store")
    try:
        ops = Ops(local, world, clock)
        http = ops.client()
        assert http.get("/v1/health").status_code == 200
        local.db.dispose()
        shutil.rmtree(tmp_path / "store" / "data")  # the SQLite file and its directory gone

        found = scrape(http)
        assert value(found, "jpki_platform_store_up") == 0
        assert "jpki_platform_crl_age_seconds" not in found
        assert value(found, REQUESTS, route="/v1/health", method="GET", status="200") == 1
    finally:
        local.db.dispose()


def test_what_the_crl_refresher_recorded_per_url(local, world, clock):
    sources = CrlSources(local.db)
    good, bad = "http://crl.example/auth.crl", "http://user:secret@crl.example:8080/sign.crl?k=v"
    for url in (good, bad):
        assert sources.claim(url, "worker-1", world.now, timedelta(minutes=5), None) is not None
    sources.succeeded(good, "worker-1", world.now, None)
    sources.failed(bad, "worker-1", world.now + timedelta(seconds=5), "http_503")

    found = scrape(Ops(local, world, clock, sources=sources).client())
    shown = "http://crl.example:8080/sign.crl"  # no user, password or query in a label
    at = world.now.timestamp()
    success = "jpki_platform_crl_source_last_success_timestamp_seconds"
    check = "jpki_platform_crl_source_last_check_timestamp_seconds"
    assert value(found, success, url=good) == at
    assert value(found, success, url=shown) is None  # never succeeded
    assert value(found, check, url=shown) == at + 5
    failing = "jpki_platform_crl_source_failing"
    assert value(found, failing, url=good, error="") == 0
    assert value(found, failing, url=shown, error="http_503") == 1
    text = "\n".join(str(s) for f in found.values() for s in f.samples)
    assert "secret" not in text and "k=v" not in text


# --- who may scrape ------------------------------------------------------------------------


def test_only_clients_in_the_configured_networks_may_scrape(local, world, clock):
    ops = Ops(local, world, clock)
    assert ops.client(LOOPBACK).get("/metrics").status_code == 200
    assert ops.client(("::ffff:127.0.0.1", 1)).get("/metrics").status_code == 200
    assert ops.client(("::1", 1)).get("/metrics").status_code == 200
    for address in (ELSEWHERE, ("testclient", 1), ("10.0.0.1", 1)):
        r = ops.client(address).get("/metrics")
        assert (r.status_code, r.json()["error"]) == (403, "forbidden")
        assert "jpki_platform" not in r.text

    network = Ops(local, world, clock, networks=(ip_network("203.0.113.0/24"),))
    assert network.client(ELSEWHERE).get("/metrics").status_code == 200
    assert network.client(LOOPBACK).get("/metrics").status_code == 403
    nobody = Ops(local, world, clock, networks=())
    assert nobody.client(LOOPBACK).get("/metrics").status_code == 403


def test_the_metrics_networks_are_configured_and_checked():
    assert config.Config().platform_metrics_networks == (
        ip_network("127.0.0.0/8"),
        ip_network("::1/128"),
    )
    cfg = config.from_mapping({"platform_metrics_networks": ["10.1.2.0/24", "::1"]})
    assert cfg.platform_metrics_networks == (
        ip_network("10.1.2.0/24"),
        ip_network("::1/128"),
    )
    env = {"KIOSK_PLATFORM_METRICS_NETWORKS": "192.0.2.0/24, 127.0.0.1"}
    assert config.load(None, env=env).platform_metrics_networks == (
        ip_network("192.0.2.0/24"),
        ip_network("127.0.0.1/32"),
    )
    assert config.from_mapping({"platform_metrics_networks": []}).platform_metrics_networks == ()
    for bad, where in (
        (["10.1.2.3/24"], r"platform_metrics_networks\[0\]"),  # host bits: a typo
        (["127.0.0.1/8", "x"], r"platform_metrics_networks\[0\]"),
        (["10.0.0.0/8", 7], r"platform_metrics_networks\[1\]"),
        (7, "platform_metrics_networks: must be a list"),
    ):
        with pytest.raises(ConfigError, match=where):
            config.from_mapping({"platform_metrics_networks": bad})


def test_the_platform_from_its_configuration_serves_metrics_and_readiness(world, tmp_path):
    crl_dir = tmp_path / "crl"
    crl_dir.mkdir()
    for which in ("auth", "sign"):
        (crl_dir / f"{which}.crl").write_bytes(world.crl(which))
    cfg = settings(world, tmp_path, platform_tokens=TOKENS)
    app = app_from_config(cfg)
    db = Database(cfg.effective_database_url)  # the refresher's record, as a worker leaves it
    try:
        url = "http://crl.example/auth.crl"
        CrlSources(db).claim(url, "worker-1", world.now, timedelta(minutes=5), None)
        CrlSources(db).failed(url, "worker-1", world.now, "timeout")
    finally:
        db.dispose()

    with TestClient(app, client=LOOPBACK) as http:
        assert http.get("/v1/ready").json() == {"status": "ready", "reasons": []}
        found = scrape(http)
        assert value(found, "jpki_platform_crl_stale", issuer=world.key_id("auth")) == 0
        assert value(found, "jpki_platform_outbox_pending") == 0
        assert value(found, "jpki_platform_crl_source_failing", url=url, error="timeout") == 1
        assert value(found, REQUESTS, route="/v1/ready", method="GET", status="200") == 1
    with TestClient(app, client=ELSEWHERE) as http:
        assert http.get("/metrics").status_code == 403


# --- several worker processes --------------------------------------------------------------


def _worker_config(world, tmp_path) -> Path:
    crl_dir = tmp_path / "crl"
    crl_dir.mkdir()
    for which in ("auth", "sign"):
        (crl_dir / f"{which}.crl").write_bytes(world.crl(which))
    path = tmp_path / "platform.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        f'trust_dir = "{world.pki.trust_dir}"\n'
        f'crl_dir = "{crl_dir}"\n'
        f'[platform_tokens]\n{PROVIDER} = "{TOKENS[PROVIDER]}"\n'
    )
    local = LocalContext.from_config(config.load(path, env={}))
    try:  # the store migrated and the CRLs in force before the workers start, as serve does
        import_crls(config.load(path, env={}), local)
    finally:
        local.db.dispose()
    return path


def _run_workers(*commands: list[str], directory: Path) -> list[str]:
    """Run worker processes at once with the multiprocess directory; their outputs."""
    env = {**os.environ, metrics.MULTIPROC_ENV: str(directory)}
    env.pop("PYTHONWARNINGS", None)
    children = [
        subprocess.Popen(  # noqa: S603 - this interpreter, the test's own script
            [sys.executable, str(CHILD), *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        outputs.append(out)
    return outputs


def test_under_several_worker_processes_the_counts_add_up(world, tmp_path, monkeypatch):
    cfg = _worker_config(world, tmp_path)
    directory = tmp_path / "metrics"
    monkeypatch.setenv(metrics.MULTIPROC_ENV, "")  # this process's own is restored after
    workers.prepare_metrics(directory)  # what `serve --workers N` does first
    _run_workers(["serve", str(cfg), "3"], ["serve", str(cfg), "4"], directory=directory)
    assert {p.name.split("_")[0] for p in directory.iterdir()} == {"counter", "histogram"}

    (text,) = _run_workers(["scrape", str(cfg)], directory=directory)  # a third worker
    found = families(text)
    assert value(found, REQUESTS, route="/v1/challenges", method="POST", status="201") == 7
    assert value(found, REQUESTS, route="unmatched", method="GET", status="404") == 7
    assert value(found, VERDICTS, route="/v1/challenges", reason="issued") == 7
    assert value(found, f"{LATENCY}_count", route="/v1/challenges") == 7
    # the store's figures once, not once per worker
    assert value(found, "jpki_platform_crl_stale", issuer=world.key_id("auth")) == 0
    assert value(found, "jpki_platform_store_up") == 1


def test_preparing_the_directory_clears_a_previous_runs_values(tmp_path, monkeypatch):
    monkeypatch.setenv(metrics.MULTIPROC_ENV, "placeholder")  # restored after the test
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_123.db").write_bytes(b"old")
    (directory / "histogram_9.db").write_bytes(b"old")
    (directory / "notes.txt").write_text("not ours")

    workers.prepare_metrics(directory)
    assert os.environ[metrics.MULTIPROC_ENV] == str(directory.resolve())
    assert sorted(p.name for p in directory.iterdir()) == ["notes.txt"]
    workers.prepare_metrics(tmp_path / "new")
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700


def test_a_multiprocess_directory_named_after_the_client_was_imported_is_refused(
    local, world, clock, tmp_path, monkeypatch
):
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(tmp_path))
    with pytest.raises(RuntimeError, match="before prometheus-client is first imported"):
        Ops(local, world, clock)


def test_a_crl_without_next_update_is_stale_and_has_no_time_left(local, world, clock):
    from kiosk.verify.ports import CrlInfo

    class NoNextUpdate:
        def all_info(self):
            return [CrlInfo("ab" * 20, world.now - timedelta(hours=1), None, 1, 5)]

    found = scrape(Ops(local, world, clock, crls=NoNextUpdate()).client())
    assert value(found, "jpki_platform_crl_stale", issuer="ab" * 20) == 1
    assert value(found, "jpki_platform_crl_fresh_seconds", issuer="ab" * 20) is None
    assert value(found, "jpki_platform_crl_entries", issuer="ab" * 20) == 5


def test_verdicts_on_the_auth_serial_are_never_labels(ops, world):
    http = ops.client()
    prove(ops, http)
    serial = str(x509.load_der_x509_certificate(world.auth_cert).serial_number)
    text = http.get("/metrics").text
    assert serial not in text and TERMINAL not in text and PROVIDER not in text
