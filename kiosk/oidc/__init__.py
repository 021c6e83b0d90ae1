"""The OpenID Provider (issue 13): online services sign people in with the card at a kiosk.

OpenID Connect Core 1.0, the authorization code flow with PKCE (S256), over the protocol and
JOSE libraries (Authlib, joserfc); the binding of a browser's authorization request to a kiosk
visit by a short one-time code; ID tokens with a pairwise `sub`. The platform serves it over
HTTP (kiosk.platform); a single-box operator's kiosk runs it in-process.
"""
