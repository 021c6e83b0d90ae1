"""TEST adapter of the certificate authority's old → new serial link (新旧紐付け): the
`SuccessionSource` port (kiosk.store.renewal) in memory, for tests and the demo.

It stands in for the authority's link data, whose real interface is disclosed only to
registered verifiers (docs/renewal.md). It can be told to fail (`unavailable`), as the
authority's service may, so the kiosk's answer to that is tested too."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from kiosk.store.renewal import Succession, SuccessionUnavailable
from kiosk.verify.verdict import CertRef


class MemorySuccessions:
    """Old → new links held in dicts; `unavailable = True` makes every question fail."""

    def __init__(self, records: Iterable[Succession] = ()) -> None:
        self._lock = threading.Lock()
        self._next: dict[CertRef, CertRef] = {}
        self._previous: dict[CertRef, CertRef] = {}
        self.unavailable = False
        self.asked = 0  # how many questions were asked (a test sees the hot path's cost)
        for record in records:
            self.add(record.old, record.new)

    def add(self, old: CertRef, new: CertRef) -> None:
        """Record that `new` succeeds `old` (as the authority would, after a renewal)."""
        with self._lock:
            self._next[old] = new
            self._previous[new] = old

    def successor(self, old: CertRef) -> CertRef | None:
        """The recorded successor of `old`, or None; SuccessionUnavailable when told to fail."""
        return self._ask(self._next, old)

    def predecessor(self, new: CertRef) -> CertRef | None:
        """The recorded predecessor of `new`, or None; SuccessionUnavailable when told to fail."""
        return self._ask(self._previous, new)

    def _ask(self, table: dict[CertRef, CertRef], ref: CertRef) -> CertRef | None:
        with self._lock:
            self.asked += 1
            if self.unavailable:
                raise SuccessionUnavailable("TEST: the link data is unavailable")
            return table.get(ref)
