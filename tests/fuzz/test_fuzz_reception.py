"""Fuzz `parse_bundle`, the reception Bundle's one boundary: only a ReceivedBundle or a
BundleRefused, whatever the bytes.

Each case starts from a real Bundle (`build_bundle` of a message with a coverage and a
Consent) and changes it: a value anywhere in the JSON tree replaced by another JSON value (of
another type, empty, a resource where none belongs, huge), a key removed, or the serialised
bytes cut, flipped or extended. What each case asserts:
- `parse_bundle` returns a ReceivedBundle or raises BundleRefused — never another
  exception (the FHIR library's and the JSON parser's errors are translated);
- what it returns names a Bundle id and one patient number, both text.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fuzz.budget import FUZZ
from kiosk.services.insurance import MEDICATION, Coverage
from kiosk.services.reception import (
    BundleRefused,
    CoverageFacts,
    ReceivedBundle,
    ReceptionMessage,
    build_bundle,
    parse_bundle,
)

pytestmark = pytest.mark.fuzz

MESSAGE = ReceptionMessage(
    uuid.UUID("3f2b9c1e-8d4a-4c6f-9b1e-2a7d5c8e0f13"),
    "demo-clinic",
    "kiosk-1",
    "P-000417",
    CoverageFacts(
        Coverage.VALID, "06123456", "あいう", "187", "05", date(2025, 4, 1), None, None, 3
    ),
    frozenset({MEDICATION}),
    datetime(2026, 12, 3, 1, 30, tzinfo=UTC),
    "1311234567",
)
BODY = build_bundle(MESSAGE)
TREE = json.loads(BODY)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(_paths(value, (*prefix, index)))
    return out


PATHS = _paths(TREE)[1:]  # every value but the whole document

# flat values and a few fixed nested shapes: cheap to draw, and every type the parser meets
json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(
        [
            "",
            "Patient",
            "Bundle",
            "Coverage",
            "Consent",
            "urn:uuid:x",
            "2026-13-40",
            [],
            {},
            [None],
            {"resourceType": "Patient"},
            {"resourceType": "Bundle", "id": "x"},
            [{"resourceType": "Consent"}],
            "x" * 100_000,
        ]
    ),
)


def _copy() -> Any:
    return json.loads(BODY)


def _set(tree: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    node = tree
    for step in path[:-1]:
        node = node[step]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return tree


@st.composite
def tree_mutation(draw: st.DrawFn) -> bytes:
    tree = _copy()
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from(PATHS))
        delete = draw(st.booleans()) and isinstance(path[-1], str)
        try:
            # a copy: sampled_from hands out the same list or dict every time, and a later
            # mutation into it would change the constant for every example after (and can
            # make it contain itself: a cycle json.dumps refuses)
            tree = _set(tree, path, copy.deepcopy(draw(json_values)), delete)
        except (KeyError, IndexError, TypeError):
            break  # an earlier change removed the path
    return json.dumps(tree, ensure_ascii=False).encode()


@st.composite
def byte_mutation(draw: st.DrawFn) -> bytes:
    data = bytearray(BODY)
    kind = draw(st.sampled_from(["cut", "flip", "insert"]))
    at = draw(st.integers(0, len(data)))
    if kind == "cut":
        return bytes(data[:at])
    if kind == "flip" and at < len(data):
        data[at] ^= draw(st.integers(1, 255))
        return bytes(data)
    return bytes(data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:])


@FUZZ
@given(data=st.one_of(tree_mutation(), byte_mutation()))
@example(data=BODY)
@example(data=BODY.replace(b'"Patient"', b'"Bundle"', 1))
@example(data=b'{"resourceType":"Bundle","id":"x","type":"collection","entry":[null]}')
@example(data=b'{"resourceType":"Bundle","id":"x","type":"collection","meta":{"tag":5}}')
def test_parse_bundle_returns_or_refuses(data: bytes) -> None:
    try:
        got = parse_bundle(data)
    except BundleRefused as e:
        assert e.reason
        return
    assert isinstance(got, ReceivedBundle)
    assert isinstance(got.bundle_id, str) and got.bundle_id
    assert isinstance(got.patient_number, str) and got.patient_number


def test_the_unchanged_bundle_parses():
    assert parse_bundle(BODY).patient_number == "P-000417"
    assert len(PATHS) > 50
