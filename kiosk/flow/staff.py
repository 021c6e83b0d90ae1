"""Staff credentials and the staff desk: who may sign in, lockout after wrong tries, the audit.

Each member of staff has a staff number and a PIN of 6 to 12 digits, both typed on the kiosk's
keypad. The kiosk keeps only a scrypt key of the PIN (a memory-hard KDF with a random salt, the
parameters written into the stored string), so a copied configuration does not give the PINs
away in seconds, as an unsalted SHA-256 of a few digits would. `kiosk staff credential` makes
the line to paste into the configuration.

`StaffDesk` is the `StaffPort` the kiosk's staff worker calls off the GUI thread: it checks a
credential (slow by design), locks the login for a while after wrong tries (the wait doubling
each time, capped), audits every sign-in, wrong try, lockout and exit with the staff number
(never the PIN), forwards a customer's call for staff to the configured channel, and hands a
signed-in member's void of a payment to the payments' back office (`voids`, kiosk.flow.voids),
which audits it itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from kiosk.errors import KioskError
from kiosk.flow.errors_catalogue import Problem, ProblemCode
from kiosk.flow.ports import RECEIPT_NO_RE, CallOutcome, FlowProblem, VoidReport
from kiosk.services.visit import AuditSink

#: A staff number: digits only, since it is typed on the keypad (a clinic's 職員番号).
STAFF_ID_RE = re.compile(r"[0-9]{1,10}")
#: A staff PIN: 6 to 12 digits (a 4-digit one falls to a patient attacker within the lockout).
STAFF_PIN_RE = re.compile(r"[0-9]{6,12}")

SCHEME = "scrypt"
#: scrypt parameters for new credentials: N=2^17, r=8, p=1 (128 MiB, a few tenths of a second),
#: the strength OWASP's password-storage guidance asks of scrypt.
DEFAULT_N, DEFAULT_R, DEFAULT_P = 2**17, 8, 1
#: The weakest parameters accepted from a configuration: OWASP's equivalents trade memory for
#: passes (N=2^14 with p=5 ≈ N=2^17 with p=1); anything cheaper is refused at load.
MIN_COST = 2**14 * 8 * 5
MIN_N, MAX_N = 2**14, 2**20
MAX_MEMORY = 256 * 1024 * 1024  # bytes scrypt may use for one check: no configured DoS
SALT_BYTES, KEY_BYTES = 16, 32


class CredentialError(KioskError):
    """A stored staff credential is malformed or weaker than the kiosk accepts."""

    code = "staff_credential"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise CredentialError("salt and key must be base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Credential:
    """An scrypt key of one staff PIN, with its salt and parameters; never the PIN."""

    n: int
    r: int
    p: int
    salt: bytes = field(repr=False)
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if self.n < MIN_N or self.n > MAX_N or self.n & (self.n - 1):
            raise CredentialError(f"scrypt n must be a power of two from {MIN_N} to {MAX_N}")
        if not 8 <= self.r <= 32 or not 1 <= self.p <= 16:
            raise CredentialError("scrypt r must be 8 to 32 and p 1 to 16")
        if self.n * self.r * self.p < MIN_COST:
            raise CredentialError("scrypt parameters are too weak (at least n·r·p = 2^14·8·5)")
        if self._memory > MAX_MEMORY:
            raise CredentialError("scrypt parameters need more than 256 MiB")
        if len(self.salt) < SALT_BYTES or len(self.key) < KEY_BYTES:
            raise CredentialError(f"salt must be ≥ {SALT_BYTES} bytes and key ≥ {KEY_BYTES}")

    @property
    def _memory(self) -> int:
        return 128 * self.r * self.n

    @classmethod
    def make(
        cls, secret: str, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P
    ) -> Credential:
        """A new credential for `secret` with a fresh random salt."""
        salt = secrets.token_bytes(SALT_BYTES)
        return cls(n, r, p, salt, _derive(secret, salt, n, r, p, KEY_BYTES))

    @classmethod
    def parse(cls, text: str) -> Credential:
        """Read `scrypt$n=…,r=…,p=…$salt$key` (base64url); CredentialError when it is not."""
        parts = text.split("$")
        if len(parts) != 4 or parts[0] != SCHEME:
            raise CredentialError('a credential reads "scrypt$n=…,r=…,p=…$salt$key"')
        found = re.fullmatch(r"n=([0-9]{1,8}),r=([0-9]{1,3}),p=([0-9]{1,3})", parts[1])
        if found is None:
            raise CredentialError('scrypt parameters read "n=…,r=…,p=…"')
        n, r, p = (int(v) for v in found.groups())
        return cls(n, r, p, _unb64(parts[2]), _unb64(parts[3]))

    def encode(self) -> str:
        """The stored string (what `parse` reads)."""
        return f"{SCHEME}$n={self.n},r={self.r},p={self.p}${_b64(self.salt)}${_b64(self.key)}"

    def matches(self, secret: str) -> bool:
        """Derive the key of `secret` with this salt and compare in constant time (slow)."""
        derived = _derive(secret, self.salt, self.n, self.r, self.p, len(self.key))
        return hmac.compare_digest(derived, self.key)

    def decoy(self) -> Credential:
        """A credential with the same cost that matches no PIN: an unknown staff number costs
        as much time as a known one, so timing does not tell which numbers exist."""
        return Credential(
            self.n, self.r, self.p, secrets.token_bytes(SALT_BYTES), secrets.token_bytes(32)
        )


def _derive(secret: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    memory = 128 * r * n
    return hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=2 * memory, dklen=length
    )


@dataclass(frozen=True, slots=True)
class StaffMember:
    """One member of staff as configured: the staff number and the credential."""

    staff_id: str
    credential: Credential


# --- lockout --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """After `tries` wrong PINs in a row the login locks for `first_s`, doubling with each
    lockout up to `cap_s`; a correct PIN starts over. Per kiosk, not per staff number, so
    trying many numbers buys no extra guesses."""

    tries: int = 3
    first_s: int = 30
    cap_s: int = 900

    def wait_s(self, lockouts: int) -> int:
        """Seconds of the `lockouts`-th lockout (0-based)."""
        return min(self.cap_s, self.first_s << min(lockouts, 32))


class StaffGate:
    """Counts wrong tries and holds the lockout deadline (monotonic clock, injected)."""

    def __init__(self, policy: LockoutPolicy, clock: Callable[[], float]) -> None:
        self._policy = policy
        self._clock = clock
        self._wrong = 0
        self._lockouts = 0
        self._until = 0.0

    def wait_s(self) -> int:
        """Whole seconds left of the lockout (0 when the login is open)."""
        return max(0, math.ceil(self._until - self._clock()))

    def wrong(self) -> int:
        """Count a wrong try; the seconds of the lockout it starts, or 0."""
        self._wrong += 1
        if self._wrong < self._policy.tries:
            return 0
        wait = self._policy.wait_s(self._lockouts)
        self._wrong = 0
        self._lockouts += 1
        self._until = self._clock() + wait
        return wait

    def right(self) -> None:
        """A correct PIN: the count and the back-off start over."""
        self._wrong = self._lockouts = 0
        self._until = 0.0


# --- the desk -------------------------------------------------------------------------------


class StaffChannel(Protocol):
    def call(self, reason: str) -> CallOutcome:
        """Ask a member of staff to come to this kiosk; whether the call was delivered."""


class NoChannel:
    """No way to call staff is configured: the screen sends the person to the counter."""

    def call(self, reason: str) -> CallOutcome:
        """Nothing to call."""
        return CallOutcome.NO_CHANNEL


#: A payment void: (staff number, receipt number) -> what was voided, or FlowProblem.
Voids = Callable[[str, str], VoidReport]


class StaffDesk:
    """The StaffPort over the configured staff, a lockout gate, the audit, a channel, and the
    payments' voids when the kiosk takes payments."""

    def __init__(
        self,
        staff: Sequence[StaffMember],
        audit: AuditSink,
        provider_id: str,
        wall_clock: Callable[[], datetime],
        channel: StaffChannel | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        policy: LockoutPolicy | None = None,
        voids: Voids | None = None,
    ) -> None:
        self._staff = {member.staff_id: member.credential for member in staff}
        self._decoy = staff[0].credential.decoy() if staff else None
        self._audit = audit
        self._provider_id = provider_id
        self._wall_clock = wall_clock
        self._channel = channel or NoChannel()
        self._gate = StaffGate(policy or LockoutPolicy(), clock)
        self._lock = threading.Lock()  # one check at a time, whatever thread asks
        self._voids = voids

    @property
    def can_void(self) -> bool:
        """Whether payments can be voided here (a `voids` was given)."""
        return self._voids is not None

    def sign_in(self, staff_id: str, secret: str) -> str:
        """The staff number when its PIN matches; else FlowProblem (wrong, or locked with the
        seconds left). Every outcome is audited, with the staff number only when it exists."""
        with self._lock:
            wait = self._gate.wait_s()
            if wait:
                self._record("staff.login", False, "locked", None)
                raise FlowProblem(Problem(ProblemCode.STAFF_LOCKED, wait_s=wait))
            credential = self._staff.get(staff_id)
            checked = credential or self._decoy
            ok = checked is not None and checked.matches(secret) and credential is not None
            if ok:
                self._record("staff.login", True, None, staff_id)
                self._gate.right()
                return staff_id
            locked = self._gate.wrong()
            known = credential is not None
            # an unknown number may be a PIN typed in the wrong field: it is never recorded
            reason = "wrong_pin" if known else "unknown_staff"
            self._record("staff.login", False, reason, staff_id if known else None)
            if locked:
                self._record("staff.lockout", False, f"locked_{locked}s", None)
                raise FlowProblem(Problem(ProblemCode.STAFF_LOCKED, wait_s=locked))
            raise FlowProblem.of(ProblemCode.STAFF_PIN_WRONG)

    def record_exit(self, staff_id: str) -> None:
        """Audit that this member of staff closes the kiosk (before it closes)."""
        self._record("staff.exit", True, None, staff_id)

    def call(self, reason: str) -> CallOutcome:
        """Forward a customer's call for staff to the channel."""
        return self._channel.call(reason)

    def void_payment(self, staff_id: str, receipt_no: str) -> VoidReport:
        """Void a payment for a configured member of staff. The back office audits the void
        (`payment.void`, with the staff number) whatever its outcome, so the desk adds no row
        of its own; what the flow never sends (another number, a malformed receipt) is refused
        before anything is asked."""
        if self._voids is None:
            raise FlowProblem.of(ProblemCode.VOID_UNAVAILABLE)
        if staff_id not in self._staff:
            raise FlowProblem.of(ProblemCode.INTERNAL)  # only a signed-in member's number comes
        if not RECEIPT_NO_RE.fullmatch(receipt_no):
            raise FlowProblem.of(ProblemCode.RECEIPT_FORMAT)
        return self._voids(staff_id, receipt_no)

    def _record(self, action: str, ok: bool, reason: str | None, actor: str | None) -> None:
        self._audit.record(action, ok, reason, self._provider_id, self._wall_clock(), actor=actor)


class NoStaff:
    """The StaffPort of a kiosk without staff configured: nobody signs in, nobody is called,
    nothing is voided."""

    can_void = False

    def sign_in(self, staff_id: str, secret: str) -> str:
        """Refused: no staff are configured."""
        raise FlowProblem.of(ProblemCode.STAFF_PIN_WRONG)

    def record_exit(self, staff_id: str) -> None:
        """Never reached: nobody can sign in."""
        raise FlowProblem.of(ProblemCode.INTERNAL)

    def call(self, reason: str) -> CallOutcome:
        """No channel."""
        return CallOutcome.NO_CHANNEL

    def void_payment(self, staff_id: str, receipt_no: str) -> VoidReport:
        """Never reached: nobody can sign in."""
        raise FlowProblem.of(ProblemCode.VOID_UNAVAILABLE)
