"""The common platform: verification of JPKI user proofs and enrolments for providers.

- `schema`: the wire format, one pydantic model per JSON body (service and client alike);
- `edge`: the request boundary (token before body, limits, strict JSON, errors, the log line);
- `auth`: the providers' bearer tokens;
- `service`: `create_app` and its routes, `app_from_config` over the store (docs/platform-api.md);
- `client`: the kiosk's side, `PlatformClient` over httpx.

A new endpoint is a request and an answer model in `schema` and a route in `service`.
"""
