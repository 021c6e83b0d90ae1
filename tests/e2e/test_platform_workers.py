"""`kiosk platform serve --workers 2` as an operator runs it: gunicorn's master and two uvicorn
workers (kiosk.platform.serving), over a SQLite store on a free port of 127.0.0.1.

Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel shares new connections
out among them; the counters of /metrics add up over the workers whichever answers the scrape,
and keep a killed worker's counts; the master starts a worker in the place of one killed; a
SIGTERM stops them all. Its logs are the platform's format (JSON lines here), one line a
request, and it leaves no control socket in its user's home.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from platform_ops_support import families, value
from platform_process_support import (
    KIOSK_BIN,
    START_TIMEOUT_S,
    Platform,
    free_port,
    sha256,
    write_config,
)
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from kiosk.pki.authority import TestPki

pytestmark = pytest.mark.e2e

WORKERS = 2
REQUESTS = "jpki_platform_requests_total"
#: Requests sent each on a connection of its own (the kernel picks a worker per connection).
SPREAD = 48
#: The longest a worker start may take, in the place of one killed.
RESTART_TIMEOUT_S = 30.0


@dataclass
class Served:
    platform: Platform
    data_dir: Path
    home: Path

    def workers(self) -> set[int]:
        """The master's child processes: its workers."""
        pid = self.platform.process.pid
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return {int(child) for child in text.split()}

    def unmatched(self, count: int, start: int = 0) -> None:
        """`count` GETs of paths no route has, each on a new connection: each a 404."""
        for n in range(start, start + count):
            r = httpx.get(f"{self.platform.url}/v1/nothing/{n}", timeout=10)
            assert r.status_code == 404, r.text

    def scrape(self) -> float:
        """The unmatched requests /metrics counts (any worker answers it)."""
        r = httpx.get(f"{self.platform.url}/metrics", timeout=10)
        assert r.status_code == 200, r.text
        found = value(families(r.text), REQUESTS, route="unmatched", method="GET", status="404")
        return found or 0.0

    def counted_by(self, pid: int, scratch: Path) -> float:
        """The unmatched requests worker `pid` counted itself: its own counter file, read by
        prometheus-client's multiprocess collector from a directory holding only that file."""
        own = scratch / str(pid)
        own.mkdir()
        shutil.copy(self.data_dir / "metrics" / f"counter_{pid}.db", own)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(own))
        found = families(generate_latest(registry).decode())
        return value(found, REQUESTS, route="unmatched", method="GET", status="404") or 0.0


def listening_sockets(port: int) -> set[int]:
    """The inodes of the TCP sockets listening on `port` (/proc/net/tcp and tcp6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def sockets_of(pid: int) -> set[int]:
    """The inodes of the sockets process `pid` holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def platform_config(tmp: Path, test_pki: TestPki) -> Path:
    return write_config(
        tmp / "platform.toml",
        {
            "data_dir": str(tmp / "data"),
            "trust_dir": str(test_pki.trust_dir),
            "crl_dir": str(test_pki.crl_dir),
        },
        {"platform_tokens": {"clinic-1": sha256("not used here")}},
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, test_pki: TestPki) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("workers")
    data_dir, home = tmp / "data", tmp / "home"
    home.mkdir()
    config = platform_config(tmp, test_pki)
    platform = Platform(
        "workers",
        config,
        free_port(),
        tmp / "workers.log",
        args=("--workers", str(WORKERS), "--log-format", "json"),
        env={"HOME": str(home), "XDG_RUNTIME_DIR": ""},
    )
    try:
        platform.wait_healthy(time.monotonic() + START_TIMEOUT_S)
        yield Served(platform, data_dir, home)
    finally:
        platform.stop()


def wait_for_workers(served: Served, besides: set[int] | None = None) -> set[int]:
    """The master's WORKERS workers, none of `besides`, each listening (bounded wait)."""
    deadline = time.monotonic() + RESTART_TIMEOUT_S
    while True:
        workers = served.workers() - (besides or set())
        listening = listening_sockets(served.platform.port)
        if len(workers) == WORKERS and all(sockets_of(w) & listening for w in workers):
            return workers
        if time.monotonic() > deadline:
            pytest.fail(f"workers {workers} not all listening:\n{served.platform.log_text()}")
        time.sleep(0.1)


def test_each_worker_listens_on_its_own_socket_and_the_kernel_shares_connections_out(
    served: Served, tmp_path: Path
):
    workers = wait_for_workers(served)
    listening = listening_sockets(served.platform.port)
    owned = [sockets_of(w) & listening for w in workers]
    assert all(len(own) == 1 for own in owned)  # one socket each,
    assert len(set().union(*owned)) == WORKERS  # not the same one,
    assert not sockets_of(served.platform.process.pid) & listening  # and the master has none

    before = served.scrape()
    served.unmatched(SPREAD)
    assert served.scrape() - before == SPREAD  # every request counted once, in the sum
    # each worker answered some: all 48 on one would happen by chance once in 2**47
    assert all(served.counted_by(w, tmp_path) > 0 for w in workers)


def test_a_killed_worker_is_replaced_and_its_counts_stay_in_the_sums(served: Served):
    workers = wait_for_workers(served)
    served.unmatched(8, start=1000)
    before = served.scrape()
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)

    replaced = wait_for_workers(served, besides={victim})
    assert victim not in replaced and len(replaced & workers) == WORKERS - 1
    served.unmatched(SPREAD, start=2000)  # every connection answered, by the two now serving
    assert served.scrape() == before + SPREAD  # the killed worker's counts are still there


def test_a_sigterm_stops_the_master_and_every_worker(served: Served):
    workers = wait_for_workers(served)
    served.unmatched(1, start=3000)
    assert served.platform.stop() == 0
    assert not any(Path(f"/proc/{w}").exists() for w in workers)


def test_its_log_is_the_platforms_json_lines_and_it_left_no_control_socket(served: Served):
    assert served.platform.process.returncode == 0  # read once stopped: every line written
    lines = served.platform.log.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line, gunicorn's own too
    loggers = {r["logger"] for r in records}
    assert {"gunicorn.error", "uvicorn.error", "kiosk.platform.edge"} <= loggers
    assert "uvicorn.access" not in loggers  # the edge logs one line a request, not two
    (line,) = [r for r in records if r.get("endpoint") == "/v1/nothing/3000"]
    assert (line["method"], line["status"], line["reason"]) == ("GET", 404, "not_found")
    assert any(r["event"].startswith("listening at http://127.0.0.1:") for r in records)
    assert not (served.home / ".gunicorn").exists()


def test_a_port_something_listens_on_is_refused_at_once_not_retried(
    tmp_path: Path, test_pki: TestPki
):
    """Without the check, each worker fails to bind and the master starts another, forever."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        command = [str(KIOSK_BIN), "platform", "serve", "--workers", str(WORKERS)]
        done = subprocess.run(  # noqa: S603 - the project's own command
            [*command, "--port", str(port), "--config", str(platform_config(tmp_path, test_pki))],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
        )
    assert done.returncode == 2
    assert f"kiosk: cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
