"""The HTTP eligibility directory against a real server on 127.0.0.1 (uvicorn in a thread):
the requests it sends, the answers it reads, and every wrong answer, error status, timeout and
absent server becoming InsuranceUnavailable, never a traceback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from kiosk.services.eligibility_http import (
    MAX_ANSWER_BYTES,
    DirectoryAnswerInvalid,
    DirectoryRefused,
    HttpEligibilityDirectory,
    read_answer,
)
from kiosk.services.insurance import (
    CHECKUPS,
    MEDICATION,
    Coverage,
    Eligibility,
    InsuranceService,
    InsuranceUnavailable,
)

TODAY = date(2026, 12, 3)
TOKEN = "directory-token-0123456789"
VALID = {
    "as_of": "2026-12-03",
    "status": "valid",
    "insurer": "06139998",
    "member": "12・1001-01",
    "copay_tenths": 3,
    "valid_until": "2027-03-31",
    "lost_on": None,
    "shared": ["medication"],
}


@dataclass
class Script:
    """What the test server answers next, and what it was asked."""

    status: int = 200
    body: bytes = json.dumps(VALID).encode()
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    chunks: int = 1  # >1: the body in that many pieces (a streamed answer)
    requests: list[tuple[str, str, dict]] = field(default_factory=list)

    def answer(self, body: object, status: int = 200) -> None:
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()


def directory_app(script: Script) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/eligibility/{kind}")
    async def eligibility(kind: str, request: Request):
        payload = json.loads(await request.body())
        script.requests.append((kind, request.headers.get("authorization", ""), payload))
        if script.chunks > 1:
            size = -(-len(script.body) // script.chunks)
            pieces = [script.body[i : i + size] for i in range(0, len(script.body), size)]

            async def stream() -> Iterator[bytes]:
                for piece in pieces:
                    yield piece

            return StreamingResponse(
                stream(), status_code=script.status, media_type=script.content_type
            )
        return Response(
            script.body, script.status, headers=script.headers, media_type=script.content_type
        )

    return app


class Running:
    """uvicorn serving an app on a free port of 127.0.0.1, in a thread."""

    def __init__(self, app) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 5
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.005)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.should_exit = True
            self.thread.join(5)


@pytest.fixture(scope="module")
def server():
    script = Script()
    running = Running(directory_app(script))
    running.script = script
    yield running
    running.stop()


@pytest.fixture
def script(server) -> Script:
    server.script.__init__()  # a fresh script for each test, the same server
    return server.script


@pytest.fixture
def directory(server):
    directory = HttpEligibilityDirectory(server.url, TOKEN, timeout_s=5)
    yield directory
    directory.close()


# --- what it asks and what it reads -------------------------------------------------------


def test_a_patient_check_sends_the_token_and_reads_a_valid_coverage(directory, script):
    found = directory.check("clinic-1", "P-1", TODAY, share=frozenset({MEDICATION}))
    assert found == Eligibility(
        Coverage.VALID, "06139998", "12・1001-01", 3, date(2027, 3, 31),
        shared=frozenset({MEDICATION}),
    )  # fmt: skip
    (kind, auth, payload), = script.requests  # fmt: skip
    assert (kind, auth) == ("patient", f"Bearer {TOKEN}")
    assert payload == {"provider_id": "clinic-1", "patient_number": "P-1",
                       "as_of": "2026-12-03", "share": ["medication"]}  # fmt: skip


def test_a_member_check_asks_for_nothing_to_be_shared(directory, script):
    script.answer(VALID | {"shared": []})
    assert directory.check_by_member("06139998", "12・1001-01", TODAY).status is Coverage.VALID
    (kind, _, payload), = script.requests  # fmt: skip
    assert (kind, payload) == ("member", {"insurer": "06139998", "member": "12・1001-01",
                                          "as_of": "2026-12-03"})  # fmt: skip


def test_items_the_service_does_not_know_are_not_asked_for(directory, script):
    script.answer(VALID | {"shared": []})
    directory.check("clinic-1", "P-1", TODAY, share=frozenset({"x-ray", CHECKUPS}))
    assert script.requests[0][2]["share"] == ["checkups"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"as_of": "2026-12-03", "status": "unknown"}, Eligibility(Coverage.UNKNOWN)),
        (
            {"as_of": "2026-12-03", "status": "lost", "insurer": "138123", "member": "1001",
             "lost_on": "2026-12-01"},
            Eligibility(Coverage.LOST, "138123", "1001", lost_on=date(2026, 12, 1)),
        ),
        (
            {"as_of": "2026-12-03", "status": "expired", "insurer": "06139998",
             "member": "12・1002", "valid_until": "2026-12-02"},
            Eligibility(Coverage.EXPIRED, "06139998", "12・1002", valid_until=date(2026, 12, 2)),
        ),
        (
            VALID | {"valid_until": None, "shared": []},
            Eligibility(Coverage.VALID, "06139998", "12・1001-01", 3, None),
        ),
    ],
)  # fmt: skip
def test_each_answer_is_read(directory, script, answer, expected):
    script.answer(answer)
    assert directory.check("clinic-1", "P-1", TODAY, share=frozenset({MEDICATION})) == expected


def test_the_service_over_http_shows_what_was_shared(server, script):
    from datetime import UTC, datetime

    from kiosk.services.base import Link, ServiceContext

    context = ServiceContext(
        service_id="insurance", provider_id="clinic-1", language="ja", subject="CN=test",
        cert_not_after=None, link=Link("P-1", datetime(2026, 1, 1, tzinfo=UTC)),
        consented=frozenset({MEDICATION}),
    )  # fmt: skip
    with HttpEligibilityDirectory(server.url, TOKEN) as directory:
        result = InsuranceService(directory, today=lambda: TODAY).run(context)
        assert result.ok and "薬剤情報を医療機関に提供しました" in result.message.ja
        script.answer(b"{", status=200)
        result = InsuranceService(directory, today=lambda: TODAY).run(context)
        assert not result.ok and result.title.en.startswith("The insurance check system")


# --- every wrong answer is InsuranceUnavailable -------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe{}",
        b"[]",
        b"null",
        b'{"as_of": "2026-12-03", "status": "valid"',
        json.dumps(VALID | {"extra": 1}).encode(),  # a field the contract does not have
        json.dumps({k: v for k, v in VALID.items() if k != "status"}).encode(),
        json.dumps(VALID | {"status": "VALID"}).encode(),
        json.dumps(VALID | {"status": "maybe"}).encode(),
        json.dumps(VALID | {"copay_tenths": "3"}).encode(),  # a string, not a number
        json.dumps(VALID | {"copay_tenths": 3.0}).encode(),
        json.dumps(VALID | {"copay_tenths": True}).encode(),
        json.dumps(VALID | {"copay_tenths": 4}).encode(),
        json.dumps(VALID | {"copay_tenths": None}).encode(),
        json.dumps(VALID | {"as_of": "2026-12-04"}).encode(),  # an answer about another day
        json.dumps(VALID | {"valid_until": "2027/03/31"}).encode(),
        json.dumps(VALID | {"valid_until": "2027-02-30"}).encode(),
        json.dumps(VALID | {"valid_until": "2026-12-02"}).encode(),  # valid, but expired
        json.dumps(VALID | {"lost_on": "2026-12-01"}).encode(),  # valid, but lost
        json.dumps(VALID | {"insurer": "0613999"}).encode(),
        json.dumps(VALID | {"insurer": ""}).encode(),
        json.dumps(VALID | {"member": ""}).encode(),
        json.dumps(VALID | {"member": "12\n1001"}).encode(),
        json.dumps(VALID | {"member": "<b>1001</b>"}).encode(),
        json.dumps(VALID | {"member": "1" * 65}).encode(),
        json.dumps(VALID | {"shared": ["checkups"]}).encode(),  # not agreed
        json.dumps(VALID | {"shared": ["medication", "medication"]}).encode(),
        json.dumps(VALID | {"shared": "medication"}).encode(),
        json.dumps({"as_of": "2026-12-03", "status": "unknown", "insurer": "06139998"}).encode(),
        json.dumps({"as_of": "2026-12-03", "status": "lost", "insurer": "06139998",
                    "member": "1001"}).encode(),  # lost, but since when?
        json.dumps({"as_of": "2026-12-03", "status": "lost", "insurer": "06139998",
                    "member": "1001", "lost_on": "2026-12-04"}).encode(),  # lost tomorrow
        json.dumps({"as_of": "2026-12-03", "status": "lost", "insurer": "06139998",
                    "member": "1001", "lost_on": "2026-12-01",
                    "shared": ["medication"]}).encode(),  # shared though not valid
        json.dumps({"as_of": "2026-12-03", "status": "expired", "insurer": "06139998",
                    "member": "1001", "valid_until": "2026-12-03"}).encode(),  # still valid
        json.dumps(VALID).encode() + b" " * MAX_ANSWER_BYTES,  # too large
    ],
)  # fmt: skip
def test_a_wrong_answer_is_an_invalid_answer(directory, script, body):
    script.answer(body)
    with pytest.raises(DirectoryAnswerInvalid):
        directory.check("clinic-1", "P-1", TODAY, share=frozenset({MEDICATION}))


def test_an_answer_that_is_not_json_by_its_type_is_refused(directory, script):
    script.content_type = "text/html"
    with pytest.raises(DirectoryAnswerInvalid):
        directory.check("clinic-1", "P-1", TODAY, share=frozenset({MEDICATION}))


@pytest.mark.parametrize("status", [500, 503, 401, 403, 404, 422, 204])
def test_an_error_status_is_refused_with_its_status(directory, script, status):
    script.answer({"error": "nope"}, status=status)
    if status == 204:  # a 2xx with no body is not an answer
        with pytest.raises(DirectoryAnswerInvalid):
            directory.check("clinic-1", "P-1", TODAY)
        return
    with pytest.raises(DirectoryRefused) as caught:
        directory.check("clinic-1", "P-1", TODAY)
    assert caught.value.status == status and isinstance(caught.value, InsuranceUnavailable)
    assert TOKEN not in str(caught.value)


def test_a_redirect_is_not_followed(directory, script):
    script.answer(b"", status=307)
    script.headers = {"location": "http://127.0.0.1:1/elsewhere"}
    with pytest.raises(DirectoryRefused) as caught:
        directory.check("clinic-1", "P-1", TODAY)
    assert caught.value.status == 307 and len(script.requests) == 1


def test_an_answer_dripping_past_the_overall_bound_is_unavailable(server, script):
    script.chunks = 4
    ticks = iter(range(0, 1000, 4))  # each look at the clock is 4 s later
    directory = HttpEligibilityDirectory(
        server.url, TOKEN, total_s=10, monotonic=lambda: float(next(ticks))
    )
    with directory, pytest.raises(InsuranceUnavailable, match="in time"):
        directory.check("clinic-1", "P-1", TODAY, share=frozenset({MEDICATION}))


def test_a_streamed_answer_in_pieces_is_read_whole(directory, script):
    script.chunks = 5
    assert directory.check("clinic-1", "P-1", TODAY, frozenset({MEDICATION})).status is (
        Coverage.VALID
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_server_that_is_down_is_unavailable():
    with HttpEligibilityDirectory(f"http://127.0.0.1:{free_port()}", TOKEN) as directory:
        with pytest.raises(InsuranceUnavailable) as caught:
            directory.check("clinic-1", "P-1", TODAY)
    assert type(caught.value) is InsuranceUnavailable


def test_a_server_that_stopped_is_unavailable():
    script = Script()
    running = Running(directory_app(script))
    directory = HttpEligibilityDirectory(running.url, TOKEN)
    assert directory.check("clinic-1", "P-1", TODAY, frozenset({MEDICATION})).status is (
        Coverage.VALID
    )
    running.stop()
    with directory, pytest.raises(InsuranceUnavailable):
        directory.check("clinic-1", "P-1", TODAY)


def test_a_server_that_never_answers_times_out():
    with socket.socket() as silent:  # listens, never accepts: the request goes unanswered
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with HttpEligibilityDirectory(url, TOKEN, timeout_s=0.2) as directory:
            with pytest.raises(InsuranceUnavailable, match="in time"):
                directory.check("clinic-1", "P-1", TODAY)


# --- the boundary alone, the URL and the token --------------------------------------------


def test_read_answer_alone_refuses_what_it_cannot_read():
    with pytest.raises(DirectoryAnswerInvalid):
        read_answer(b'{"as_of": 20261203, "status": "unknown"}', TODAY, frozenset())
    assert read_answer(b'{"as_of": "2026-12-03", "status": "unknown"}', TODAY, frozenset()) == (
        Eligibility(Coverage.UNKNOWN)
    )


@pytest.mark.parametrize(
    "url",
    ["http://directory.example.jp", "ftp://127.0.0.1/", "directory.example.jp", "http://"],
)
def test_plain_http_is_refused_except_to_this_machine(url):
    with pytest.raises(ValueError):
        HttpEligibilityDirectory(url, TOKEN)


@pytest.mark.parametrize(
    "url", ["https://directory.example.jp/base", "http://127.0.0.1:8080", "http://localhost",
            "http://[::1]:9000"],
)  # fmt: skip
def test_https_anywhere_and_http_to_this_machine_are_accepted(url):
    HttpEligibilityDirectory(url, TOKEN).close()


@pytest.mark.parametrize("token", ["", "two words", "tab\there", "ｔｏｋｅｎ"])
def test_a_token_that_is_no_header_value_is_refused_without_echoing_it(token):
    with pytest.raises(ValueError) as caught:
        HttpEligibilityDirectory("https://directory.example.jp", token)
    assert token not in str(caught.value) or not token


def test_no_number_name_token_or_answer_is_logged(directory, script, caplog):
    import logging

    with caplog.at_level(logging.DEBUG):
        directory.check("clinic-1", "P-1", TODAY, share=frozenset({MEDICATION}))
        script.answer(VALID | {"member": "<b>12・1001</b>"})
        with pytest.raises(DirectoryAnswerInvalid):
            directory.check_by_member("06139998", "12・1001-01", TODAY)
        script.answer(b"secret body", status=500)
        with pytest.raises(DirectoryRefused):
            directory.check("clinic-1", "P-1", TODAY)
    logged = caplog.text
    assert caplog.records  # the refusals are logged, by what they are
    for secret in (TOKEN, "P-1", "1001", "secret body", "<b>"):
        assert secret not in logged
