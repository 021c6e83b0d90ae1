"""The card worker: it refuses a job its kind cannot run (checks that hold under `python -O`),
builds its backend on a warm-up, and turns whatever a job raises into the problem shown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kiosk.flow.errors_catalogue import Problem, ProblemCode
from kiosk.flow.machine import CloseCard, StartWork, Work
from kiosk.jpki.errors import PinIncorrect
from kiosk.platform.client import PlatformRefused, PlatformUnavailable
from kiosk.services.base import ServiceContext
from kiosk.services.visit import ServiceFailed
from kiosk.ui.controller import CardWorker, WarmUp

UNASSISTED = ServiceContext("svc", "prov", "ja", "subject", datetime(2030, 1, 1, tzinfo=UTC), None)


class _Backend:
    """Records every call: a half-formed job must not reach the backend at all."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        def record(*args: object, **kwargs: object) -> object:
            self.calls.append(name)
            return name

        return record


@pytest.mark.parametrize(
    "job",
    [
        StartWork(1, Work.AUTHENTICATE, context=UNASSISTED),
        StartWork(1, Work.READ_SIGNER),
        StartWork(1, Work.ENROL),
        StartWork(1, Work.PREPARE),
        StartWork(1, Work.RUN_SERVICE),
        StartWork(1, Work.ASSISTED),
        StartWork(1, Work.ASSISTED, context=UNASSISTED),  # no assisted run without staff's check
    ],
    ids=lambda job: job.kind.value + ("" if job.context is None else "-context"),
)
def test_a_job_without_what_its_kind_needs_fails_as_internal(job: StartWork) -> None:
    backend = _Backend()
    worker = CardWorker(lambda: backend)
    done, failed = [], []
    worker.done.connect(lambda work_id, value: done.append(value))
    worker.failed.connect(lambda work_id, problem: failed.append((work_id, problem)))
    worker.run(job)
    assert failed == [(1, Problem(ProblemCode.INTERNAL))]
    assert done == [] and backend.calls == []


def test_a_job_of_another_type_is_refused() -> None:
    worker = CardWorker(_Backend)
    with pytest.raises(TypeError):
        worker.run("not a job")


class _Raising:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def read_card(self) -> object:
        raise self.error


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (PinIncorrect("auth", 2), Problem(ProblemCode.PIN_INCORRECT, 2)),
        (PlatformUnavailable("down"), Problem(ProblemCode.PLATFORM_UNREACHABLE)),
        (PlatformRefused("unauthorized", 401), Problem(ProblemCode.PLATFORM_UNREACHABLE)),
        (ServiceFailed("gateway down"), Problem(ProblemCode.SERVICE_FAILED)),
        (ZeroDivisionError(), Problem(ProblemCode.INTERNAL)),
    ],
    ids=lambda v: type(v).__name__,
)
def test_what_a_job_raises_is_the_problem_shown(error: BaseException, problem: Problem) -> None:
    worker = CardWorker(lambda: _Raising(error))
    failed = []
    worker.failed.connect(lambda work_id, shown: failed.append((work_id, shown)))
    worker.run(StartWork(7, Work.READ_CARD))
    assert failed == [(7, problem)]


def test_the_warm_up_builds_the_backend_and_a_failed_build_is_internal_for_card_work() -> None:
    builds: list[int] = []

    def build() -> _Backend:
        builds.append(1)
        raise OSError("the store is not there")

    worker = CardWorker(build)
    failed = []
    worker.failed.connect(lambda work_id, shown: failed.append((work_id, shown)))
    worker.run(WarmUp())  # logged, not raised: the worker thread lives on
    worker.run(CloseCard())  # nothing to close on a backend that is not there: logged too
    worker.run(StartWork(3, Work.READ_CARD))
    assert builds == [1, 1, 1]
    assert failed == [(3, Problem(ProblemCode.INTERNAL))]


def test_close_card_reaches_the_built_backend() -> None:
    backend = _Backend()
    worker = CardWorker(lambda: backend)
    worker.run(WarmUp())
    worker.run(CloseCard())
    assert backend.calls == ["close_card"]
