"""How many cases each fuzz harness runs.

`make test` runs every harness derandomized (the same cases every run, so a green suite stays
green) with at least 10,000 cases; `make fuzz` sets JPKI_FUZZ_EXAMPLES=100000 and a random
seed, to look for new failures. A failure hypothesis finds there is added as an `@example`.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("JPKI_FUZZ_EXAMPLES", "10000"))
RANDOM = os.environ.get("JPKI_FUZZ_RANDOM", "") == "1"

#: The settings every harness uses: bounded in count and time per case, no example database.
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=not RANDOM,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
