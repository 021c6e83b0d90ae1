"""Platform load benchmark: pre-signed user proofs sent by wrk to `kiosk platform serve`.

Run: .venv/bin/python bench/platform_bench.py [--quick] [--proofs 12000] [--seconds 5]
     [--connections 1,8,32,128] [--setups sqlite:1,postgres:1,postgres:2,postgres:4]
     [--paced 1000] [--out FILE.json]

What a platform operator would do: start the platform as it is deployed (`kiosk platform serve
--workers N`: one uvicorn process, or gunicorn's worker processes each running uvicorn, over
SQLite or a PostgreSQL store, the test PKI's CRLs in force) and point an existing load generator
at it — `wrk` (Debian's package), with the Lua script below — on 127.0.0.1. Every request is
a different user proof, signed beforehand by the test cards (the cards' work is not timed) over
a challenge of the platform's own challenge key, so each is verified for real: challenge tag
and expiry, certificate chain, validity, key purpose, CRL, signature, and the verdict written to
the store (the proof's single use).

Each run is bounded in count (`--proofs`: each proof is sent once; a wrk thread stops when its
share is spent) and in time (`--seconds`), and starts from an empty store (a fresh SQLite file
or PostgreSQL database), so the same signed proofs serve every run. After a run the store's
`verifications` rows are counted: every verdict wrk received must be there (no lost verdict),
and every proof must have been accepted (an error or a refusal is counted and reported).

Printed per run: proofs/s (verdicts received over wrk's run time), latency p50 / p99 / max
(wrk's own histogram, per request), errors (connect/read/write/timeout, non-200 statuses,
refused proofs), and the store's verdict count; then the raw RSA-2048 PKCS#1 v1.5 verify rate of
this machine in the same run (one core), the baseline every figure is held against.

`--paced R` adds, for each setup, a run at an offered load of R proofs/s over 64 connections:
each connection waits a random time of mean 64/R s between its requests (exponential: the
requests arrive as a Poisson stream at R/s, as a fleet of kiosks' visits do; wrk's `delay()`,
since Debian has no wrk2).

`--quick` (the test `tests/e2e/test_platform_bench.py` runs it) is one small run that proves the
harness works: a few hundred proofs, SQLite (or the `--setups` given), one worker, two
connection counts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_pem_private_key

ROOT = Path(__file__).resolve().parents[1]
PROVIDER = "bench-clinic"
TERMINALS = 64  # the proofs come from this many kiosks' terminals
CHALLENGE_TTL_S = 3 * 3600  # the proofs are signed once and sent for the whole benchmark
#: Connections of a paced run: each waits PACED_CONNECTIONS / rate seconds between requests,
#: so the offered rate is hardly lowered by the answers' own latency (a closed loop).
PACED_CONNECTIONS = 64

#: The load generator's script: one pre-signed proof per request, each sent once. Every wrk
#: thread reads its share of the proof file (line i goes to thread i mod threads); a thread
#: whose share is spent stops. `delay()` paces a connection (milliseconds) for `--paced`.
WRK_SCRIPT = r"""
local counter, threads = 0, {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path, token = args[1], args[2]
  pace = tonumber(args[3]) or 0
  nthreads = tonumber(args[4])
  math.randomseed(os.time() * 16 + id)
  bodies, nexti, ok, refused, other, exhausted = {}, 1, 0, 0, 0, 0
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == id then bodies[#bodies + 1] = line end
    i = i + 1
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  local body = bodies[nexti]
  if body == nil then
    exhausted = exhausted + 1
    wrk.thread:stop()
    return wrk.format("GET", "/v1/health", {}, nil)
  end
  nexti = nexti + 1
  return wrk.format(nil, "/v1/proofs", nil, body)
end

function delay()
  -- exponential think times of mean `pace`: the connections' requests arrive as a Poisson
  -- stream at the offered rate, not in lockstep bursts of every connection at once
  if pace == 0 then return 0 end
  return -math.log(1 - math.random()) * pace
end

function response(status, headers, body)
  if status == 200 and string.find(body, '"ok":true', 1, true) then
    ok = ok + 1
  elseif status == 200 and string.find(body, '"ok":false', 1, true) then
    refused = refused + 1
  elseif not (status == 200 and string.find(body, '"status":"ok"', 1, true)) then
    other = other + 1
    if other == 1 then
      io.stderr:write(string.format("first error: %d %s\n", status, string.sub(body, 1, 200)))
    end
  end
end

function done(summary, latency, requests)
  local ok_, refused_, other_, exhausted_ = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    ok_ = ok_ + thread:get("ok")
    refused_ = refused_ + thread:get("refused")
    other_ = other_ + thread:get("other")
    exhausted_ = exhausted_ + thread:get("exhausted")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT {\"ok\":%d,\"refused\":%d,\"other\":%d,\"exhausted\":%d," ..
    "\"duration_us\":%d,\"requests\":%d," ..
    "\"connect\":%d,\"read\":%d,\"write\":%d,\"status\":%d,\"timeout\":%d," ..
    "\"p50_us\":%d,\"p99_us\":%d,\"max_us\":%d}\n",
    ok_, refused_, other_, exhausted_, summary.duration, summary.requests,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True, slots=True)
class Run:
    """One wrk run against one platform setup."""

    store: str
    workers: int
    connections: int
    offered: int | None  # proofs/s offered (paced), None = as fast as answered
    proofs_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    ok: int
    refused: int
    errors: int
    recorded: int  # verdicts in the store afterwards

    @property
    def lost(self) -> int:
        """Verdicts wrk received that the store does not have. (The store may have a few
        more than wrk received: the requests in flight when wrk's time ran out.)"""
        return max(0, self.ok + self.refused - self.recorded)

    def line(self) -> str:
        offered = f"{self.offered:>5}/s" if self.offered else "  max  "
        return (
            f"{self.store:8} {self.workers}w {self.connections:>4} conns {offered}  "
            f"{self.proofs_per_s:8,.0f} proofs/s  p50 {self.p50_ms:6.2f}  p99 {self.p99_ms:7.2f}"
            f"  max {self.max_ms:7.2f} ms  ok {self.ok:>6}  refused {self.refused}  errors "
            f"{self.errors}  lost {self.lost}"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the proofs ----------------------------------------------------------------------------


def _sign(job: tuple[bytes, list[tuple[str, bytes, bytes]]]) -> list[str]:
    """Sign a batch of (terminal, nonce, certificate DER) with the cards' key: JSON lines."""
    from kiosk.verify.proof import UserProof, signed_message

    key_pem, batch = job
    key = load_pem_private_key(key_pem, None)
    lines = []
    for terminal, nonce, cert in batch:
        signature = key.sign(  # type: ignore[union-attr]
            signed_message(PROVIDER, terminal, nonce), padding.PKCS1v15(), hashes.SHA256()
        )
        proof = UserProof(PROVIDER, terminal, nonce, cert, signature)
        lines.append(json.dumps(proof.to_json(), separators=(",", ":")))
    return lines


def make_proofs(work: Path, count: int, challenge_key: bytes) -> Path:
    """The test PKI in `work/pki` (its CRLs in `crl_dir`) and `count` signed proofs, one JSON
    body a line, over challenges of `challenge_key` spread over TERMINALS terminals and 200
    cards (one key pair: signing is the slow part; the certificates differ)."""
    from kiosk.pki.authority import generate_key, init_pki
    from kiosk.verify.challenge import ChallengeService

    pki = init_pki(work / "pki")
    keys = (generate_key(), generate_key())
    cards = [pki.issue_card(keys=keys) for _ in range(200)]
    for which in ("auth", "sign"):
        (pki.crl_dir / f"{which}.crl").write_bytes(pki.crl_der(which))
    challenges = ChallengeService(ttl_s=CHALLENGE_TTL_S, keys=[challenge_key])
    now = datetime.now(UTC)
    jobs: list[tuple[str, bytes, bytes]] = []
    for i in range(count):
        terminal = f"kiosk-{i % TERMINALS}"
        # each at its own microsecond, as the platform's clock issues them (the verdict's key
        # in the store grows with the challenge's expiry)
        issued = challenges.issue(PROVIDER, terminal, now + timedelta(microseconds=i))
        jobs.append((terminal, issued.nonce, cards[i % len(cards)].auth.certificate))
    key_pem = cards[0].auth.private_key_pem
    size = 500
    batches = [(key_pem, jobs[i : i + size]) for i in range(0, len(jobs), size)]
    path = work / "proofs.jsonl"
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool, path.open("w") as out:
        for lines in pool.map(_sign, batches):
            out.write("\n".join(lines) + "\n")
    return path


#: What uvicorn logs in each worker once its app has started.
STARTED = "Application startup complete."


# --- the platform --------------------------------------------------------------------------


@contextmanager
def platform(
    work: Path, database_url: str, workers: int, token: str, challenge_key: bytes
) -> Iterator[int]:
    """`kiosk platform serve --workers N` over that store, as deployed; its port once it
    answers /v1/ready (or /v1/health). Stopped (SIGTERM, then SIGKILL) afterwards."""
    data = Path(tempfile.mkdtemp(prefix="data-", dir=work))
    config = data / "platform.toml"
    config.write_text(
        f'data_dir = "{data}"\ndatabase_url = "{database_url}"\n'
        f'trust_dir = "{work / "pki" / "trust"}"\ncrl_dir = "{work / "pki" / "crl"}"\n'
        f"challenge_ttl_s = {CHALLENGE_TTL_S}\n"
        f'challenge_keys = ["{challenge_key.hex()}"]\n\n'
        f'[platform_tokens]\n{PROVIDER} = "{hashlib.sha256(token.encode()).hexdigest()}"\n'
    )
    port = free_port()
    cmd = [str(Path(sys.executable).with_name("kiosk")), "platform", "serve"]
    cmd += ["--config", str(config), "--port", str(port), "--workers", str(workers)]
    log = (data / "serve.log").open("wb")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_up(port, server, data / "serve.log", workers)
        yield port
    finally:
        _stop(server)
        log.close()


def _stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the serving command's process group (its workers too), then SIGKILL."""
    for sig, wait_s in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        with suppress(ProcessLookupError):
            os.killpg(server.pid, sig)  # start_new_session: the group is the server's pid
        try:
            server.wait(wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_until_up(port: int, server: subprocess.Popen[bytes], log: Path, workers: int) -> None:
    """Until /v1/health answers and every worker has started its app (uvicorn's line, one a
    worker): the platform as a fleet meets it, not its first second (a worker binds its socket
    once its app is loaded, and wrk's connections, kept for the run, stay where they land)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the platform exited:\n{log.read_text()[-3000:]}")
        try:
            up = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            up = False
        if up and log.read_text().count(STARTED) >= workers:
            return
        time.sleep(0.1)
    raise SystemExit(f"the platform did not start:\n{log.read_text()[-3000:]}")


def recorded_verdicts(database_url: str) -> int:
    return recorded(database_url)[0]


def recorded(database_url: str) -> tuple[int, float]:
    """How many verdicts the store holds, and the seconds from its first to its last."""
    from kiosk.store.engine import Database

    db = Database(database_url)
    try:
        row = db.one("SELECT count(*), min(at), max(at) FROM verifications", ())
        span = (int(row[2]) - int(row[1])) / 1e6 if row[0] else 0.0
        return int(row[0]), span
    finally:
        db.dispose()


# --- the load generator --------------------------------------------------------------------


def run_wrk(
    script: Path,
    proofs: Path,
    port: int,
    token: str,
    connections: int,
    seconds: int,
    pace_ms: int,
) -> dict[str, int]:
    """wrk with the script over `connections` connections for at most `seconds`; its RESULT."""
    threads = min(connections, 2)
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"]
    cmd += ["--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}"]
    cmd += ["--", str(proofs), token, str(pace_ms), str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    found = re.search(r"^RESULT (\{.*\})$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    if done.stderr.strip():
        print(done.stderr.strip(), file=sys.stderr)
    result = dict(json.loads(found.group(1)))
    if any(result[k] for k in ("connect", "read", "write", "timeout", "other")):
        print(f"wrk: {result}", file=sys.stderr)
    return result


def one_run(
    store: str,
    database_url: str,
    workers: int,
    connections: int,
    offered: int | None,
    args: argparse.Namespace,
    work: Path,
    proofs: Path,
    script: Path,
    challenge_key: bytes,
) -> Run:
    token = secrets.token_urlsafe(32)
    pace_ms = round(connections * 1000 / offered) if offered else 0
    with platform(work, database_url, workers, token, challenge_key) as port:
        result = run_wrk(script, proofs, port, token, connections, args.seconds, pace_ms)
    count, span = recorded(database_url)
    # Bounded by time, wrk's own run time is the measure; when every proof was sent before
    # the time was up (a wrk thread whose share is spent stops, but wrk waits out -d), the
    # store's first and last verdict times are.
    seconds = span if result["exhausted"] and span > 0 else result["duration_us"] / 1e6
    errors = sum(result[k] for k in ("connect", "read", "write", "timeout", "other"))
    return Run(
        store,
        workers,
        connections,
        offered,
        result["ok"] / seconds if seconds else 0.0,
        result["p50_us"] / 1e3,
        result["p99_us"] / 1e3,
        result["max_us"] / 1e3,
        result["ok"],
        result["refused"],
        errors,
        count,
    )


# --- stores --------------------------------------------------------------------------------


class Stores:
    """A fresh, empty store for each run: a new SQLite file, or a new PostgreSQL database on
    one throwaway server (tests/postgres_fixtures.py, or KIOSK_TEST_POSTGRES_URL)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self._pg: Iterator[str] | None = None
        self._pg_url: str | None = None
        self._n = 0

    def fresh(self, kind: str) -> str:
        self._n += 1
        if kind == "sqlite":
            return f"sqlite:///{self.work / f'run{self._n}.sqlite3'}"
        if self._pg_url is None:
            sys.path.insert(0, str(ROOT / "tests"))
            from postgres_fixtures import postgres_server

            self._pg = postgres_server()  # type: ignore[assignment]  # (its own 0700 temp dir)
            self._pg_url = self._pg.__enter__()  # type: ignore[union-attr]
        import psycopg
        from sqlalchemy.engine import make_url

        name = f"bench_{os.getpid()}_{self._n}"
        admin = self._pg_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
        return make_url(self._pg_url).set(database=name).render_as_string(hide_password=False)

    def close(self) -> None:
        if self._pg is not None:
            self._pg.__exit__(None, None, None)  # type: ignore[attr-defined]


def raw_rsa_verify_rate(seconds: float = 1.0) -> float:
    """RSA-2048 PKCS#1 v1.5 SHA-256 verifications a second on one core (the baseline)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = b"x" * 200
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    public = key.public_key()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(200):
            public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        count += 200
    return count / (time.perf_counter() - started)


def summarise(runs: list[Run]) -> None:
    """The median of each setup's repeated runs (proofs/s, p50, p99; the worst max), and the
    issue's targets checked against them."""
    cells: dict[tuple[str, int, int, int | None], list[Run]] = {}
    for run in runs:
        cells.setdefault((run.store, run.workers, run.connections, run.offered), []).append(run)
    print("\nmedians of the runs of each (store, workers, connections, offered):")
    medians: dict[tuple[str, int, int, int | None], Run] = {}
    for key, same in cells.items():
        rate = statistics.median(r.proofs_per_s for r in same)
        p50 = statistics.median(r.p50_ms for r in same)
        p99 = statistics.median(r.p99_ms for r in same)
        worst = max(r.max_ms for r in same)
        ok, refused = sum(r.ok for r in same), sum(r.refused for r in same)
        errors, recorded = sum(r.errors for r in same), sum(r.recorded for r in same)
        medians[key] = Run(*key, rate, p50, p99, worst, ok, refused, errors, recorded)
        print(f"{medians[key].line()}  ({len(same)} runs)")
    for (store, workers, _, offered), run in medians.items():
        if store == "postgres" and workers == 2 and run.connections == 64 and offered is None:
            print(
                f"target >= 2,000 proofs/s, PostgreSQL, 2 workers, 64 connections: "
                f"{run.proofs_per_s:,.0f} {'met' if run.proofs_per_s >= 2000 else 'NOT met'}"
            )
        if offered is not None:
            print(
                f"target p99 < 20 ms at {offered}/s offered ({store}, {workers} workers): "
                f"{run.p99_ms:.1f} ms {'met' if run.p99_ms < 20 else 'NOT met'}"
            )
    for store, workers in dict.fromkeys((k[0], k[1]) for k in medians):
        points = sorted(
            (c, cells[(s, w, c, offered)])
            for (s, w, c, offered) in medians
            if (s, w) == (store, workers) and offered is None
        )
        curve = [medians[(store, workers, c, None)].proofs_per_s for c, _ in points]
        print(
            f"throughput never falls as connections rise ({store}, {workers} workers): "
            f"{' -> '.join(f'{r:,.0f}' for r in curve)} {falls_verdict(points)}"
        )


def falls_verdict(points: list[tuple[int, list[Run]]]) -> str:
    """Whether throughput falls as connections rise, over (connections, runs) in rising order.

    A fall is a median below the slowest run at fewer connections: the runs of one cell spread
    by a few per cent (the machine's other work, how the connections landed on the workers), so
    a lower median within that spread is not a fall that the runs can show. Said both ways:
    "met" only when no median is below the slowest run at any fewer connections; "strictly"
    also when every median is at least the one before."""
    medians = [statistics.median(r.proofs_per_s for r in runs) for _, runs in points]
    slowest = [min(r.proofs_per_s for r in runs) for _, runs in points]
    falls = [
        f"{points[j][0]} below the slowest run at {points[i][0]}"
        for j in range(len(points))
        for i in range(j)
        if medians[j] < slowest[i]
    ]
    strict = all(b >= a for a, b in zip(medians, medians[1:], strict=False))
    if falls:
        return "NOT met (" + "; ".join(falls) + ")"
    return "met, strictly" if strict else "met (a lower median within the runs' spread)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proofs", type=int, default=20000, help="proofs per run at most")
    parser.add_argument("--seconds", type=int, default=5, help="seconds per run at most")
    parser.add_argument("--connections", default="1,8,32,64,128")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (medians shown)")
    parser.add_argument(
        "--setups", help="store:workers,... (default sqlite:1,postgres:1,postgres:2,postgres:4)"
    )
    parser.add_argument("--paced", type=int, default=1000, help="offered proofs/s (0: none)")
    parser.add_argument("--quick", action="store_true", help="a small run: the harness works")
    parser.add_argument("--out", type=Path, help="write the runs as JSON here too")
    args = parser.parse_args(argv)
    if args.quick:
        args.proofs, args.seconds, args.connections = 300, 5, "1,8"
        args.setups, args.paced, args.repeat = args.setups or "sqlite:1", 0, 1
    args.setups = args.setups or "sqlite:1,postgres:1,postgres:2,postgres:4"
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make setup installs it)")
    connections = [int(c) for c in args.connections.split(",")]
    setups = [(s.split(":")[0], int(s.split(":")[1])) for s in args.setups.split(",")]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="platform-bench-") as tmp:
        work = Path(os.environ.get("BENCH_KEEP") or tmp)
        work.mkdir(parents=True, exist_ok=True)
        challenge_key = secrets.token_bytes(32)
        started = time.perf_counter()
        proofs = make_proofs(work, args.proofs, challenge_key)
        print(f"signed {args.proofs} proofs in {time.perf_counter() - started:.1f} s", flush=True)
        script = work / "proofs.lua"
        script.write_text(WRK_SCRIPT)
        stores = Stores(work)
        try:
            for store, workers in setups:
                plan: list[tuple[int, int | None]] = [(c, None) for c in connections]
                if args.paced:
                    plan.append((PACED_CONNECTIONS, args.paced))
                for _ in range(args.repeat):  # interleaved: a slow moment hits one of each
                    for conns, offered in plan:
                        url = stores.fresh(store)
                        run = one_run(
                            store, url, workers, conns, offered, args, work, proofs, script,
                            challenge_key,
                        )  # fmt: skip
                        runs.append(run)
                        print(run.line(), flush=True)
        finally:
            stores.close()
    raw = raw_rsa_verify_rate()
    print(f"raw RSA-2048 verify (same run, one core): {raw:,.0f}/s", flush=True)
    summarise(runs)
    if args.out:
        args.out.write_text(
            json.dumps({"raw_rsa_verify_per_s": raw, "runs": [asdict(r) for r in runs]}, indent=1)
        )
    broken = [r for r in runs if r.errors or r.refused or r.lost or not r.ok]
    for r in broken:
        print(f"FAILED: {r.line()}", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
