"""The JPKI facts every layer shares: each layer that applies a rule applies the same one.

The flow (what the screen accepts), the JPKI session (what reaches the card), the test PKI
(what it personalises a card with) and the virtual card (which keeps its own copy on purpose)
must agree on which secrets are well formed; verification and the card must agree on the
DigestInfo that is signed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256

from kiosk.flow.machine import (
    Flow,
    FlowConfig,
    Provider,
    ReaderChanged,
    ReaderStatus,
    ServiceInfo,
    Start,
    StartWork,
    SubmitPassword,
    SubmitPin,
    WorkDone,
)
from kiosk.i18n import Text
from kiosk.jpki.errors import PinFormatError
from kiosk.jpki.session import encode_pin
from kiosk.jpki_facts import MAX_TRIES, Which, sha256_digest_info
from kiosk.pki.authority import PkiError, check_auth_pin, check_sign_password
from kiosk.services.visit import Authenticated, CardStatus
from kiosk.simcard import applet

PINS = ["", "123", "1234", "0000", "12345", "12a4", "１２３４", "12 4"]
PASSWORDS = ["ABCDE", "ABC123", "A" * 16, "A" * 17, "ABC-123", "ＡＢＣ１２３", "123456", "ABC 12"]


def _flow_sends(which: Which, secret: str) -> bool:
    """Whether the kiosk's flow sends this secret on to the card (a StartWork carrying it)."""
    info = ServiceInfo("identity", Text("本人確認", "Identity"), Text("", ""), True)
    flow = Flow(FlowConfig(services=(info,), providers=(Provider("c", Text("c", "c")),)))
    state = flow.initial(ReaderStatus.READY)
    for event in (Start(), ReaderChanged(ReaderStatus.CARD)):
        state = flow.step(state, event, 0.0).state
    state = flow.step(state, WorkDone(state.work_id, CardStatus(3, 5)), 0.0).state
    if which == "sign":
        state = flow.step(state, SubmitPin("1234"), 0.0).state
        authenticated = Authenticated("SUBJ", datetime(2030, 1, 1, tzinfo=UTC), None)
        state = flow.step(state, WorkDone(state.work_id, authenticated), 0.0).state
        effects = flow.step(state, SubmitPassword(secret), 0.0).effects
    else:
        effects = flow.step(state, SubmitPin(secret), 0.0).effects
    return any(isinstance(e, StartWork) and e.secret == secret for e in effects)


def _session_sends(which: Which, secret: str) -> bool:
    try:
        encode_pin(which, secret)
    except PinFormatError:
        return False
    return True


def _test_pki_takes(which: Which, secret: str) -> bool:
    try:
        (check_auth_pin if which == "auth" else check_sign_password)(secret)
    except PkiError:
        return False
    return True


def _virtual_card_takes(which: Which, secret: str) -> bool:
    ref = applet.PinRef.AUTH if which == "auth" else applet.PinRef.SIGN
    return applet._PIN_FORMAT[ref].fullmatch(secret.encode()) is not None


@pytest.mark.parametrize(
    ("which", "secret"), [("auth", p) for p in PINS] + [("sign", p) for p in PASSWORDS]
)
def test_the_flow_the_session_the_test_pki_and_the_virtual_card_agree_on_a_secret(which, secret):
    answers = {
        "flow": _flow_sends(which, secret),
        "session": _session_sends(which, secret),
        "test pki": _test_pki_takes(which, secret),
        "virtual card": _virtual_card_takes(which, secret),
    }
    assert len(set(answers.values())) == 1, answers


def test_a_fresh_test_card_has_the_tries_the_session_reports(card_file):
    assert {"auth": card_file.auth.max_retries, "sign": card_file.sign.max_retries} == MAX_TRIES


def test_the_digest_info_is_what_a_pkcs1_signature_over_sha256_carries():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = b"the 64-byte message of a user proof, or anything else"
    signature = key.sign(message, PKCS1v15(), SHA256())
    carried = key.public_key().recover_data_from_signature(signature, PKCS1v15(), None)
    assert sha256_digest_info(message) == carried
