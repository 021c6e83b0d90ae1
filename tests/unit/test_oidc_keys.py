"""The provider's signing key ring (kiosk.oidc.keys): made on first use in a private
directory, rotated, retired keys published until their tokens have expired, then gone."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from kiosk.oidc.keys import KeyRing, KeyRingError

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
LIFETIME = timedelta(minutes=10)


@pytest.fixture
def ring(tmp_path) -> KeyRing:
    return KeyRing(tmp_path / "oidc-keys", LIFETIME)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_first_key_is_made_on_first_use_in_a_private_directory(ring):
    assert not ring.directory.exists()
    key = ring.current(T0)
    assert key.alg == "ES256" and key.created_at == T0 and key.retired_at is None
    assert mode(ring.directory) == 0o700
    files = list(ring.directory.glob("*.json"))
    assert [f.name for f in files] == [f"{key.kid}.json"]
    assert mode(files[0]) == 0o600
    document = json.loads(files[0].read_text())
    assert document["jwk"]["crv"] == "P-256" and "d" in document["jwk"]
    assert ring.current(T0 + timedelta(days=1)).kid == key.kid  # the same key after


def test_the_jwks_publishes_public_keys_only(ring):
    jwks = ring.jwks(T0)
    (key,) = jwks["keys"]
    assert key["kid"] == ring.current(T0).kid
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
    assert "d" not in key


def test_rotation_retires_the_old_key_and_drops_it_after_the_token_lifetime(ring):
    old = ring.current(T0)
    token = jwt.encode({"alg": "ES256", "kid": old.kid}, {"sub": "x"}, old.key)
    rotated_at = T0 + timedelta(hours=1)
    new = ring.rotate(rotated_at)
    assert new.kid != old.kid and ring.current(rotated_at).kid == new.kid
    retired = json.loads((ring.directory / f"{old.kid}.json").read_text())
    assert retired["retired_at"] == rotated_at.isoformat() and "d" not in retired["jwk"]

    still = ring.jwks(rotated_at + LIFETIME - timedelta(seconds=1))
    assert [k["kid"] for k in still["keys"]] == [new.kid, old.kid]
    jwt.decode(token, KeySet.import_key_set(still))

    later = ring.jwks(rotated_at + LIFETIME)
    assert [k["kid"] for k in later["keys"]] == [new.kid]
    assert not (ring.directory / f"{old.kid}.json").exists()
    with pytest.raises(JoseError):
        jwt.decode(token, KeySet.import_key_set(later))


def test_an_rs256_key_is_made_when_first_asked_for(ring):
    es = ring.current(T0)
    rs = ring.current(T0, "RS256")
    assert rs.alg == "RS256" and rs.kid != es.kid
    assert sorted(k["kty"] for k in ring.jwks(T0)["keys"]) == ["EC", "RSA"]
    ring.rotate(T0 + timedelta(minutes=1))
    assert ring.current(T0 + timedelta(minutes=1), "RS256").kid != rs.kid
    with pytest.raises(ValueError):
        ring.current(T0, "HS256")


def test_a_directory_others_may_read_is_refused(ring):
    ring.directory.mkdir(mode=0o755)
    os.chmod(ring.directory, 0o755)
    with pytest.raises(KeyRingError, match="0700"):
        ring.current(T0)


def test_a_damaged_or_swapped_key_file_is_refused(ring):
    key = ring.current(T0)
    path = ring.directory / f"{key.kid}.json"
    document = json.loads(path.read_text())
    other = KeyRing(ring.directory.parent / "other", LIFETIME).current(T0)
    document["kid"] = other.kid  # a file that claims another key's id
    path.write_text(json.dumps(document))
    with pytest.raises(KeyRingError):
        ring.current(T0)
    path.write_text("{not json")
    with pytest.raises(KeyRingError):
        ring.jwks(T0)


def test_two_rings_on_one_directory_share_their_keys(ring):
    other = KeyRing(ring.directory, LIFETIME)
    first = ring.current(T0)
    assert other.current(T0).kid == first.kid
    new = other.rotate(T0 + timedelta(minutes=1))
    assert ring.current(T0 + timedelta(minutes=1)).kid == new.kid
