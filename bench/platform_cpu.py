"""Where a one-worker platform's time goes under load: CPU of the worker, PostgreSQL and wrk.

Run: .venv/bin/python bench/platform_cpu.py [--store postgres] [--connections 1,8,32,128]
     [--repeat 2] [--seconds 5]

The load of bench/platform_bench.py (its proofs, wrk script, platform and stores: imported, not
copied), one worker (`kiosk platform serve`), one run per connection count. Around each wrk run
it reads from /proc the CPU time of the serving process, of every PostgreSQL process, and of
wrk (this process's children), and the serving process's voluntary and involuntary context
switches. Printed per run: proofs/s, each one's CPU share of the run and µs of CPU a proof, and
the worker's context switches a proof. A worker below 100 % of its CPU with about one
voluntary switch per statement is waiting for its store, not working (bench/RESULTS.md,
"Platform over HTTP").
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import platform_bench as pb  # noqa: E402  (the load benchmark beside this file)

TICK = os.sysconf("SC_CLK_TCK")


def cpu_and_switches(pid: int) -> tuple[float, int, int]:
    """CPU seconds (user + system), voluntary and involuntary context switches of `pid`."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    status = Path(f"/proc/{pid}/status").read_text()
    voluntary = int(status.split("\nvoluntary_ctxt_switches:")[1].split()[0])
    involuntary = int(status.split("nonvoluntary_ctxt_switches:")[1].split()[0])
    return (int(fields[11]) + int(fields[12])) / TICK, voluntary, involuntary


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process on the machine (the bench's own cluster)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if Path(f"/proc/{entry}/comm").read_text().startswith("postgres"):
                total += cpu_and_switches(int(entry))[0]
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return total


def serving_pid(port: int) -> int:
    """The process listening on `port` (one worker: the serving command itself)."""
    wanted = f"{port:04X}"
    inodes = {
        line.split()[9]
        for name in ("/proc/net/tcp", "/proc/net/tcp6")
        for line in Path(name).read_text().splitlines()[1:]
        if line.split()[1].endswith(":" + wanted) and line.split()[3] == "0A"  # LISTEN
    }
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                target = os.readlink(f"/proc/{entry}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(entry)
        except OSError:
            continue
    raise SystemExit(f"nothing listens on port {port}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="postgres", choices=["postgres", "sqlite"])
    parser.add_argument("--connections", default="1,8,32,128")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="platform-cpu-") as tmp:
        work = Path(tmp)
        key = secrets.token_bytes(32)
        proofs = pb.make_proofs(work, 20000, key)
        script = work / "proofs.lua"
        script.write_text(pb.WRK_SCRIPT)
        stores = pb.Stores(work)
        try:
            for _ in range(args.repeat):
                for connections in (int(c) for c in args.connections.split(",")):
                    token = secrets.token_urlsafe(32)
                    with pb.platform(work, stores.fresh(args.store), 1, token, key) as port:
                        pid = serving_pid(port)
                        worker0, vol0, inv0 = cpu_and_switches(pid)
                        pg0 = postgres_cpu()
                        wrk0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                        result = pb.run_wrk(
                            script, proofs, port, token, connections, args.seconds, 0
                        )
                        wrk1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                        worker1, vol1, inv1 = cpu_and_switches(pid)
                        pg1 = postgres_cpu()
                    ok, seconds = result["ok"], result["duration_us"] / 1e6
                    wrk = wrk1.ru_utime + wrk1.ru_stime - wrk0.ru_utime - wrk0.ru_stime
                    shares = [("worker", worker1 - worker0), ("postgres", pg1 - pg0), ("wrk", wrk)]
                    print(
                        f"{args.store} {connections:4d} conns {ok / seconds:7,.0f} proofs/s  "
                        + "  ".join(
                            f"{name} {100 * cpu / seconds:5.1f} % {1e6 * cpu / ok:6.1f} µs/proof"
                            for name, cpu in shares
                        )
                        + f"  worker switches/proof: voluntary {(vol1 - vol0) / ok:4.2f}"
                        f" involuntary {(inv1 - inv0) / ok:4.2f}",
                        flush=True,
                    )
                    time.sleep(0.5)
        finally:
            stores.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
