"""The registered online services (kiosk.oidc.clients): `[[oidc_clients]]` tables read
strictly, every refusal naming the key's path."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from joserfc.jwk import ECKey

from kiosk.oidc.clients import ClientConfigError, OidcClient, clients_from_config

DIGEST = hashlib.sha256(b"secret").hexdigest()
PUBLIC = ECKey.generate_key("P-256", parameters={"kid": "k1"}, private=True)


def table(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "client_id": "shop",
        "name": "TEST ショップ",
        "redirect_uris": ["https://shop.example/callback", "http://127.0.0.1:8480/cb"],
        "auth_method": "client_secret_basic",
        "secret_sha256": DIGEST.upper(),
        "providers": ["clinic-a"],
    }
    item.update(changes)
    return {k: v for k, v in item.items() if v is not None}


def test_a_secret_client_is_read():
    clients = clients_from_config([table()])
    assert clients["shop"] == OidcClient(
        "shop",
        "TEST ショップ",
        ("https://shop.example/callback", "http://127.0.0.1:8480/cb"),
        "client_secret_basic",
        secret_sha256=DIGEST,
        providers=frozenset({"clinic-a"}),
    )
    assert DIGEST not in repr(clients["shop"])


def test_a_private_key_jwt_client_is_read_with_its_public_keys():
    item = table(auth_method="private_key_jwt", secret_sha256=None,
                 jwks={"keys": [PUBLIC.as_dict(private=False)]}, id_token_alg="RS256")  # fmt: skip
    client = clients_from_config([item])["shop"]
    assert client.key_set().get_by_kid("k1").as_dict() == PUBLIC.as_dict(private=False)
    assert client.id_token_alg == "RS256"


@pytest.mark.parametrize(
    ("items", "path"),
    [
        ([table(colour="red")], "oidc_clients[0].colour: unknown key"),
        ([table(client_id=None)], "oidc_clients[0].client_id: is required"),
        ([table(client_id="has space")], "oidc_clients[0].client_id"),
        ([table(name=" ")], "oidc_clients[0].name"),
        ([table(redirect_uris=[])], "oidc_clients[0].redirect_uris"),
        ([table(redirect_uris=["http://shop.example/cb"])], "oidc_clients[0].redirect_uris[0]"),
        ([table(redirect_uris=["https://a.example/cb", "ftp://a.example"])],
         "oidc_clients[0].redirect_uris[1]"),
        ([table(redirect_uris=["https://a.example/cb#frag"])], "oidc_clients[0].redirect_uris[0]"),
        ([table(redirect_uris=["https://u:p@a.example/cb"])], "oidc_clients[0].redirect_uris[0]"),
        ([table(redirect_uris=["https://a.example/cb"] * 2)], "oidc_clients[0].redirect_uris"),
        ([table(auth_method="none")], "oidc_clients[0].auth_method"),
        ([table(secret_sha256="abc")], "oidc_clients[0].secret_sha256"),
        ([table(secret_sha256=None)], "oidc_clients[0].secret_sha256"),
        ([table(jwks={"keys": []})], "oidc_clients[0].jwks"),
        ([table(providers=[])], "oidc_clients[0].providers"),
        ([table(providers=["ok", "not ok"])], "oidc_clients[0].providers[1]"),
        ([table(id_token_alg="HS256")], "oidc_clients[0].id_token_alg"),
        ([table(), table()], "oidc_clients[1].client_id: names a client given already"),
        ([table(), "x"], "oidc_clients[1]: must be a table"),
    ],
)  # fmt: skip
def test_anything_wrong_is_refused_with_its_path(items, path):
    with pytest.raises(ClientConfigError) as refused:
        clients_from_config(items)
    assert str(refused.value).startswith(path)


def test_private_key_jwt_needs_public_keys_and_no_secret():
    base = table(auth_method="private_key_jwt", secret_sha256=None)
    cases = [
        (base, "oidc_clients[0].jwks: is required"),
        (base | {"secret_sha256": DIGEST, "jwks": {"keys": [PUBLIC.as_dict()]}},
         "oidc_clients[0].secret_sha256"),
        (base | {"jwks": {"keys": [PUBLIC.as_dict(private=True)]}},
         "oidc_clients[0].jwks.keys[0]: must be a public key"),
        (base | {"jwks": {"keys": [{k: v for k, v in PUBLIC.as_dict().items() if k != "kid"}]}},
         "oidc_clients[0].jwks.keys[0]: must have a kid"),
        (base | {"jwks": {"keys": [{"kty": "EC", "kid": "x", "crv": "P-256", "x": "AA"}]}},
         "oidc_clients[0].jwks: is not a usable JWK Set"),
        (base | {"jwks": {"keys": [PUBLIC.as_dict()], "extra": 1}}, "oidc_clients[0].jwks"),
    ]  # fmt: skip
    for item, path in cases:
        with pytest.raises(ClientConfigError) as refused:
            clients_from_config([item])
        assert str(refused.value).startswith(path), item


def test_the_secret_digest_is_never_echoed():
    with pytest.raises(ClientConfigError) as refused:
        clients_from_config([table(secret_sha256="my-real-secret")])
    assert "my-real-secret" not in str(refused.value)


def test_not_a_list_is_refused():
    with pytest.raises(ClientConfigError, match="oidc_clients"):
        clients_from_config({"client_id": "shop"})
