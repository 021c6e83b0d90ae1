"""CRLs fetched on a schedule from their URLs (`[crl_refresh]`), checked, and put in force while
verification goes on; the last good CRL stays in force whatever goes wrong.

One pass (`CrlRefresher.refresh_once`, also `kiosk crl refresh` for a systemd timer) takes
each configured URL in turn:

1. **claim** its lease in the store (`CrlSources.claim`): of several worker processes that
   each run a refresher, one fetches a URL at a time; the others skip it at the cost of one
   UPDATE. A lease rather than relying on 304 answers alone: workers that start together
   would otherwise each download a national CRL of ~180 MB and race to import it;
2. **fetch** it over HTTP with the validators of the CRL in force (If-None-Match,
   If-Modified-Since): a 304 costs one round trip. The body is untrusted: bounded in size
   (`max_bytes`, before and while reading) and in time (`timeout_s` for the whole fetch, not
   per read), streamed to a file, never held whole in memory;
3. **check** it with the verifier's `check_crl_or_delta` (signature by a configured anchor,
   RFC 5280 rules, thisUpdate not in the future);
4. **apply** it: a delta CRL on the CRL in force, in place (`crlpatch.delta_patch`); a
   complete CRL as its diff against the complete CRL last applied from this URL when that is
   the one in force (only the changed rows written, in one transaction), else as a full
   import (a new generation, flipped atomically). Either way a reader sees the old CRL or the
   new one, never a mix;
5. **record** the outcome (`CrlSources.succeeded` / `failed`): the validators of a CRL put in
   force, or the code of the failure. A failure touches nothing else: the CRL in force stays,
   and once it is past nextUpdate + grace verification refuses with `crl_stale`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from kiosk.clock import utc_now
from kiosk.store.crlimport import open_crl
from kiosk.store.crlpatch import CrlBaseChanged, delta_patch, diff_patch
from kiosk.store.crlsources import Applied, CrlSources, CrlSourceState
from kiosk.store.errors import StoreError
from kiosk.store.records import CrlImportResult
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.crl import CheckedCrl, check_crl, check_crl_or_delta
from kiosk.verify.crldiff import diff_crls
from kiosk.verify.verdict import Refused

if TYPE_CHECKING:
    from fastapi import FastAPI

    from kiosk.config import Config, CrlRefreshConfig
    from kiosk.store.engine import Database
    from kiosk.verify.trust import TrustStore

log = logging.getLogger(__name__)

#: A server's lifespan (FastAPI's `lifespan_context`).
Lifespan = Callable[["FastAPI"], AbstractAsyncContextManager[None]]

#: Bytes read from the network at a time.
_CHUNK = 256 * 1024
#: Longest validator (ETag, Last-Modified) kept and sent back.
_VALIDATOR_MAX = 512
#: The lease outlives the fetch by this much: time to check and apply what was fetched.
_APPLY_ALLOWANCE = timedelta(minutes=5)


class FetchFailed(Exception):
    """A fetch failed; `code` says how (timeout, unreachable, too_large, http_<status>, …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Fetched:
    """What a fetch got: a new body in `path` (None: 304, the CRL in force is current)."""

    path: Path | None
    etag: str | None
    last_modified: str | None
    sha256: str | None


@dataclass(frozen=True, slots=True)
class RefreshOutcome:
    """What became of one URL in one pass."""

    url: str
    #: "applied" (a new CRL in force), "unchanged" (fetched, already in force),
    #: "not_modified" (304), "failed", or "skipped" (another process holds it, or not due).
    status: str
    result: CrlImportResult | None = None
    error: str | None = None  # the failure's code
    detail: str = ""

    def line(self) -> str:
        """One line for the operator."""
        if self.status == "failed":
            return f"{self.url}: failed: {self.error}: {self.detail}"
        if self.result is None:
            return f"{self.url}: {self.status.replace('_', ' ')}"
        r = self.result
        return (
            f"{self.url}: {self.status}: issuer {r.issuer_key_id}, number {r.crl_number}, "
            f"{r.entries} entries, {r.seconds:.1f}s{self.detail}"
        )


class CrlFetcher:
    """HTTP GET of one CRL with validators, bounded in size and in total time."""

    def __init__(
        self,
        timeout_s: float,
        max_bytes: int,
        *,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes
        self._monotonic = monotonic
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=True,
            max_redirects=3,
            transport=transport,
            headers={"Accept": "application/pkix-crl, */*", "Accept-Encoding": "identity"},
        )

    def close(self) -> None:
        self._client.close()

    def fetch(
        self,
        url: str,
        state: CrlSourceState | None,
        into: Path,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> Fetched:
        """Fetch `url` into the file `into`, conditionally on the validators of `state`."""
        headers = {}
        if state is not None and state.etag:
            headers["If-None-Match"] = state.etag
        if state is not None and state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        deadline = self._monotonic() + self._timeout_s
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304:
                    return Fetched(None, None, None, None)
                if response.status_code != 200:
                    raise FetchFailed(
                        f"http_{response.status_code}",
                        f"the server answered {response.status_code}",
                    )
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self._max_bytes:
                    raise FetchFailed("too_large", f"the CRL is larger than {self._max_bytes} B")
                digest = self._save(response.iter_bytes(_CHUNK), into, deadline, cancelled)
                return Fetched(
                    into,
                    _validator(response.headers.get("etag")),
                    _validator(response.headers.get("last-modified")),
                    digest,
                )
        except httpx.TimeoutException as e:
            raise FetchFailed("timeout", "the server did not answer in time") from e
        except httpx.TransportError as e:
            raise FetchFailed("unreachable", f"cannot fetch the CRL ({type(e).__name__})") from e
        except httpx.HTTPError as e:
            raise FetchFailed("http_error", f"cannot fetch the CRL ({type(e).__name__})") from e

    def _save(
        self,
        chunks: Iterator[bytes],
        into: Path,
        deadline: float,
        cancelled: Callable[[], bool],
    ) -> str:
        """Write the body to `into`, within the size and time bounds; its SHA-256 (hex)."""
        digest = hashlib.sha256()
        total = 0
        with into.open("wb") as f:
            for chunk in chunks:
                total += len(chunk)
                if total > self._max_bytes:
                    raise FetchFailed("too_large", f"the CRL is larger than {self._max_bytes} B")
                if self._monotonic() > deadline:
                    raise FetchFailed("timeout", "the CRL took too long to arrive")
                if cancelled():
                    raise FetchFailed("cancelled", "the refresher is stopping")
                digest.update(chunk)
                f.write(chunk)
        if total == 0:
            raise FetchFailed("empty", "the server sent an empty body")
        return digest.hexdigest()


class CrlRefresher:
    """Keeps the CRLs of `[crl_refresh] urls` in force: `refresh_once` (one pass) or
    `start` / `stop` (a background thread that runs a pass every `poll_s`; a URL is fetched
    when `interval_s` has passed since its last check, by whichever process claims it)."""

    def __init__(
        self,
        db: Database,
        trust: TrustStore,
        settings: CrlRefreshConfig,
        cache_dir: Path,
        *,
        clock: Callable[[], datetime] = utc_now,
        transport: httpx.BaseTransport | None = None,
        owner: str | None = None,
        poll_s: float | None = None,
        after_applied: Callable[[], None] | None = None,
    ) -> None:
        self._trust = trust
        self._after_applied = after_applied
        self._settings = settings
        self._cache_dir = cache_dir
        self._clock = clock
        self._index = SqlRevocationIndex(db)
        self._sources = CrlSources(db)
        self._fetcher = CrlFetcher(settings.timeout_s, settings.max_bytes, transport=transport)
        self._owner = owner or f"{os.uname().nodename[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._interval = timedelta(seconds=settings.interval_s)
        self._lease = timedelta(seconds=settings.timeout_s) + _APPLY_ALLOWANCE
        self._poll_s = poll_s if poll_s is not None else min(60.0, settings.interval_s / 10)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def urls(self) -> tuple[str, ...]:
        return self._settings.urls

    def refresh_once(self, *, force: bool = False) -> list[RefreshOutcome]:
        """One pass over the URLs: each that is due (any, with `force`) and not held by
        another process is fetched, checked and applied; one outcome per URL."""
        return [self.refresh(url, force=force) for url in self._settings.urls]

    def refresh(self, url: str, *, force: bool = False) -> RefreshOutcome:
        """Fetch, check and apply one URL's CRL, recording the outcome in the store."""
        now = self._clock()
        due = None if force else now - self._interval
        state = self._sources.claim(url, self._owner, now, self._lease, due)
        if state is None:
            return RefreshOutcome(url, "skipped")
        try:
            outcome, applied = self._fetch_and_apply(url, state)
        except (FetchFailed, Refused, StoreError, OSError) as e:
            outcome = _failure(url, e)
            log.warning("CRL refresh %s failed: %s", url, outcome.error)
            self._record_failure(url, outcome.error or "failed")
            return outcome
        except BaseException:
            self._sources.release(url, self._owner)
            raise
        self._sources.succeeded(url, self._owner, self._clock(), applied)
        if outcome.status == "applied":
            log.info("CRL refresh: %s", outcome.line())
            self._follow_up()
        return outcome

    def _follow_up(self) -> None:
        """What runs after a new CRL is in force (the renewal sweep): its failure is logged
        and never undoes or fails the refresh; the next applied CRL runs it again."""
        if self._after_applied is None:
            return
        try:
            self._after_applied()
        except Exception:  # the CRL is in force either way
            log.exception("after the CRL refresh: the follow-up failed")

    def _record_failure(self, url: str, code: str) -> None:
        try:
            self._sources.failed(url, self._owner, self._clock(), code)
        except StoreError:  # the store is down: the lease expires by itself
            log.warning("CRL refresh %s: the failure could not be recorded", url)

    def _fetch_and_apply(
        self, url: str, state: CrlSourceState
    ) -> tuple[RefreshOutcome, Applied | None]:
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        part = self._cache_dir / f".fetch-{uuid.uuid4().hex}.part"
        try:
            fetched = self._fetcher.fetch(url, state, part, self._stop.is_set)
            if fetched.path is None:
                return RefreshOutcome(url, "not_modified"), None
            with open_crl(part) as buf:
                checked = check_crl_or_delta(buf, self._trust, self._clock())
                result, how = self._apply(checked, state)
            applied = Applied(
                fetched.etag,
                fetched.last_modified,
                checked.issuer_key_id,
                checked.crl_number,
                None if checked.is_delta else fetched.sha256,
            )
            if applied.der_sha256 is not None:
                self._keep_as_base(part, applied.der_sha256, state.der_sha256)
            status = "applied" if result.replaced else "unchanged"
            return RefreshOutcome(url, status, result, detail=how), applied
        finally:
            part.unlink(missing_ok=True)

    def _apply(self, checked: CheckedCrl, state: CrlSourceState) -> tuple[CrlImportResult, str]:
        """Put a checked CRL in force: a delta in place, a complete CRL as its diff against
        this URL's last one when that is in force, else whole."""
        now = self._clock()
        if checked.is_delta:
            return self._index.apply(delta_patch(checked), now), " (delta CRL)"
        with ExitStack() as stack:
            base = self._base(state, checked, stack)
            if base is not None:
                diff = diff_crls(base, checked)
                patch = diff_patch(
                    checked, diff.added, diff.removed, base.crl_number, base.this_update
                )
                try:
                    result = self._index.apply(patch, now)
                except CrlBaseChanged:
                    pass  # another import ran meanwhile: the whole CRL, below
                else:
                    return result, f" (+{len(diff.added)} -{len(diff.removed)} in place)"
        return self._index.replace(checked, now), ""

    def _base(self, state: CrlSourceState, new: CheckedCrl, stack: ExitStack) -> CheckedCrl | None:
        """The complete CRL last applied from this URL, from the cache, checked again (its
        signature proves the file intact) — when it is still in force, older than `new` and
        of its issuer."""
        if state.der_sha256 is None or state.issuer_key_id != new.issuer_key_id:
            return None
        if state.crl_number is None or new.crl_number is None:
            return None
        if new.crl_number <= state.crl_number:
            return None  # the same or an older CRL: the import says which, without a diff
        info = self._index.crl_info(new.issuer_key_id)
        if info is None or info.crl_number != state.crl_number:
            return None  # another CRL is in force (a delta, an import): the diff would not fit
        path = self._cache_dir / f"{state.der_sha256}.crl"
        if not path.is_file():
            return None
        try:
            buf = stack.enter_context(open_crl(path))
            return check_crl(buf, self._trust, self._clock())
        except (Refused, StoreError, OSError) as e:
            log.warning("CRL refresh: the cached base %s is unusable (%s)", path.name, e)
            return None

    def _keep_as_base(self, part: Path, sha256: str, previous: str | None) -> None:
        """Keep the CRL just applied as the base of the next diff; drop the one before."""
        os.replace(part, self._cache_dir / f"{sha256}.crl")
        if previous is not None and previous != sha256:
            (self._cache_dir / f"{previous}.crl").unlink(missing_ok=True)

    # --- the background thread ----------------------------------------------------------

    def start(self) -> None:
        """Run a pass now, then every `poll_s`, in a daemon thread, until `stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="crl-refresh", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread (a fetch under way is abandoned at its next chunk) and close."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self.close()

    def close(self) -> None:
        """Close the HTTP client (`refresh_once` is over)."""
        self._fetcher.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh_once()
            except Exception:  # the thread's top level: log it, try again next time
                log.exception("CRL refresh pass failed")
            if self._stop.wait(self._poll_s):
                break


def crl_refresher(cfg: Config, db: Database) -> CrlRefresher | None:
    """The refresher of `[crl_refresh]` over the store (None without URLs): the trust anchors
    verification pins (`kiosk.local.trust_store`: trust_dir, the configured groups, phones),
    its cache in `cache_dir` (default `<data_dir>/crl-cache`)."""
    if not cfg.crl_refresh.urls:
        return None
    from kiosk.local import trust_store

    cache = Path(cfg.crl_refresh.cache_dir or cfg.data_dir / "crl-cache")
    sweep = partial(renewal_sweep, db)
    return CrlRefresher(db, trust_store(cfg), cfg.crl_refresh, cache, after_applied=sweep)


def renewal_sweep(db: Database) -> None:
    """Move the links of the certificates the new CRLs list as superseded whose successor is
    known (`kiosk renewal sweep`, docs/renewal.md): run after each CRL put in force."""
    from kiosk.services.renewal import sweep
    from kiosk.store.renewal import LinkRenewals, SqlSuccessionSource

    report = sweep(LinkRenewals(db, SqlSuccessionSource(db)), utc_now())
    log.info("renewal sweep after the CRL refresh: %s", report.line())


@contextmanager
def refreshing(refresher: CrlRefresher | None) -> Iterator[None]:
    """Run the refresher for the duration of the block."""
    if refresher is None:
        yield
        return
    refresher.start()
    try:
        yield
    finally:
        refresher.stop()


def refreshing_lifespan(refresher: CrlRefresher | None, inner: Lifespan) -> Lifespan:
    """A server lifespan that runs `inner` and, inside it, the refresher: it starts once the
    app is up and stops before `inner` ends (so before the store it uses is closed). Each
    worker process runs its own; the leases in the store keep them from fetching together."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            with refreshing(refresher):
                yield

    return lifespan


def _failure(url: str, error: Exception) -> RefreshOutcome:
    if isinstance(error, FetchFailed):
        code = error.code
    elif isinstance(error, Refused):
        code = error.reason.value
    elif isinstance(error, StoreError):
        code = error.code
    else:
        code = "unreadable"
    return RefreshOutcome(url, "failed", error=code, detail=str(error))


def _validator(value: str | None) -> str | None:
    """A validator header worth sending back: short printable ASCII, else none."""
    if value is None or len(value) > _VALIDATOR_MAX or not value.isascii():
        return None
    return value if value.isprintable() else None
