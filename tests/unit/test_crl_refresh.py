"""CRLs fetched on a schedule (kiosk.platform.crlrefresh) from a local HTTP server: 200 then 304
with the validators, a changed CRL applied in place, a delta CRL on its base (and refused on
another), every failure keeping the last good CRL with its code recorded, crl_stale once that
CRL runs out, one process at a time per URL, and CRLs swapped under verification load with
every verdict that of the old CRL or of the new one — on SQLite and PostgreSQL."""

from __future__ import annotations

import http.server
import random
import threading
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from test_verify_support import make_proof

from kiosk import config
from kiosk.cli import main as kiosk_main
from kiosk.config import ConfigError, CrlRefreshConfig
from kiosk.pki.authority import Revocation, generate_key, init_pki, make_crl
from kiosk.platform.crlrefresh import CrlRefresher, crl_refresher, refreshing_lifespan
from kiosk.store.crlsources import CrlSources
from kiosk.store.engine import Database
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.store.verification import SqlVerificationStore
from kiosk.verify import crldiff
from kiosk.verify.challenge import ChallengeService
from kiosk.verify.crl import check_crl, check_crl_or_delta
from kiosk.verify.crldiff import diff_crls
from kiosk.verify.crlstream import iter_entries
from kiosk.verify.trust import TrustStore
from kiosk.verify.verdict import Reason, Refused
from kiosk.verify.verifier import Verifier

pytest_plugins = ["test_verify_support"]


# --- a CRL server on 127.0.0.1 ------------------------------------------------------------


@dataclass
class Answer:
    """What the server answers on one path."""

    body: bytes = b""
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    stall: bool = False  # send the headers and a few bytes, then nothing until released


@dataclass
class CrlServer:
    base: str
    answers: dict[str, Answer] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def serve(self, path: str, body: bytes = b"", **kw) -> str:
        self.answers[path] = Answer(body, **kw)
        return self.url(path)


def _handler(server: CrlServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            answer = server.answers.get(self.path, Answer(status=404))
            if answer.etag and self.headers.get("If-None-Match") == answer.etag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(answer.status)
            if answer.etag:
                self.send_header("ETag", answer.etag)
            if answer.last_modified:
                self.send_header("Last-Modified", answer.last_modified)
            body = answer.body if answer.status == 200 else b"error"
            self.send_header("Content-Length", str(len(body) + (1000 if answer.stall else 0)))
            self.end_headers()
            self.wfile.write(body)
            if answer.stall:
                self.wfile.flush()
                server.released.wait(30)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def crl_server() -> Iterator[CrlServer]:
    holder: list[CrlServer] = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: _handler(holder[0])(*a))
    httpd.daemon_threads = True
    server = CrlServer(f"http://127.0.0.1:{httpd.server_address[1]}")
    holder.append(server)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.released.set()
    httpd.shutdown()
    httpd.server_close()


# --- CRLs -------------------------------------------------------------------------------


@pytest.fixture
def now(world) -> datetime:
    return world.now


def crl(world, serials, number, *, delta_base=None, removed=(), this_update=None, days=1):
    """A CRL of the test auth CA (DER): `serials` revoked; with `delta_base`, a delta CRL
    with removeFromCRL entries for `removed`."""
    at = this_update or world.now - timedelta(hours=1)
    entries = [Revocation(s, at - timedelta(days=2)) for s in serials]
    entries += [Revocation(s, at, x509.ReasonFlags.remove_from_crl) for s in removed]
    return make_crl(
        world.ca("auth"),
        world.pki.ca_key("auth"),
        entries,
        this_update=at,
        next_update=at + timedelta(days=days),
        number=number,
        delta_base=delta_base,
    ).public_bytes(serialization.Encoding.DER)


def refresher_for(db, world, tmp_path, urls, now, **settings) -> CrlRefresher:
    cfg = CrlRefreshConfig(tuple(urls), **{"timeout_s": 5, **settings})
    return CrlRefresher(
        db, world.trust, cfg, tmp_path / "cache", clock=lambda: now, owner="test-worker"
    )


def revoked(db, world, serials) -> list[int]:
    index = SqlRevocationIndex(db)
    kid = world.key_id("auth")
    return [s for s in serials if index.lookup(kid, s) is not None]


def in_force(db, world):
    return SqlRevocationIndex(db).crl_info(world.key_id("auth"))


# --- 200, 304, changes ------------------------------------------------------------------


def test_a_crl_is_fetched_and_put_in_force_then_304_with_its_validators(
    db, world, tmp_path, crl_server, now
):
    url = crl_server.serve(
        "/auth.crl",
        crl(world, [11, 12], 1),
        etag='"v1"',
        last_modified="Tue, 01 Dec 2026 00:00:00 GMT",
    )
    refresher = refresher_for(db, world, tmp_path, [url], now)

    first = refresher.refresh(url)
    assert first.status == "applied", first.line()
    assert revoked(db, world, [11, 12, 13]) == [11, 12]
    state = CrlSources(db).get(url)
    assert (state.etag, state.last_modified) == ('"v1"', "Tue, 01 Dec 2026 00:00:00 GMT")
    assert (state.issuer_key_id, state.crl_number, state.last_error) == (
        world.key_id("auth"),
        1,
        None,
    )
    assert state.last_check_at == state.last_success_at == now
    assert "if-none-match" not in crl_server.requests[0][1]

    second = refresher.refresh(url, force=True)
    assert second.status == "not_modified"
    headers = crl_server.requests[1][1]
    assert headers["if-none-match"] == '"v1"'
    assert headers["if-modified-since"] == "Tue, 01 Dec 2026 00:00:00 GMT"
    assert CrlSources(db).all() == [state]  # the same validators, the same CRL
    assert revoked(db, world, [11, 12, 13]) == [11, 12]
    refresher.close()


def test_a_url_is_fetched_again_only_when_its_interval_has_passed(
    db, world, tmp_path, crl_server, now
):
    url = crl_server.serve("/auth.crl", crl(world, [1], 1))
    clock = [now]
    cfg = CrlRefreshConfig((url,), interval_s=3600, timeout_s=5)
    refresher = CrlRefresher(db, world.trust, cfg, tmp_path / "cache", clock=lambda: clock[0])
    assert [o.status for o in refresher.refresh_once()] == ["applied"]
    clock[0] = now + timedelta(minutes=59)
    assert [o.status for o in refresher.refresh_once()] == ["skipped"]
    clock[0] = now + timedelta(minutes=61)
    assert [o.status for o in refresher.refresh_once()] == ["unchanged"]  # no validators: 200
    assert len(crl_server.requests) == 2
    refresher.close()


def test_a_changed_crl_is_applied_in_place_as_its_diff(db, world, tmp_path, crl_server, now):
    url = crl_server.serve("/auth.crl", crl(world, range(100, 160), 1), etag='"a"')
    refresher = refresher_for(db, world, tmp_path, [url], now)
    assert refresher.refresh(url).status == "applied"
    generation = _generation(db)

    crl_server.serve("/auth.crl", crl(world, [*range(105, 160), 7, 8], 2), etag='"b"')
    outcome = refresher.refresh(url, force=True)
    assert outcome.status == "applied"
    assert "+2 -5 in place" in outcome.line()
    assert revoked(db, world, [7, 8, 100, 104, 105, 159]) == [7, 8, 105, 159]
    info = in_force(db, world)
    assert (info.crl_number, info.entries) == (2, 57)
    assert _generation(db) == generation  # changed in place, not re-imported
    with db.reading() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM revoked_serials").scalar() == 57
    assert CrlSources(db).get(url).etag == '"b"'
    refresher.close()


def test_an_entry_whose_reason_changed_is_rewritten(db, world, tmp_path, crl_server, now):
    at = now - timedelta(hours=1)

    def with_reason(reason, number):
        entries = [Revocation(5, at - timedelta(days=1), reason), Revocation(6, at)]
        return make_crl(
            world.ca("auth"),
            world.pki.ca_key("auth"),
            entries,
            this_update=at,
            next_update=at + timedelta(days=1),
            number=number,
        ).public_bytes(serialization.Encoding.DER)

    url = crl_server.serve("/auth.crl", with_reason(x509.ReasonFlags.certificate_hold, 1))
    refresher = refresher_for(db, world, tmp_path, [url], now)
    refresher.refresh(url)
    crl_server.serve("/auth.crl", with_reason(x509.ReasonFlags.key_compromise, 2))
    assert "+1 -1 in place" in refresher.refresh(url, force=True).line()
    entry = SqlRevocationIndex(db).lookup(world.key_id("auth"), 5)
    assert entry.reason == "key_compromise"
    assert in_force(db, world).entries == 2
    refresher.close()


def test_without_its_cached_base_a_changed_crl_is_imported_whole(
    db, world, tmp_path, crl_server, now
):
    url = crl_server.serve("/auth.crl", crl(world, [1, 2], 1))
    refresher = refresher_for(db, world, tmp_path, [url], now)
    refresher.refresh(url)
    for cached in (tmp_path / "cache").iterdir():
        cached.write_bytes(b"damaged")  # the base no longer checks out: not used
    crl_server.serve("/auth.crl", crl(world, [2, 3], 2))
    outcome = refresher.refresh(url, force=True)
    assert outcome.status == "applied" and "in place" not in outcome.line()
    assert revoked(db, world, [1, 2, 3]) == [2, 3]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        f"{CrlSources(db).get(url).der_sha256}.crl"
    ]
    refresher.close()


def _generation(db: Database) -> int:
    with db.reading() as conn:
        return conn.exec_driver_sql("SELECT generation_id FROM crl_current").scalar_one()


# --- delta CRLs -------------------------------------------------------------------------


def test_a_delta_crl_is_applied_on_its_base(db, world, tmp_path, crl_server, now):
    full = crl_server.serve("/auth.crl", crl(world, [1, 2, 3], 5))
    delta = crl_server.serve("/auth-delta.crl", crl(world, [4, 9], 6, delta_base=5, removed=[2]))
    refresher = refresher_for(db, world, tmp_path, [full, delta], now)
    outcomes = refresher.refresh_once()
    assert [o.status for o in outcomes] == ["applied", "applied"]
    assert "(delta CRL)" in outcomes[1].line()
    assert revoked(db, world, range(1, 10)) == [1, 3, 4, 9]
    info = in_force(db, world)
    assert (info.crl_number, info.entries) == (6, 4)
    assert CrlSources(db).get(delta).der_sha256 is None  # no base for a diff
    # the same delta again is contained in the CRL in force: nothing changes
    assert refresher.refresh(delta, force=True).status == "unchanged"
    assert in_force(db, world).entries == 4
    refresher.close()


def test_a_delta_crl_on_another_base_is_refused_and_changes_nothing(
    db, world, tmp_path, crl_server, now
):
    full = crl_server.serve("/auth.crl", crl(world, [1, 2], 5))
    delta = crl_server.serve("/auth-delta.crl", crl(world, [3], 9, delta_base=7, removed=[1]))
    refresher = refresher_for(db, world, tmp_path, [full, delta], now)
    outcomes = refresher.refresh_once()
    assert [(o.status, o.error) for o in outcomes] == [
        ("applied", None),
        ("failed", "crl_wrong_base"),
    ]
    assert revoked(db, world, [1, 2, 3]) == [1, 2]
    assert in_force(db, world).crl_number == 5
    assert CrlSources(db).get(delta).last_error == "crl_wrong_base"
    refresher.close()


def test_a_delta_crl_without_a_complete_one_in_force_is_refused(
    db, world, tmp_path, crl_server, now
):
    delta = crl_server.serve("/auth-delta.crl", crl(world, [3], 6, delta_base=5))
    refresher = refresher_for(db, world, tmp_path, [delta], now)
    assert refresher.refresh(delta).error == "crl_no_base"
    assert in_force(db, world) is None
    refresher.close()


def test_the_test_pki_issues_delta_crls_the_verifier_accepts(tmp_path, now):
    pki = init_pki(tmp_path / "pki", now=now - timedelta(days=1))
    trust = TrustStore.from_dir(pki.trust_dir)
    pki.revoke(0x51, "auth", now=now - timedelta(hours=3))  # CRL 2 (1: the empty one)
    pki.revoke(0x52, "auth", now=now - timedelta(hours=2))  # CRL 3
    der = pki.publish_delta_crl("auth", 2, removed=[0x77], now=now - timedelta(hours=1))
    delta = check_crl_or_delta(der, trust, now)
    assert (delta.base_crl_number, delta.crl_number) == (2, 4)
    assert [(e.serial, e.reason) for e in delta.entries()] == [
        (0x52, None),
        (0x77, "remove_from_crl"),
    ]
    assert (tmp_path / "pki" / "crl-delta" / "auth.crl").read_bytes() == der
    assert not (tmp_path / "pki" / "crl" / "auth-delta.crl").exists()
    with pytest.raises(Refused) as e:  # a delta never passes for a complete CRL
        check_crl(der, trust, now)
    assert e.value.reason is Reason.MALFORMED


# --- failures keep the last good CRL ----------------------------------------------------


def _bad_signature(world) -> bytes:
    other = generate_key()
    at = world.now - timedelta(hours=1)
    return make_crl(
        world.ca("auth"), other, [], this_update=at, next_update=at + timedelta(days=1), number=9
    ).public_bytes(serialization.Encoding.DER)


FAILURES = {
    "bad_signature": (lambda world: {"body": _bad_signature(world)}, "crl_bad_signature"),
    "garbage": (lambda world: {"body": b"\x30\x82\x01\x00 not a CRL at all"}, "malformed"),
    "pem_garbage": (lambda world: {"body": b"-----BEGIN X509 CRL-----\n!!\n"}, "crl_malformed"),
    "too_big": (lambda world: {"body": crl(world, range(1000, 1100), 9)}, "too_large"),
    "server_error": (lambda world: {"status": 500}, "http_500"),
    "not_found": (lambda world: {"status": 404}, "http_404"),
    "timeout": (lambda world: {"body": b"\x30\x82", "stall": True}, "timeout"),
    "empty": (lambda world: {"body": b""}, "empty"),
    "older": (lambda world: {"body": crl(world, [9], 0)}, "crl_outdated"),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_a_failed_refresh_keeps_the_last_good_crl_and_records_why(
    db, world, tmp_path, crl_server, now, case
):
    url = crl_server.serve("/auth.crl", crl(world, [1, 2], 1), etag='"good"')
    refresher = refresher_for(db, world, tmp_path, [url], now, timeout_s=1, max_bytes=2048)
    assert refresher.refresh(url).status == "applied"
    good = CrlSources(db).get(url)

    answer, code = FAILURES[case]
    crl_server.serve("/auth.crl", **answer(world))
    later = now + timedelta(hours=2)
    refresher._clock = lambda: later  # the failure is recorded at its own time
    outcome = refresher.refresh(url, force=True)

    assert (outcome.status, outcome.error) == ("failed", code), outcome.line()
    assert revoked(db, world, [1, 2, 9, 1000]) == [1, 2]
    assert in_force(db, world).crl_number == 1
    state = CrlSources(db).get(url)
    assert (state.last_error, state.last_check_at, state.last_success_at) == (code, later, now)
    assert (state.etag, state.crl_number, state.der_sha256) == (
        good.etag,
        good.crl_number,
        good.der_sha256,
    )
    assert list((tmp_path / "cache").glob(".fetch-*")) == []  # no partial file left
    refresher.close()


def test_after_a_failed_refresh_the_old_crl_runs_out_and_verification_says_crl_stale(
    db, world, tmp_path, crl_server, now
):
    url = crl_server.serve("/auth.crl", crl(world, [], 1, this_update=now - timedelta(hours=1)))
    refresher = refresher_for(db, world, tmp_path, [url], now)
    refresher.refresh(url)
    challenges = ChallengeService()
    verifier = Verifier(world.trust, SqlVerificationStore(db), challenges, crl_grace_s=3600)

    def verdict_at(at: datetime) -> Reason:
        challenge = challenges.issue("demo-clinic", "kiosk-1", at)
        return verifier.verify_user_proof(make_proof(world, challenge), at).reason

    assert verdict_at(now) is Reason.OK
    crl_server.serve("/auth.crl", status=503)
    refresher._clock = lambda: now + timedelta(hours=23)
    assert refresher.refresh(url, force=True).error == "http_503"
    # nextUpdate is now + 23 h; with an hour's grace the old CRL serves until now + 24 h
    assert verdict_at(now + timedelta(hours=23, minutes=59)) is Reason.OK
    assert verdict_at(now + timedelta(hours=24, minutes=1)) is Reason.CRL_STALE
    refresher.close()


# --- several processes ------------------------------------------------------------------


def test_a_url_another_process_is_fetching_is_skipped_until_its_lease_expires(
    db, world, tmp_path, crl_server, now
):
    url = crl_server.serve("/auth.crl", crl(world, [1], 1))
    sources = CrlSources(db)
    assert sources.claim(url, "other-worker", now, timedelta(minutes=5), None) is not None
    refresher = refresher_for(db, world, tmp_path, [url], now)
    assert refresher.refresh(url, force=True).status == "skipped"
    assert crl_server.requests == []
    refresher._clock = lambda: now + timedelta(minutes=6)  # the other worker died
    assert refresher.refresh(url, force=True).status == "applied"
    assert sources.get(url).last_error is None
    refresher.close()


def test_of_many_workers_claiming_at_once_one_gets_the_lease(db, world, now):
    from concurrency_support import all_at_once

    sources = CrlSources(db)
    url = "http://127.0.0.1:1/auth.crl"
    claimed = all_at_once(
        6, lambda i: sources.claim(url, f"worker-{i}", now, timedelta(minutes=5), None)
    )
    assert sum(c is not None for c in claimed) == 1


# --- refresh under load -----------------------------------------------------------------


def test_crls_swap_under_verification_load_and_every_verdict_is_the_old_or_the_new_crls(
    db, world, tmp_path, crl_server, now
):
    """CRLs alternate between A (out of date, the card not on it: crl_stale) and B (fresh, the
    card revoked: revoked), as complete CRLs (imported whole, then diffed in place) and delta
    CRLs, while four threads verify proofs. A verdict from a half-replaced CRL — B's dates
    with A's entries — would be ok: none may be."""
    card = x509.load_der_x509_certificate(world.auth_cert).serial_number
    others = list(range(5000, 5400))
    stale = now - timedelta(days=3)

    def version(number: int) -> bytes:
        if number % 2:  # A
            return crl(world, others[number % 7 :], number, this_update=stale)
        return crl(world, [*others[: 380 + number % 5], card], number)

    url = crl_server.serve("/auth.crl", version(1))
    delta_url = crl_server.url("/auth-delta.crl")
    refresher = refresher_for(db, world, tmp_path, [url, delta_url], now)
    assert refresher.refresh(url).status == "applied"

    challenges = ChallengeService()
    verifier = Verifier(world.trust, SqlVerificationStore(db), challenges)
    done = threading.Event()
    reasons: list[Reason] = []
    errors: list[BaseException] = []

    def verify() -> None:
        try:
            while not done.is_set() or len(reasons) < 20:
                challenge = challenges.issue("demo-clinic", "kiosk-1", now)
                reasons.append(verifier.verify_user_proof(make_proof(world, challenge), now).reason)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=verify) for _ in range(4)]
    for t in threads:
        t.start()
    statuses = []
    try:
        for number in range(2, 14):
            if number % 4 == 3:  # a delta on the B before it: back to A
                body = crl(
                    world,
                    others[number % 7 :],
                    number,
                    delta_base=number - 1,
                    removed=[card],
                    this_update=stale,
                )
                crl_server.serve("/auth-delta.crl", body)
                outcome = refresher.refresh(delta_url, force=True)
            else:
                crl_server.serve("/auth.crl", version(number))
                outcome = refresher.refresh(url, force=True)
            statuses.append((outcome.status, outcome.error))
    finally:
        done.set()
        for t in threads:
            t.join(60)
    assert errors == []
    assert set(statuses) == {("applied", None)}
    assert reasons and set(reasons) <= {Reason.CRL_STALE, Reason.REVOKED}
    assert in_force(db, world).crl_number == 13
    refresher.close()


# --- the diff itself --------------------------------------------------------------------


def test_a_new_crl_listing_an_entry_twice_is_refused_and_changes_nothing(
    db, world, tmp_path, crl_server, now
):
    at = now - timedelta(hours=1)

    def listing(serials, number):
        entries = [Revocation(s, at - timedelta(days=2)) for s in serials]
        return make_crl(
            world.ca("auth"),
            world.pki.ca_key("auth"),
            entries,
            this_update=at,
            next_update=at + timedelta(days=1),
            number=number,
        ).public_bytes(serialization.Encoding.DER)

    url = crl_server.serve("/auth.crl", listing([1, 2], 1))
    refresher = refresher_for(db, world, tmp_path, [url], now)
    refresher.refresh(url)
    for number, twice in ((2, [1, 2, 1]), (3, [1, 2, 5, 5])):  # unchanged, then new, twice
        crl_server.serve("/auth.crl", listing(twice, number))
        assert refresher.refresh(url, force=True).error in ("malformed", "crl_malformed")
        assert revoked(db, world, [1, 2, 5]) == [1, 2]
        assert in_force(db, world).crl_number == 1
    with pytest.raises(Refused):  # the diff itself refuses a new entry listed twice
        diff_crls(check_crl(listing([1], 1), world.trust, now), check_crl(twice, world.trust, now))
    refresher.close()


def test_a_diff_is_the_changed_entries_only(world, now):
    old = check_crl(crl(world, [1, 2, 3], 1), world.trust, now)
    new = check_crl(crl(world, [3, 4, 2], 2), world.trust, now)
    diff = diff_crls(old, new)
    assert [int.from_bytes(e[0], "big") for e in diff.added] == [4]
    assert diff.removed == [b"\x01"]
    assert diff.unchanged == 2


# --- configuration and the command ------------------------------------------------------


def test_the_crl_refresh_section_is_typed_and_closed():
    cfg = config.from_mapping(
        {"crl_refresh": {"urls": ["http://crl.example/a.crl"], "interval_s": 600}}
    )
    assert cfg.crl_refresh == CrlRefreshConfig(("http://crl.example/a.crl",), interval_s=600)
    for bad, where in (
        ({"urls": "http://x/a.crl"}, "crl_refresh.urls"),
        ({"urls": ["ftp://x/a.crl"]}, "crl_refresh.urls[0]"),
        ({"urls": ["http://x/a", "http://x/a"]}, "crl_refresh.urls"),
        ({"interval_s": 10}, "crl_refresh.interval_s"),
        ({"timeout_s": 0}, "crl_refresh.timeout_s"),
        ({"max_bytes": True}, "crl_refresh.max_bytes"),
        ({"every": 5}, "crl_refresh.every"),
    ):
        with pytest.raises(ConfigError, match=rf"^{where.replace('[', '.').replace(']', '')}"):
            config.from_mapping({"crl_refresh": bad})


def test_no_urls_no_refresher(tmp_path):
    assert crl_refresher(config.from_mapping({"data_dir": str(tmp_path)}), None) is None


def test_kiosk_crl_refresh_runs_one_pass(world, tmp_path, crl_server, capsys):
    good = crl_server.serve("/auth.crl", crl(world, [1, 2], 1))
    broken = crl_server.serve("/sign.crl", status=500)
    path = tmp_path / "kiosk.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "var"}"\n'
        f'trust_dir = "{world.pki.trust_dir}"\n'
        f'[crl_refresh]\nurls = ["{good}"]\n'
    )
    assert kiosk_main(["crl", "refresh", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{good}: applied: issuer {world.key_id('auth')}, number 1, 2 entries" in out
    assert kiosk_main(["crl", "refresh", "--config", str(path)]) == 0
    assert f"{good}: unchanged" in capsys.readouterr().out
    assert kiosk_main(["crl", "refresh", "--due-only", "--config", str(path)]) == 0
    assert f"{good}: skipped" in capsys.readouterr().out  # checked less than interval_s ago
    path.write_text(path.read_text().replace(f'"{good}"', f'"{good}", "{broken}"'))
    assert kiosk_main(["crl", "refresh", "--config", str(path)]) == 2
    assert f"{broken}: failed: http_500" in capsys.readouterr().out
    db = Database(f"sqlite:///{tmp_path / 'var' / 'kiosk.sqlite3'}")
    assert [(s.url, s.last_error) for s in CrlSources(db).all()] == [
        (good, None),
        (broken, "http_500"),
    ]
    db.dispose()


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8))
def test_a_diff_of_damaged_entries_is_refused_never_a_crash(world, flips):
    """Untrusted bytes in the new CRL's entries (signature aside): the diff refuses them as
    malformed, or returns exactly the changes the strict reader finds between the two."""
    old = check_crl(crl(world, range(1, 40), 1), world.trust, world.now)
    new = check_crl(crl(world, range(20, 60), 2), world.trust, world.now)
    buf = bytearray(new.buf)
    start, end = new.layout.entries_start, new.layout.entries_end
    for at, value in flips:
        buf[start + at % (end - start)] = value
    try:
        diff = diff_crls(old, replace(new, buf=bytes(buf)))
    except Refused as e:
        assert e.reason is Reason.MALFORMED
        return
    strict = [e for batch in iter_entries(bytes(buf), start, end) for e in batch]  # must pass
    before = [e for batch in old.batches() for e in batch]
    gone = set(diff.removed)
    assert {e for e in before if e[0] not in gone} | set(diff.added) == set(strict)
    assert diff.unchanged + len(diff.added) == len(strict)


def test_the_server_lifespan_runs_the_refresher_and_stops_it(db, world, tmp_path, crl_server, now):
    url = crl_server.serve("/auth.crl", crl(world, [3], 1))
    refresher = refresher_for(db, world, tmp_path, [url], now, interval_s=60)
    closed = []

    @asynccontextmanager
    async def inner(_app):
        yield
        closed.append(CrlSources(db).get(url).last_success_at)  # the refresher stopped first

    app = FastAPI(lifespan=refreshing_lifespan(refresher, inner))
    with TestClient(app):
        deadline = time.monotonic() + 30
        while in_force(db, world) is None and time.monotonic() < deadline:
            threading.Event().wait(0.05)  # polling the store, bounded
        assert revoked(db, world, [3]) == [3]
    assert closed == [now]
    assert not any(t.name == "crl-refresh" for t in threading.enumerate())


def test_after_a_delta_the_next_complete_crl_is_imported_whole_and_right(
    db, world, tmp_path, crl_server, now
):
    full = crl_server.serve("/auth.crl", crl(world, [1, 2, 3], 5))
    delta = crl_server.serve("/auth-delta.crl", crl(world, [4], 6, delta_base=5, removed=[1]))
    refresher = refresher_for(db, world, tmp_path, [full, delta], now)
    refresher.refresh_once()
    crl_server.serve("/auth.crl", crl(world, [2, 4, 7], 7))  # the delta's changes, and one more
    outcome = refresher.refresh(full, force=True)
    assert outcome.status == "applied" and "in place" not in outcome.line()
    assert revoked(db, world, range(1, 9)) == [2, 4, 7]
    assert in_force(db, world).crl_number == 7
    refresher.close()


def test_a_kiosk_that_verifies_at_a_platform_refreshes_no_crl(tmp_path, capsys):
    path = tmp_path / "kiosk.toml"
    path.write_text(
        'verification = "platform"\nplatform_url = "https://platform.example"\n'
        'platform_token = "t0ken"\n[crl_refresh]\nurls = ["http://crl.example/a.crl"]\n'
    )
    assert kiosk_main(["crl", "refresh", "--config", str(path)]) != 0
    assert "CRLs are refreshed by the platform" in capsys.readouterr().err


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(["drop", "add", "change", "redate", "move"]), st.integers(0, 10**6)
        ),
        max_size=40,
    ),
    shuffle=st.booleans(),
    give_up=st.sampled_from([3, 200_000]),
    window=st.sampled_from([40, 97, 512, 4096]),
)
def test_a_diff_finds_exactly_the_changes_in_order_or_not(world, edits, shuffle, give_up, window):
    """Whatever the issuer did to its list — removed, added, changed or moved entries,
    or reordered all of it — the diff (walking in step, or giving up on the order and
    comparing sets) finds exactly the entries added and the serials removed."""
    at = world.now - timedelta(hours=1)
    entries = [  # half on hold: a change of reason keeps the entry's length
        Revocation(s, at - timedelta(days=1, minutes=s), REASONS[s % 2]) for s in range(1000, 1120)
    ]
    after = list(entries)
    for op, n in edits:
        where = n % (len(after) + 1)
        if op == "drop" and after:
            after.pop(where % len(after))
        elif op == "add":
            after.insert(where, Revocation(5000 + n, at - timedelta(hours=n % 50)))
        elif op == "change" and after:
            old = after[where % len(after)]
            after[where % len(after)] = Revocation(old.serial, old.revoked_at, REASONS[n % 3])
        elif op == "redate" and after:  # the same length, a byte in the middle
            old = after[where % len(after)]
            moved = old.revoked_at + timedelta(seconds=1 + n % 7)
            after[where % len(after)] = Revocation(old.serial, moved, old.reason)
        elif op == "move" and after:
            after.insert(where, after.pop(n % len(after)))
    after = list({e.serial: e for e in after}.values())  # one entry per serial
    if shuffle:
        random.Random(len(edits)).shuffle(after)

    def der(items, number):
        return make_crl(
            world.ca("auth"),
            world.pki.ca_key("auth"),
            items,
            this_update=at,
            next_update=at + timedelta(days=1),
            number=number,
        ).public_bytes(serialization.Encoding.DER)

    old = check_crl(der(entries, 1), world.trust, world.now)
    new = check_crl(der(after, 2), world.trust, world.now)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(crldiff, "_GIVE_UP", give_up)
        patch.setattr(crldiff, "_WINDOW", window)
        diff = diff_crls(old, new)
    before_set = {e for batch in old.batches() for e in batch}
    after_set = {e for batch in new.batches() for e in batch}
    assert sorted(diff.added) == sorted(after_set - before_set)
    assert sorted(diff.removed) == sorted(e[0] for e in before_set - after_set)
    assert diff.unchanged == len(after_set & before_set)


REASONS = [x509.ReasonFlags.certificate_hold, x509.ReasonFlags.key_compromise, None]


# --- after a new CRL: the renewal sweep -------------------------------------------------------


def test_the_follow_up_runs_after_a_crl_is_applied_only_and_never_fails_the_refresh(
    db, world, tmp_path, crl_server, now
):
    url = crl_server.serve("/auth.crl", crl(world, [11], 1), etag='"v1"')
    runs: list[str] = []

    def follow_up() -> None:
        runs.append("ran")
        raise RuntimeError("the sweep's store went away")

    cfg = CrlRefreshConfig((url,), timeout_s=5)
    refresher = CrlRefresher(
        db, world.trust, cfg, tmp_path / "cache", clock=lambda: now, after_applied=follow_up
    )
    assert refresher.refresh(url).status == "applied"
    assert runs == ["ran"]  # and its failure did not fail the refresh
    assert refresher.refresh(url, force=True).status == "not_modified"
    assert runs == ["ran"]
    assert revoked(db, world, [11]) == [11]
    refresher.close()


def test_kiosk_crl_refresh_moves_the_links_of_superseded_certificates(
    world, tmp_path, crl_server, capsys
):
    """A renewed card's link moves when the CRL that lists its old certificate as
    superseded is put in force (docs/renewal.md), without a sweep of its own."""
    from kiosk.store.links import LinkRepository
    from kiosk.store.renewal import SqlSuccessionSource, Succession
    from kiosk.verify.verdict import CertRef

    auth, sign = world.key_id("auth"), world.key_id("sign")
    at = world.now - timedelta(hours=1)
    der = make_crl(
        world.ca("auth"),
        world.pki.ca_key("auth"),
        [Revocation(0x10, at - timedelta(days=2), x509.ReasonFlags.superseded)],
        this_update=at,
        next_update=at + timedelta(days=1),
        number=1,
    ).public_bytes(serialization.Encoding.DER)
    url = crl_server.serve("/auth.crl", der)
    path = tmp_path / "kiosk.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "var"}"\n'
        f'trust_dir = "{world.pki.trust_dir}"\n'
        f'[crl_refresh]\nurls = ["{url}"]\n'
    )
    (tmp_path / "var").mkdir()
    db = Database(f"sqlite:///{tmp_path / 'var' / 'kiosk.sqlite3'}")
    db.upgrade()
    links = LinkRepository(db)
    links.add_provider("demo-clinic", "Demo Clinic", at)
    links.create(
        provider_id="demo-clinic",
        account_ref="a",
        auth_issuer_key_id=auth,
        auth_serial=0x10,
        sign_issuer_key_id=sign,
        sign_serial=0x10,
        at=at,
    )
    SqlSuccessionSource(db).put([Succession(CertRef(0x10, auth), CertRef(0x11, auth))], at)

    assert kiosk_main(["crl", "refresh", "--config", str(path)]) == 0
    assert f"{url}: applied" in capsys.readouterr().out
    assert links.find_by_account("demo-clinic", "a").auth_serial == 0x11
    db.dispose()
