"""Delivering an outbox message: an HTTP POST to the receiving system, or a file drop.

The reception's Bundle goes by `HttpReception` (FHIR JSON) or `FileDropReception`; the push of
a payment's result to the shop's POS goes by the same HTTP delivery with plain JSON and an
`Idempotency-Key` header (kiosk.services.pos_notices). Every adapter answers every attempt
with a value, never an exception: `Delivered` when the receiver has the message (a 2xx answer;
the file renamed into place), else `DeliveryFailed` with a short code (`timeout`,
`connect_failed`, `tls`, `http_503`, `disk_full`, ...) that the outbox records and `kiosk
outbox list` shows. The sender retries what failed; a receiver may therefore get a message
twice and deduplicates by its id (Bundle.id, the file's name, the Idempotency-Key).

Nothing about the message but its id is logged: never the body, never the token.
"""

from __future__ import annotations

import errno
import logging
import os
import ssl
import tempfile
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

log = logging.getLogger(__name__)

#: The media type of FHIR's JSON format.
FHIR_JSON = "application/fhir+json"
#: The media type of plain JSON.
JSON = "application/json"
#: The hosts a plain-http reception URL may name: this machine only.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: The permissions of a dropped file: the kiosk writes it, the receiver's group reads it.
DROP_FILE_MODE = 0o640


@dataclass(frozen=True, slots=True)
class Delivered:
    """The receiver has the message (`detail`: how it said so, e.g. `http_201`)."""

    detail: str


@dataclass(frozen=True, slots=True)
class DeliveryFailed:
    """The receiver does not have the message; `code` says why, as a short code."""

    code: str


Outcome = Delivered | DeliveryFailed


class ReceptionDelivery(Protocol):
    """The port the outbox's sender delivers through."""

    #: The outbox destination this adapter serves (e.g. `reception`).
    destination: str

    def deliver(self, message_id: str, body: bytes) -> Outcome:
        """One attempt to hand the message over; never raises."""
        ...

    def close(self) -> None:
        """Release what the adapter holds (connections)."""
        ...


def check_receiver_url(url: str, receiver: str = "reception") -> httpx.URL:
    """The URL parsed, if it is https, or plain http to this machine; ValueError otherwise
    (its message names the `receiver`)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as e:
        raise ValueError(f"the {receiver} URL does not parse") from e
    host = parsed.host.strip("[]")
    if parsed.scheme == "https" and host:
        return parsed
    if parsed.scheme == "http" and host in LOOPBACK_HOSTS:
        return parsed
    raise ValueError(f"the {receiver} URL must be https (plain http only to this machine)")


def _failure_code(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    if isinstance(error, httpx.ConnectError):
        cause = error.__cause__ or error.__context__
        while cause is not None:
            if isinstance(cause, ssl.SSLError):
                return "tls"
            cause = cause.__cause__ or cause.__context__
        return "connect_failed"
    if isinstance(error, httpx.RemoteProtocolError):
        return "protocol_error"
    return "http_error"


class HttpDelivery:
    """POSTs each message (`media_type`) to a receiver's endpoint with a bearer token;
    delivered only on a 2xx answer. With `id_header`, the message id goes along in that header
    (e.g. `Idempotency-Key`), for a receiver that deduplicates by a header.

    Each phase of a request is bounded by `timeout_s`; only the status line is awaited (the
    answer's body is never read), and redirects are not followed: a message goes where it was
    configured or nowhere."""

    def __init__(
        self,
        url: str,
        token: str,
        timeout_s: float,
        *,
        destination: str,
        media_type: str,
        id_header: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = check_receiver_url(url, destination)
        if not token or any(c in token for c in "\r\n"):
            raise ValueError(f"the {destination} token must be one non-empty line")
        if timeout_s <= 0:
            raise ValueError(f"the {destination} timeout must be positive")
        self.destination = destination
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": media_type,
            "Accept": media_type,
        }
        self._id_header = id_header
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s), follow_redirects=False, transport=transport
        )

    def deliver(self, message_id: str, body: bytes) -> Outcome:
        """POST the message once; Delivered on 2xx, else DeliveryFailed with the reason."""
        headers = self._headers
        if self._id_header is not None:
            headers = {**headers, self._id_header: message_id}
        what = self.destination
        try:
            with self._client.stream("POST", self._url, content=body, headers=headers) as answer:
                status = answer.status_code  # closed without reading the body
        except httpx.HTTPError as e:  # timeouts, refused connections, TLS, protocol errors
            code = _failure_code(e)
            log.warning("%s message %s not delivered: %s", what, message_id, code)
            return DeliveryFailed(code)
        except (httpx.StreamError, OSError) as e:
            log.warning("%s message %s not delivered: %s", what, message_id, type(e).__name__)
            return DeliveryFailed("http_error")
        if 200 <= status < 300:
            log.info("%s message %s delivered (%d)", what, message_id, status)
            return Delivered(f"http_{status}")
        log.warning("%s message %s not delivered: answered %d", what, message_id, status)
        return DeliveryFailed(f"http_{status}")

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


class HttpReception(HttpDelivery):
    """POSTs each Bundle (application/fhir+json) to the reception system's endpoint with a
    bearer token; delivered only on a 2xx answer (HttpDelivery's rules)."""

    def __init__(
        self,
        url: str,
        token: str,
        timeout_s: float,
        *,
        destination: str = "reception",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            url,
            token,
            timeout_s,
            destination=destination,
            media_type=FHIR_JSON,
            transport=transport,
        )


_OS_ERROR_CODES = {
    errno.ENOSPC: "disk_full",
    errno.EDQUOT: "disk_full",
    errno.EACCES: "permission_denied",
    errno.EPERM: "permission_denied",
    errno.ENOENT: "directory_missing",
    errno.EROFS: "read_only",
}


class FileDropReception:
    """Drops each Bundle into a directory the reception system watches, as `<id>.json`.

    Atomic: the Bundle is written to a hidden temporary file in the same directory
    (`.<id>.<random>.tmp`, which a receiver reading `*.json` never picks up), flushed to
    disk, then renamed to `<id>.json` (os.replace: the name appears with the whole content
    or not at all), and the directory is synced so the rename survives a power cut. A failed
    attempt leaves no file behind. Delivering a message again replaces its file with the same
    bytes."""

    def __init__(self, directory: Path, *, destination: str = "reception") -> None:
        self.directory = Path(directory)
        self.destination = destination

    def deliver(self, message_id: str, body: bytes) -> Outcome:
        """Write the Bundle into place; Delivered once it is there, else DeliveryFailed."""
        try:
            name = f"{uuid.UUID(message_id)}.json"
        except ValueError:
            return DeliveryFailed("bad_message_id")
        try:
            self._drop(name, body)
        except OSError as e:
            code = _OS_ERROR_CODES.get(e.errno or 0, "io_error")
            log.warning("reception message %s not dropped: %s", message_id, code)
            return DeliveryFailed(code)
        log.info("reception message %s dropped into the reception directory", message_id)
        return Delivered("file")

    def _drop(self, name: str, body: bytes) -> None:
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{name[:-5]}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                os.fchmod(file.fileno(), DROP_FILE_MODE)
                file.write(body)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.directory / name)
        except BaseException:
            with suppress(OSError):
                os.unlink(temporary)
            raise
        _sync_directory(self.directory)

    def close(self) -> None:
        """Nothing to release."""


def _sync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable (fsync of the directory itself)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
