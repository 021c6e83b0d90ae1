"""The card worker refuses a job its kind cannot run (checks that hold under `python -O`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kiosk.flow.errors_catalogue import Problem, ProblemCode
from kiosk.flow.machine import StartWork, Work
from kiosk.services.base import ServiceContext
from kiosk.ui.controller import CardWorker

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
    worker = CardWorker(backend)  # type: ignore[arg-type]  # a recording stand-in
    done, failed = [], []
    worker.done.connect(lambda work_id, value: done.append(value))
    worker.failed.connect(lambda work_id, problem: failed.append((work_id, problem)))
    worker.run(job)
    assert failed == [(1, Problem(ProblemCode.INTERNAL))]
    assert done == [] and backend.calls == []


def test_a_job_of_another_type_is_refused() -> None:
    worker = CardWorker(_Backend())  # type: ignore[arg-type]  # a recording stand-in
    with pytest.raises(TypeError):
        worker.run("not a job")
