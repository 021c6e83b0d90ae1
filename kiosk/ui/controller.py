"""Runs the flow in the GUI: events in, states out, card work on a worker thread.

The controller owns the only `FlowState`. Widgets call `send(event)`; the controller steps
the pure flow, emits `state_changed`, and carries out the effects: card and verification
work goes to `CardWorker` on its own QThread (results come back as queued signals), staff
work — checking a staff credential (slow by design), auditing an exit, voiding a payment at
the card company, calling staff over the network — to `StaffWorker` on another, so neither
waits for the other; sounds go to the sound player. Reader status from the monitor thread
arrives through a signal too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from kiosk.flow.errors_catalogue import Problem, ProblemCode
from kiosk.flow.machine import (
    STAFF_WORK,
    CloseCard,
    Event,
    ExitApp,
    Flow,
    FlowState,
    NotifyStaff,
    PlaySound,
    ReaderChanged,
    StaffCallDone,
    StartWork,
    Tick,
    Work,
    WorkDone,
    WorkFailed,
)
from kiosk.flow.ports import CallOutcome, FlowBackend, FlowProblem, StaffPort
from kiosk.flow.staff import NoStaff
from kiosk.reader_status import ReaderStatus
from kiosk.ui.problems import problem_for

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class WarmUp:
    """The worker's first job when it builds its backend: build it now, behind the attract
    screen, so the first card does not wait for the store to open."""


class CardWorker(QObject):
    """Calls the FlowBackend off the GUI thread, one job at a time, in order.

    The backend comes from `build`, called for every job (a builder that builds once and
    keeps it, as the kiosk's does; the first call, on a `WarmUp` posted at start, opens the
    store and loads the anchors on this thread, not the GUI's). Whatever a job raises becomes
    the Problem shown (kiosk.ui.problems), so the thread never dies."""

    done = Signal(int, object)
    failed = Signal(int, object)

    def __init__(self, build: Callable[[], FlowBackend]) -> None:
        super().__init__()
        self._build = build

    @Slot(object)
    def run(self, job: object) -> None:
        """Carry out one StartWork, CloseCard or WarmUp and report the outcome."""
        if isinstance(job, WarmUp | CloseCard):
            try:
                backend = self._build()
                if isinstance(job, CloseCard):
                    backend.close_card()
            except Exception:  # logged here; the next card work reports it to the person
                log.exception(
                    "the card backend could not %s",
                    "close the card" if isinstance(job, CloseCard) else "be built",
                )
            return
        if not isinstance(job, StartWork):
            raise TypeError(f"The card worker runs StartWork and CloseCard, not {type(job)}.")
        try:
            value = self._call(job)
        except Exception as e:  # the worker's top level: never let the thread die
            self.failed.emit(job.work_id, problem_for(e))
        else:
            self.done.emit(job.work_id, value)

    def _call(self, job: StartWork) -> object:
        b = self._build()
        match job.kind:
            case Work.READ_CARD:
                return b.read_card()
            case Work.AUTHENTICATE:
                if job.context is not None:
                    raise ValueError("authentication comes before any service context")
                return b.authenticate(job.secret, job.service_id, job.provider_id)
            case Work.CONFIRM_PHONE:
                return b.authenticate_on_phone(job.service_id, job.provider_id)
            case Work.READ_SIGNER:
                return b.read_signer(job.secret, _needed(job.authenticated, "authentication"))
            case Work.ENROL:
                candidate = _needed(job.candidate, "candidate")
                if job.record:  # the patient number staff confirmed, and who did
                    return b.enrol(
                        candidate, job.provider_id, record=job.record, staff_id=job.staff_id
                    )
                return b.enrol(candidate, job.provider_id)
            case Work.PREPARE:
                return b.prepare_service(_needed(job.context, "context"))
            case Work.RUN_SERVICE:
                return b.run_service(_needed(job.context, "context"))
            case Work.ASSISTED:
                context = _needed(job.context, "context")
                if not context.assisted:  # staff's check by sight stands in for the card's
                    raise ValueError("an assisted run needs a context staff assisted")
                return b.run_assisted(context, staff_id=job.staff_id)
        raise ValueError(f"{job.kind} is not card work")


def _needed(value: _T | None, what: str) -> _T:
    """A field the job's kind needs: the flow always sets it, and a job without it fails as an
    internal problem (run's top level) instead of reaching the backend half-formed."""
    if value is None:
        raise ValueError(f"the card work needs its {what}")
    return value


class StaffWorker(QObject):
    """Calls the StaffPort off the GUI thread: sign-ins, the exit's audit, payment voids,
    calls for staff."""

    done = Signal(int, object)
    failed = Signal(int, object)
    called = Signal(int, object)

    def __init__(self, staff: StaffPort) -> None:
        super().__init__()
        self._staff = staff

    @Slot(object)
    def run(self, job: object) -> None:
        """Carry out one staff StartWork or NotifyStaff and report the outcome."""
        if isinstance(job, NotifyStaff):
            self.called.emit(job.call_id, self._call(job.reason))
            return
        if not (isinstance(job, StartWork) and job.kind in STAFF_WORK):
            raise TypeError(f"The staff worker runs staff work and NotifyStaff, not {job!r}.")
        try:
            value = self._call_staff(job)
        except FlowProblem as e:
            self.failed.emit(job.work_id, e.problem)
        except Exception:  # the worker's top level: never let the thread die
            log.exception("staff work %s failed unexpectedly", job.kind.value)
            self.failed.emit(job.work_id, Problem(ProblemCode.INTERNAL))
        else:
            self.done.emit(job.work_id, value)

    def _call_staff(self, job: StartWork) -> object:
        match job.kind:
            case Work.STAFF_SIGN_IN:
                return self._staff.sign_in(job.staff_id, job.secret)
            case Work.STAFF_EXIT:
                self._staff.record_exit(job.staff_id)
                return job.staff_id
            case Work.STAFF_VOID:
                return self._staff.void_payment(job.staff_id, job.receipt_no)
        raise ValueError(f"{job.kind} is not staff work")

    def _call(self, reason: str) -> CallOutcome:
        try:
            return self._staff.call(reason)
        except Exception:  # a channel that raises has not delivered the call
            log.exception("calling staff failed unexpectedly")
            return CallOutcome.NOT_DELIVERED


class FlowController(QObject):
    """The one owner of the flow state; the window renders what it emits."""

    state_changed = Signal(object)
    ticked = Signal(float)
    sound = Signal(str)
    staff_called = Signal()
    exit_requested = Signal()
    _job = Signal(object)
    _staff_job = Signal(object)
    _reader = Signal(object)

    def __init__(
        self,
        flow: Flow,
        backend: FlowBackend | None = None,
        clock: Callable[[], float] = time.monotonic,
        tick_ms: int = 250,
        staff: StaffPort | None = None,
        *,
        build: Callable[[], FlowBackend] | None = None,
    ) -> None:
        """Over a `backend`, or one the card worker gets from `build` (warmed up at once)."""
        super().__init__()
        if backend is not None and build is None:
            given: FlowBackend = backend
            build = lambda: given  # noqa: E731 - the builder of a backend given built
        elif build is None or backend is not None:
            raise TypeError("the controller takes a backend or a builder of one")
        self.flow = flow
        self.clock = clock
        self.state: FlowState = flow.initial()
        self._thread = QThread()
        self._thread.setObjectName("card-worker")
        self._worker = CardWorker(build)
        self._worker.moveToThread(self._thread)
        self._job.connect(self._worker.run)
        self._worker.done.connect(self._on_done)
        self._worker.failed.connect(self._on_failed)
        self._staff_thread = QThread()
        self._staff_thread.setObjectName("staff-worker")
        self._staff_worker = StaffWorker(staff or NoStaff())
        self._staff_worker.moveToThread(self._staff_thread)
        self._staff_job.connect(self._staff_worker.run)
        self._staff_worker.done.connect(self._on_done)
        self._staff_worker.failed.connect(self._on_failed)
        self._staff_worker.called.connect(self._on_called)
        self._reader.connect(self._on_reader)
        self._thread.start()
        self._staff_thread.start()
        if backend is None:
            self._job.emit(WarmUp())
        self._timer = QTimer(self)
        self._timer.setInterval(tick_ms)
        self._timer.timeout.connect(self._on_tick)
        self._timer.start()

    def send(self, event: Event) -> None:
        """Step the flow with `event` now and carry out what it asks for."""
        transition = self.flow.step(self.state, event, self.clock())
        changed = transition.state != self.state
        self.state = transition.state
        for effect in transition.effects:
            self._carry_out(effect)
        if changed:
            self.state_changed.emit(self.state)

    @property
    def worker(self) -> CardWorker:
        """The worker that runs card work (its `done`/`failed` signals report each job)."""
        return self._worker

    @property
    def staff_worker(self) -> StaffWorker:
        """The worker that runs staff work (`done`/`failed` per job, `called` per call)."""
        return self._staff_worker

    def reader_status(self, status: ReaderStatus) -> None:
        """Thread-safe: report the reader's status (call from the monitor's thread)."""
        self._reader.emit(status)

    def stop(self) -> None:
        """Stop the timer and the worker threads (waits for the running jobs)."""
        self._timer.stop()
        for thread in (self._thread, self._staff_thread):
            thread.quit()
        for thread in (self._thread, self._staff_thread):
            thread.wait()

    def _carry_out(self, effect: object) -> None:
        match effect:
            case StartWork() if effect.kind in STAFF_WORK:
                self._staff_job.emit(effect)
            case StartWork() | CloseCard():
                self._job.emit(effect)
            case PlaySound():
                self.sound.emit(effect.cue.value)
            case NotifyStaff():
                log.info("a customer asked for a member of staff (%s)", effect.reason)
                self._staff_job.emit(effect)
                self.staff_called.emit()
            case ExitApp():
                self.exit_requested.emit()

    @Slot(int, object)
    def _on_done(self, work_id: int, value: object) -> None:
        self.send(WorkDone(work_id, value))

    @Slot(int, object)
    def _on_failed(self, work_id: int, problem: object) -> None:
        if not isinstance(problem, Problem):  # fail closed: a failure is a failure
            problem = Problem(ProblemCode.INTERNAL)
        self.send(WorkFailed(work_id, problem))

    @Slot(int, object)
    def _on_called(self, call_id: int, outcome: object) -> None:
        if not isinstance(outcome, CallOutcome):
            raise TypeError(f"A staff call ends with a CallOutcome, not {type(outcome)}.")
        self.send(StaffCallDone(call_id, outcome))

    @Slot(object)
    def _on_reader(self, status: object) -> None:
        if not isinstance(status, ReaderStatus):
            raise TypeError(f"The reader reports a ReaderStatus, not {type(status)}.")
        self.send(ReaderChanged(status))  # the flow decides whether a card went in or out

    @Slot()
    def _on_tick(self) -> None:
        self.send(Tick())
        self.ticked.emit(self.clock())
