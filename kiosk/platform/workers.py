"""The platform's worker processes: uvicorn's own, each building the app from one configuration.

`kiosk platform serve --workers N` (N > 1) hands uvicorn the import string of `worker_app`:
uvicorn starts N processes (its supervisor restarts one that dies), each calls `worker_app()`,
which builds the platform from the configuration file named in `CONFIG_ENV` (the serving
command's own `--config`, set before uvicorn starts them, and inherited). The store's migrations
and the CRLs of `crl_dir` are put in force once by the serving command before the workers start
(`prepare`), not by each worker: N workers importing the same 5-million-entry CRL at once would
hold the start for minutes.

Every worker shares the store (PostgreSQL for several workers; SQLite works, its writers take
turns) and the challenge keys (`challenge_keys`, or `<data_dir>/challenge.key`, made once,
atomically): a challenge one worker issued is verified by any other.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from kiosk.config import Config

#: The environment variable that names the configuration file for the workers ("" = none).
CONFIG_ENV = "KIOSK_PLATFORM_CONFIG"


def prepare(cfg: Config) -> None:
    """Before the workers start: the store migrated, the CRLs of crl_dir in force, the
    challenge key made (if it comes from a file)."""
    from kiosk.local import LocalContext, import_crls

    local = LocalContext.from_config(cfg)  # migrates the store, makes the challenge key
    try:
        import_crls(cfg, local)
    finally:
        local.db.dispose()


def worker_app() -> FastAPI:
    """One worker's app (uvicorn's factory): the platform over the configuration of
    `CONFIG_ENV`, without importing crl_dir again (`prepare` did)."""
    from kiosk import config
    from kiosk.platform.service import app_from_config

    path = os.environ.get(CONFIG_ENV) or None
    return app_from_config(config.load(path), import_crl_dir=False)
