"""One platform worker process, as `kiosk platform serve --workers N` starts them: the app built
from a configuration file, with PROMETHEUS_MULTIPROC_DIR inherited from the parent (tests/unit/
test_platform_metrics.py runs it). Arguments: `serve CONFIG N` answers N challenge requests
and N requests to a path no route has; `scrape CONFIG` prints what its /metrics answers."""

from __future__ import annotations

import sys

from fastapi.testclient import TestClient
from platform_ops_support import AUTH, LOOPBACK, PROVIDER, TERMINAL

from kiosk import config
from kiosk.platform.service import app_from_config


def main(mode: str, path: str, count: str = "0") -> int:
    app = app_from_config(config.load(path, env={}))
    with TestClient(app, client=LOOPBACK) as http:  # the lifespan closes the store after
        if mode == "scrape":
            r = http.get("/metrics")
            sys.stdout.write(r.text)
            return 0 if r.status_code == 200 else 1
        body = {"provider_id": PROVIDER, "terminal_id": TERMINAL}
        for n in range(int(count)):
            if http.post("/v1/challenges", json=body, headers=AUTH).status_code != 201:
                return 1
            if http.get(f"/v1/nothing/{n}").status_code != 404:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
