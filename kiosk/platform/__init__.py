"""The common platform: verification of JPKI user proofs and enrolments for providers.

`kiosk.platform.service` is the HTTP service (FastAPI, docs/platform-api.md): `create_app`
over a verifier, challenges, links and provider tokens, `app_from_config` over the store.
"""
