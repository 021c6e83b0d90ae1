"""Running a call in many threads at the same moment (the race tests of the store and the
payment)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def all_at_once(count: int, call: Callable[[int], T]) -> list[T]:
    """`call(i)` for i in range(count), each in its own thread, all released together by a
    barrier (each thread takes its own pooled store connection); the results in order."""
    start = threading.Barrier(count)

    def run(i: int) -> T:
        start.wait()
        return call(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))
