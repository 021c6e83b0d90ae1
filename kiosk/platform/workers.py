"""What the platform's worker processes share, and how each builds its app.

`kiosk platform serve --workers N` (N > 1) serves through gunicorn (kiosk.platform.serving). Before
the workers start, the serving command puts the store's migrations and the CRLs of `crl_dir` in
force once (`prepare`), not each worker: N workers importing the same 5-million-entry CRL at
once would hold the start for minutes; and it names the directory their counters add up in
(prometheus-client's multiprocess mode, `prepare_metrics`). Each worker then builds the app from
the configuration file named in `CONFIG_ENV` (`worker_app`), awaiting its store statements on its
event loop when `LOOP_WAITS_ENV` says so (`loop_waits`).

Every worker shares the store (PostgreSQL for several workers; SQLite works, its writers take
turns) and the challenge keys (`challenge_keys`, or `<data_dir>/challenge.key`, made once,
atomically): a challenge one worker issued is verified by any other.

This module imports neither gunicorn nor prometheus-client: the serving command calls it
before either may be imported.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from kiosk.config import Config

#: The environment variable that names the configuration file for the workers ("" = none).
CONFIG_ENV = "KIOSK_PLATFORM_CONFIG"
#: The environment variable that says whether the workers await the store on their loop ("1").
LOOP_WAITS_ENV = "KIOSK_PLATFORM_LOOP_WAITS"
#: The variable prometheus-client reads, when it is imported, to keep its values in files.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: The files prometheus-client writes in its multiprocess directory (one per kind and pid).
VALUE_FILE = re.compile(r"(counter|gauge_[a-z]+|histogram|summary)_\d+\.db")


def prepare(cfg: Config) -> None:
    """Before the workers start: the store migrated, the CRLs of crl_dir in force, the
    challenge key made (if it comes from a file)."""
    from kiosk.local import LocalContext, import_crls

    local = LocalContext.from_config(cfg)  # migrates the store, makes the challenge key
    try:
        import_crls(cfg, local)
    finally:
        local.db.dispose()


def loop_waits(workers: int) -> bool:
    """Whether `workers` processes should await their store statements on their event loops
    (`Database.on_loop`) rather than block on them: only while the workers are fewer than the
    CPUs this process may run on. A blocked worker leaves its CPU idle while PostgreSQL
    answers; with a CPU to spare, awaiting on the loop lets the worker serve other requests
    meanwhile (one worker on 2 CPUs: from 1,450 to 1,700 proofs/s, its CPU from 75 % to
    100 %). With as many workers as CPUs or more, the kernel already runs another worker in
    that time, and awaiting only adds its cost and interleaves more requests per worker (2
    workers at 64 connections: 2,274 against 2,397 proofs/s): bench/RESULTS.md."""
    return workers < len(os.sched_getaffinity(0))


def prepare_metrics(directory: Path | str) -> None:
    """Before the workers start: make `directory` (owner only), remove the value files a
    previous run left there, and set PROMETHEUS_MULTIPROC_DIR for the workers to inherit. It
    must be set before prometheus-client is first imported (it chooses where values live
    then), so this module does not import it."""
    path = Path(directory)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.is_symlink() or not path.is_dir():
        raise ValueError(f"{path} is not a directory of this server's own")
    for stale in path.iterdir():
        if VALUE_FILE.fullmatch(stale.name) and stale.is_file():
            stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path.resolve())


def worker_app() -> FastAPI:
    """One worker's app: the platform over the configuration of `CONFIG_ENV`, without
    importing crl_dir again (`prepare` did)."""
    from kiosk import config
    from kiosk.platform.service import app_from_config

    path = os.environ.get(CONFIG_ENV) or None
    waits = os.environ.get(LOOP_WAITS_ENV) == "1"
    return app_from_config(config.load(path), import_crl_dir=False, loop_waits=waits)
