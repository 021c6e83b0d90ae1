"""Delivering a Bundle: HTTP POST to a real receiver on 127.0.0.1 (delivered only on a 2xx,
every failure a typed code), and the atomic file drop (never a partial `<id>.json`)."""

from __future__ import annotations

import errno
import json
import os
import stat

import httpx
import pytest
from reception_support import PATIENT_NUMBER, TOKEN, Receiver, message, serving

from kiosk.services.reception import build_bundle, parse_bundle
from kiosk.services.reception_delivery import (
    DROP_FILE_MODE,
    Delivered,
    DeliveryFailed,
    FileDropReception,
    HttpReception,
)


@pytest.fixture
def receiver():
    with serving() as running:
        yield running


def sent():
    m = message()
    return str(m.message_id), build_bundle(m)


# --- HTTP ------------------------------------------------------------------------------------


def test_a_2xx_answer_is_delivered_with_the_bearer_token_and_fhir_json(receiver):
    mid, body = sent()
    http = HttpReception(receiver.url, TOKEN, 5.0)
    try:
        assert http.deliver(mid, body) == Delivered("http_200")
    finally:
        http.close()
    (got,) = receiver.received.bundles
    assert (got.bundle_id, got.patient_number) == (mid, PATIENT_NUMBER)
    assert receiver.received.authorizations == [f"Bearer {TOKEN}"]
    assert receiver.received.content_types == ["application/fhir+json"]


@pytest.mark.parametrize("status", [202, 204])
def test_any_2xx_is_delivered(receiver, status):
    receiver.status = status
    http = HttpReception(receiver.url, TOKEN, 5.0)
    try:
        assert http.deliver(*sent()) == Delivered(f"http_{status}")
    finally:
        http.close()


@pytest.mark.parametrize("status", [401, 409, 500, 503])
def test_an_answer_that_is_not_2xx_is_a_failure_with_its_status(receiver, status):
    receiver.status = status
    http = HttpReception(receiver.url, TOKEN, 5.0)
    try:
        assert http.deliver(*sent()) == DeliveryFailed(f"http_{status}")
    finally:
        http.close()


def test_a_receiver_that_is_down_is_a_failure_not_an_exception():
    down = Receiver()  # a free port nobody listens on
    http = HttpReception(down.url, TOKEN, 5.0)
    try:
        assert http.deliver(*sent()) == DeliveryFailed("connect_failed")
    finally:
        http.close()


def test_tls_that_fails_is_a_failure_of_its_own(receiver):
    # https to the plain-http receiver: the handshake fails
    http = HttpReception(receiver.url.replace("http://", "https://"), TOKEN, 5.0)
    try:
        assert http.deliver(*sent()) == DeliveryFailed("tls")
    finally:
        http.close()
    assert receiver.received.bundles == []


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectTimeout("slow"), "timeout"),
        (httpx.RemoteProtocolError("garbled"), "protocol_error"),
        (httpx.ReadError("reset"), "http_error"),
    ],
)
def test_timeouts_and_broken_answers_are_failures(error, code):
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    transport = httpx.MockTransport(fail)
    http = HttpReception("https://reception.example/fhir", TOKEN, 5.0, transport=transport)
    assert http.deliver(*sent()) == DeliveryFailed(code)


def test_a_redirect_is_not_followed():
    seen: list[str] = []

    def redirect(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(307, headers={"location": "https://elsewhere.example/"})

    http = HttpReception(
        "https://reception.example/fhir", TOKEN, 5.0, transport=httpx.MockTransport(redirect)
    )
    assert http.deliver(*sent()) == DeliveryFailed("http_307")
    assert seen == ["https://reception.example/fhir"]


@pytest.mark.parametrize(
    "url",
    [
        "http://reception.example/fhir",
        "http://192.168.1.10/fhir",
        "http://127.0.0.2/fhir",
        "ftp://127.0.0.1/fhir",
        "https:///fhir",
        "reception.example",
    ],
)
def test_plain_http_elsewhere_than_this_machine_is_refused_when_built(url):
    with pytest.raises(ValueError):
        HttpReception(url, TOKEN, 5.0)


@pytest.mark.parametrize(
    "url",
    [
        "https://reception.example/fhir",
        "http://127.0.0.1:8080/fhir",
        "http://localhost/fhir",
        "http://[::1]:8080/fhir",
    ],
)
def test_https_anywhere_and_http_to_this_machine_are_accepted(url):
    HttpReception(url, TOKEN, 5.0).close()


@pytest.mark.parametrize("token", ["", "abc\r\nX-Injected: 1"])
def test_a_token_must_be_one_line(token):
    with pytest.raises(ValueError):
        HttpReception("https://reception.example/fhir", token, 5.0)


# --- file drop -------------------------------------------------------------------------------


def test_the_bundle_is_dropped_as_its_id_json(tmp_path):
    mid, body = sent()
    drop = FileDropReception(tmp_path)
    assert drop.deliver(mid, body) == Delivered("file")
    assert [p.name for p in tmp_path.iterdir()] == [f"{mid}.json"]
    dropped = tmp_path / f"{mid}.json"
    assert parse_bundle(dropped.read_bytes()).bundle_id == mid
    assert stat.S_IMODE(dropped.stat().st_mode) == DROP_FILE_MODE
    assert drop.deliver(mid, body) == Delivered("file")  # again: the same file, replaced
    assert [p.name for p in tmp_path.iterdir()] == [f"{mid}.json"]


def test_the_name_appears_only_with_the_whole_synced_content(tmp_path, monkeypatch):
    """At the rename, no `<id>.json` exists yet, and the temporary file holds every byte
    and has been fsynced; after it, the directory is synced too."""
    mid, body = sent()
    target = tmp_path / f"{mid}.json"
    synced: list[int] = []
    seen: list[tuple[bool, bytes, int]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        synced.append(fd)
        real_fsync(fd)

    def replace(src, dst):
        seen.append((target.exists(), open(src, "rb").read(), len(synced)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    assert FileDropReception(tmp_path).deliver(mid, body) == Delivered("file")
    assert seen == [(False, body, 1)]
    assert len(synced) == 2  # the file, then the directory
    assert target.read_bytes() == body


@pytest.mark.parametrize(
    ("error", "code"),
    [(errno.ENOSPC, "disk_full"), (errno.EIO, "io_error"), (errno.EACCES, "permission_denied")],
)
def test_a_write_that_fails_halfway_leaves_no_file_at_all(tmp_path, monkeypatch, error, code):
    mid, body = sent()
    real_fsync = os.fsync

    def fail_after_half(fd):
        os.ftruncate(fd, len(body) // 2)  # as if the disk took half of it
        real_fsync(fd)
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(os, "fsync", fail_after_half)
    assert FileDropReception(tmp_path).deliver(mid, body) == DeliveryFailed(code)
    assert list(tmp_path.iterdir()) == []  # no `<id>.json`, and the temporary file is gone


def test_a_missing_directory_is_a_failure(tmp_path):
    drop = FileDropReception(tmp_path / "not-there")
    assert drop.deliver(*sent()) == DeliveryFailed("directory_missing")


def test_only_a_uuid_names_a_file(tmp_path):
    drop = FileDropReception(tmp_path)
    assert drop.deliver("../../etc/passwd", b"{}") == DeliveryFailed("bad_message_id")
    assert list(tmp_path.iterdir()) == []


def test_a_dropped_file_is_the_bundle_as_built(tmp_path):
    mid, body = sent()
    FileDropReception(tmp_path).deliver(mid, body)
    assert json.loads((tmp_path / f"{mid}.json").read_bytes())["id"] == mid
