"""CRL checks (signature by the pinned CA, freshness) and the trust anchor directory."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from test_verify_support import der, other_dn_ca

from kiosk.pki.authority import make_ca, make_crl
from kiosk.verify.crl import verify_crl, verify_crl_in
from kiosk.verify.trust import KeyPurpose, TrustAnchor, TrustError, TrustStore
from kiosk.verify.verdict import Reason, Refused

pytest_plugins = ["test_verify_support"]


def refused(fn) -> Reason:
    with pytest.raises(Refused) as e:
        fn()
    return e.value.reason


def test_trust_dir_reads_both_anchors_with_purpose(world):
    anchors = {a.purpose: a for a in world.trust}
    assert set(anchors) == {KeyPurpose.AUTH, KeyPurpose.SIGN}
    assert anchors[KeyPurpose.AUTH].key_id == world.key_id("auth")
    assert world.trust.by_key_id(world.key_id("sign")) is anchors[KeyPurpose.SIGN]


def test_trust_dir_reads_der_and_bundles(world, tmp_path):
    (tmp_path / "auth.der").write_bytes(der(world.ca("auth")))
    bundle = b"".join(
        world.ca(w).public_bytes(serialization.Encoding.PEM) for w in ("auth", "sign")
    )
    (tmp_path / "bundle.pem").write_bytes(bundle)
    (tmp_path / "README.txt").write_text("ignored")
    assert len(TrustStore.from_dir(tmp_path)) == 2  # same anchor twice counts once


def test_trust_dir_refuses_end_entity_and_garbage(world, tmp_path):
    (tmp_path / "leaf.der").write_bytes(world.auth_cert)
    with pytest.raises(TrustError, match="not a CA"):
        TrustStore.from_dir(tmp_path)
    (tmp_path / "leaf.der").write_bytes(b"junk")
    with pytest.raises(TrustError, match="not a certificate"):
        TrustStore.from_dir(tmp_path)
    with pytest.raises(TrustError, match="does not exist"):
        TrustStore.from_dir(tmp_path / "missing")


def test_same_dn_anchors_are_told_apart_by_key_id(world):
    older = make_ca(
        "auth",
        world.other_key,
        not_before=world.now - timedelta(days=3000),
        not_after=world.now + timedelta(days=600),
    )
    trust = TrustStore([TrustAnchor.from_certificate(older), *world.trust])
    crl = verify_crl_in(world.crl("auth"), trust, world.now)
    assert crl.info.issuer_key_id == world.key_id("auth")


def test_good_crl(world):
    serials = [11, 12, 13]
    anchor = world.trust.by_key_id(world.key_id("auth"))
    crl = verify_crl(world.crl("auth", serials), anchor, world.now)
    assert crl.info.issuer_key_id == world.key_id("auth")
    assert crl.info.entries == 3 and crl.info.crl_number == 7
    assert [e.serial for e in crl.entries()] == serials


def test_pem_crl_is_accepted(world):
    pem = x509.load_der_x509_crl(world.crl("sign")).public_bytes(serialization.Encoding.PEM)
    assert verify_crl_in(pem, world.trust, world.now).info.issuer_key_id == world.key_id("sign")


def test_crl_signed_by_the_wrong_key(world):
    forged = world.crl("auth", [1], key=world.other_key)
    assert refused(lambda: verify_crl_in(forged, world.trust, world.now)) is (
        Reason.CRL_BAD_SIGNATURE
    )
    anchor = world.trust.by_key_id(world.key_id("auth"))
    assert refused(lambda: verify_crl(forged, anchor, world.now)) is Reason.CRL_BAD_SIGNATURE


def test_crl_of_the_other_ca_under_this_anchor(world):
    anchor = world.trust.by_key_id(world.key_id("auth"))
    assert refused(lambda: verify_crl(world.crl("sign"), anchor, world.now)) is (
        Reason.CRL_BAD_SIGNATURE
    )


def test_crl_from_an_unknown_ca(world):
    ca = other_dn_ca(world.other_key, world.now)
    crl = make_crl(
        ca, world.other_key, [], this_update=world.now, next_update=world.now, number=1
    ).public_bytes(serialization.Encoding.DER)
    assert refused(lambda: verify_crl_in(crl, world.trust, world.now)) is Reason.UNKNOWN_ISSUER


def test_stale_crl_and_grace(world):
    crl = world.crl(
        "auth",
        this_update=world.now - timedelta(days=2),
        next_update=world.now - timedelta(hours=1),
    )
    assert refused(lambda: verify_crl_in(crl, world.trust, world.now)) is Reason.CRL_STALE
    assert refused(lambda: verify_crl_in(crl, world.trust, world.now, grace_s=3599)) is (
        Reason.CRL_STALE
    )
    assert verify_crl_in(crl, world.trust, world.now, grace_s=3600).info.entries == 0


def test_crl_from_the_future(world):
    crl = world.crl("auth", this_update=world.now + timedelta(hours=1))
    assert refused(lambda: verify_crl_in(crl, world.trust, world.now)) is Reason.CRL_STALE


def test_undecodable_crl(world):
    assert refused(lambda: verify_crl_in(b"\x30\x00", world.trust, world.now)) is (Reason.MALFORMED)
