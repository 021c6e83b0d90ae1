"""The platform's HTTP service (FastAPI): challenges, user proofs and enrolments for providers.

The contract is docs/platform-api.md; the bodies are kiosk.platform.schema, the request
boundary (token, body, strict JSON, errors, the log line) is kiosk.platform.edge, and the
bearer tokens are kiosk.platform.auth. What is left here is the routes: each checks that the
body names the caller's provider, turns the body into the verifier's types, verifies (here,
or at the peer platform that verifies for that provider), notes the reason and answers.

Proofs and applications go to the same `Verifier` as local mode (it records every verdict with
its challenge's use); an accepted enrolment links the account at the provider.

With an OpenID Provider (`[oidc] issuer`, issue 13) the same app serves the provider's browser
endpoints (kiosk.platform.oidc_web: discovery, JWKS, the authorization page, the token
endpoint; no bearer token) and the kiosks' side of the sign-in: `/v1/logins/pending` and
`/v1/logins/approve`, the LoginBroker port over HTTP, each refusal its own error code.

The verifying endpoints are coroutines: this platform's own verification runs on the event
loop (a worker process is one event loop; several workers share the store: `kiosk platform
serve --workers N`), a peer platform's in the thread pool (`decided`). The login endpoints, of
the OpenID Provider's slower store work, stay plain functions, run in the thread pool; the
store's `Database` keeps one driver connection per thread, which suits both.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from kiosk.platform import auth
from kiosk.platform.client import PlatformClient
from kiosk.platform.edge import (
    BODY_TIMEOUT_S,
    ERRORS,
    MAX_BODY,
    ApiError,
    Edge,
    HotRoutes,
    boundary_route,
    install_error_handlers,
    note,
)
from kiosk.platform.metrics import Operations, install_operations
from kiosk.platform.oidc_web import oidc_router
from kiosk.platform.relay import RELAY_ERRORS, RelayRules, peer_failures
from kiosk.platform.schema import (
    ChallengeBody,
    ChallengeRequest,
    EnrolmentBody,
    EnrolmentVerdictBody,
    ErrorBody,
    HealthBody,
    LoginApproveRequest,
    LoginPendingRequest,
    PendingLoginBody,
    UserProofBody,
    VerdictBody,
)
from kiosk.services.login_broker import (
    BindingExpired,
    BindingOtherProvider,
    BindingRateLimited,
    BindingUnknown,
    BindingUsed,
    LinkRefused,
    LoginError,
)

if TYPE_CHECKING:
    from kiosk.config import Config
    from kiosk.oidc.provider import OpenIdProvider
    from kiosk.platform.console import ConsoleSetup
    from kiosk.verify.challenge import ChallengeService
    from kiosk.verify.enrolment import EnrolmentApplication
    from kiosk.verify.ports import IssuedChallenge
    from kiosk.verify.proof import UserProof
    from kiosk.verify.verdict import EnrolmentVerdict, Verdict
    from kiosk.verify.verifier import Verifier

__all__ = ["BODY_TIMEOUT_S", "MAX_BODY", "Peer", "app_from_config", "create_app", "peer_clients"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
_T = TypeVar("_T")


class Peer(Protocol):
    """Who verifies for a provider: this platform's own verifier, or another platform
    (`kiosk.platform.client.PlatformClient`)."""

    def issue(self, provider_id: str, terminal_id: str, now: datetime) -> IssuedChallenge: ...

    def verify_user_proof(self, proof: UserProof, now: datetime) -> Verdict: ...

    def verify_enrolment(
        self, application: EnrolmentApplication, now: datetime
    ) -> EnrolmentVerdict: ...


class OnLoop(Protocol):
    """Runs `fn(peer)` on the running event loop (the store's `Database.on_loop`)."""

    def __call__(self, fn: Callable[[Peer], _T], peer: Peer, /) -> Awaitable[_T]: ...


@dataclass(frozen=True, slots=True)
class _Here:
    """This platform's challenges and verifier, as a Peer (it records and links itself)."""

    challenges: ChallengeService
    verifier: Verifier

    def issue(self, provider_id: str, terminal_id: str, now: datetime) -> IssuedChallenge:
        return self.challenges.issue(provider_id, terminal_id, now)

    def verify_user_proof(self, proof: UserProof, now: datetime) -> Verdict:
        return self.verifier.verify_user_proof(proof, now)

    def verify_enrolment(
        self, application: EnrolmentApplication, now: datetime
    ) -> EnrolmentVerdict:
        return self.verifier.verify_enrolment(application, now)


def create_app(
    *,
    verifier: Verifier,
    challenges: ChallengeService,
    tokens: Mapping[str, str],
    clock: Clock,
    peers: Mapping[str, Peer] | None = None,
    body_timeout_s: float = BODY_TIMEOUT_S,
    openid: OpenIdProvider | None = None,
    callers: auth.Callers | None = None,
    operations: Operations | None = None,
    relay_rules: RelayRules | None = None,
    console: ConsoleSetup | None = None,
    on_loop: OnLoop | None = None,
) -> FastAPI:
    """The platform API over these services; `tokens` maps provider id -> SHA-256 hex of its
    bearer token; `clock()` is an aware UTC datetime. `peers` maps a provider id to another
    platform (its client) that verifies for that provider: this platform relays the provider's
    challenges, proofs and enrolments to it and answers with its verdicts (the peer records
    them and keeps the links) — e.g. a medical platform reusing a financial platform's
    verification. A request's body must arrive whole within `body_timeout_s` seconds. With
    `openid`, the app is also that OpenID Provider: its browser endpoints and the kiosks'
    `/v1/logins/*` (`_login_routes`). `callers` (kiosk.platform.auth) knows the terminal
    credentials besides `tokens`, and their allowance; none = the provider tokens alone.
    With `operations`, the app serves `/metrics` and `/v1/ready` and counts every request
    (kiosk.platform.metrics). `relay_rules` (kiosk.platform.relay): this platform's name in
    relay chains, the hops it takes, its clock for time budgets; none = the defaults. With
    `console`, the operator console's pages are under /console (kiosk.platform.console).
    `on_loop` runs this platform's own verifier and challenges on the event loop so that
    their store statements do not block it (the store's `Database.on_loop`); none = called
    as they are."""
    known = callers if callers is not None else auth.Callers(tokens)
    here = _Here(challenges, verifier)
    relayed = dict(peers or {})
    relays = relay_rules or RelayRules()

    def verifier_for(provider_id: str, request: Request) -> Peer:
        """Who verifies for this provider: its peer platform (the request relayed on, within
        its chain's rules and time budget: kiosk.platform.relay), else this one."""
        hop = relays.arrived(request.headers)  # a loop, too many hops... refused here
        peer = relayed.get(provider_id)
        return here if peer is None else relays.through(peer, hop)

    async def decided(peer: Peer, decide: Callable[[Peer], _T]) -> _T:
        """`decide(peer)`: this platform's verifier on the event loop (microseconds of CPU
        and the store's statements, awaited by `on_loop`: a thread hop would cost more, and
        each worker process is one event loop), a peer platform in the thread pool (its
        answer may take the relay's whole time budget)."""
        if peer is here:
            return decide(peer) if on_loop is None else await on_loop(decide, peer)
        return await run_in_threadpool(decide, peer)

    app = FastAPI(
        title="jpki-kiosk platform",
        version="1",
        description="Verifies JPKI user proofs and enrolment applications for providers "
        "(docs/platform-api.md).",
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.state.callers = known  # who revokes here (the console) refuses the token here at once
    v1 = APIRouter(route_class=boundary_route(known, body_timeout_s), responses=ERRORS)

    @app.get("/v1/health", response_model=HealthBody, tags=["health"])
    async def health() -> HealthBody:
        """No token needed (for load balancers)."""
        return HealthBody(status="ok")

    @v1.post(
        "/v1/challenges", status_code=201, response_model=ChallengeBody, responses=RELAY_ERRORS
    )
    async def issue(
        body: ChallengeRequest, request: Request, caller: auth.Caller = auth.CALLER
    ) -> ChallengeBody:
        """A fresh challenge for one of the provider's terminals."""
        auth.may_act(caller, body.provider_id, body.terminal_id)
        try:
            with peer_failures():
                provider, terminal, now = body.provider_id, body.terminal_id, clock()
                issued = await decided(
                    verifier_for(provider, request),
                    lambda peer: peer.issue(provider, terminal, now),
                )
        except ValueError as e:
            raise ApiError(400, "malformed", "The ids must be short identifiers.") from e
        note(request, reason="issued")
        return ChallengeBody.of(issued)

    @v1.post("/v1/proofs", response_model=VerdictBody, responses=RELAY_ERRORS)
    async def proof(
        body: UserProofBody, request: Request, caller: auth.Caller = auth.CALLER
    ) -> VerdictBody:
        """Verify a user proof; a refusal is a verdict with ok false, not an HTTP error."""
        auth.may_act(caller, body.provider_id, body.terminal_id)
        proof, now = body.to_proof(), clock()
        with peer_failures():
            verdict = await decided(
                verifier_for(proof.provider_id, request),
                lambda peer: peer.verify_user_proof(proof, now),
            )
        note(request, reason=verdict.reason.value)
        return VerdictBody.of(verdict)

    @v1.post("/v1/enrolments", response_model=EnrolmentVerdictBody, responses=RELAY_ERRORS)
    async def enrol(
        body: EnrolmentBody, request: Request, caller: auth.Caller = auth.CALLER
    ) -> EnrolmentVerdictBody:
        """Verify an enrolment application; when ok, the account is linked to both certificates
        (in the transaction that records the verdict); a card linked to another account here
        is the verdict `link_exists`."""
        auth.may_act(caller, body.document.provider_id, body.document.terminal_id)
        application, now = body.to_application(), clock()
        with peer_failures():  # here or at the peer: verified, recorded and linked in one place
            verdict = await decided(
                verifier_for(application.provider_id, request),
                lambda peer: peer.verify_enrolment(application, now),
            )
        note(request, reason=verdict.reason.value)
        return EnrolmentVerdictBody.of(verdict)

    if openid is not None:
        _login_routes(v1, openid, clock)
        app.include_router(oidc_router(openid))
    if console is not None:  # the operator console's pages under /console (no bearer token)
        from kiosk.platform.console import console_router

        app.include_router(console_router(console, providers=tokens, clock=clock))
    app.include_router(v1)
    HotRoutes.install(app, v1.routes)  # innermost: Edge and the metrics see its requests too
    app.add_middleware(Edge)
    if operations is not None:  # after Edge: outermost, it counts every answer Edge gave
        install_operations(app, operations, clock)
    return app


#: Each refusal of the LoginBroker port as (HTTP status, error code); the client maps the code
#: back to the same exception. Checked in order: a subclass before its base.
LOGIN_REFUSALS: tuple[tuple[type[LoginError], int, str], ...] = (
    (BindingUnknown, 404, "binding_unknown"),
    (BindingExpired, 410, "binding_expired"),
    (BindingUsed, 409, "binding_used"),
    (BindingOtherProvider, 403, "binding_other_provider"),
    (BindingRateLimited, 429, "binding_rate_limited"),
    (LinkRefused, 403, "link_refused"),
)


def _login_errors() -> dict[int | str, dict[str, Any]]:
    """The login routes' error answers, for the OpenAPI schema."""
    errors = dict(ERRORS)
    for _, status, code in LOGIN_REFUSALS:
        seen = errors.get(status, {}).get("description")
        errors[status] = {"model": ErrorBody, "description": f"{seen} or {code}" if seen else code}
    return errors


def _login_routes(v1: APIRouter, openid: OpenIdProvider, clock: Clock) -> None:
    """The kiosks' side of the sign-in (the LoginBroker port): what a binding code stands for,
    and the card holder's approval. The binding code is in the body only, which no log line
    carries; a refusal is `LOGIN_REFUSALS`' status and code, store trouble 503."""

    @v1.post("/v1/logins/pending", response_model=PendingLoginBody, responses=_login_errors())
    def pending(
        body: LoginPendingRequest, request: Request, caller: auth.Caller = auth.CALLER
    ) -> PendingLoginBody:
        """The sign-in waiting under the binding code a person typed at one of the provider's
        kiosks: which online service, what it receives. A wrong code counts against the
        terminal (binding_rate_limited after too many)."""
        auth.may_act(caller, body.provider_id, body.terminal_id)
        with _login_refusals():
            found = openid.pending(body.provider_id, body.terminal_id, body.binding_code, clock())
        note(request, reason="pending")
        return PendingLoginBody.of(found)

    @v1.post(
        "/v1/logins/approve", status_code=204, response_class=Response, responses=_login_errors()
    )
    def approve(
        body: LoginApproveRequest, request: Request, caller: auth.Caller = auth.CALLER
    ) -> Response:
        """The card holder of `account_ref` (linked at the provider) agreed at the kiosk: the
        waiting authorization page may send the browser back with its code."""
        auth.may_act(caller, body.provider_id, body.terminal_id)
        now = clock()
        if body.auth_time > now:  # the verdict's time, by this platform's clock: never later
            raise ApiError(400, "malformed", "'auth_time' is later than the platform's clock.")
        with _login_refusals():
            openid.approve(
                body.to_pending(),
                body.provider_id,
                body.terminal_id,
                body.account_ref,
                body.auth_time,
                now,
            )
        note(request, reason="approved")
        return Response(status_code=204)


@contextmanager
def _login_refusals() -> Iterator[None]:
    """The LoginBroker port's exceptions as API errors (`LOGIN_REFUSALS`); LoginUnavailable
    (the provider's store) is 503 unavailable, as any store trouble is."""
    try:
        yield
    except LoginError as e:
        for kind, status, code in LOGIN_REFUSALS:
            if isinstance(e, kind):
                headers = (
                    {"Retry-After": str(e.retry_after_s)}
                    if isinstance(e, BindingRateLimited)
                    else None
                )
                raise ApiError(status, code, str(e), headers) from e
        log.warning("sign-in provider unavailable: %s", e.code)
        raise ApiError(503, "unavailable", "The sign-in service is unavailable; try again.") from e


# --- from the configuration --------------------------------------------------------------


def peer_clients(cfg: Config) -> dict[str, PlatformClient]:
    """A client per `[platform_peers.<provider>]` (checked when the configuration loaded):
    another platform verifies for that provider, with this platform's token there and the
    longest wait for its answer (`timeout_s`; a relay's time budget may make it shorter)."""
    return {
        provider: PlatformClient(peer.url, peer.token, timeout_s=peer.timeout_s)
        for provider, peer in cfg.platform_peers.items()
    }


def _closing(
    *closers: Callable[[], None],
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan that calls each of `closers` when the server stops."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for close in closers:
                close()

    return lifespan


def app_from_config(
    cfg: Config, *, import_crl_dir: bool = True, loop_waits: bool = False
) -> FastAPI:
    """The platform over the configured store: CRLs of crl_dir imported (unless the serving
    command did it before starting the workers: kiosk.platform.workers) and those of
    `[crl_refresh]` fetched while it runs, the terminal credentials in the store and the
    providers' tokens of `[platform_tokens]`, peers from `[platform_peers]`, the metrics and
    readiness check, the operator console, links over the store, the wall clock; the OpenID
    Provider of `[oidc]` and `[[oidc_clients]]` when `[oidc] issuer` is set. `loop_waits`:
    the verifier awaits its store statements on the event loop (kiosk.platform.workers says
    when that pays)."""
    from kiosk.clock import utc_now
    from kiosk.local import LocalContext, import_crls, openid_provider
    from kiosk.platform.console import console_setup
    from kiosk.platform.crlrefresh import crl_refresher, refreshing_lifespan

    if not cfg.platform_tokens:  # the kiosks' terminal credentials alone, in the store
        log.info("no [platform_tokens]: only terminal credentials are accepted")
    local = LocalContext.from_config(cfg)
    if import_crl_dir:
        import_crls(cfg, local)
    peers = peer_clients(cfg)
    app = create_app(
        verifier=local.verifier,
        challenges=local.challenges,
        tokens=cfg.platform_tokens,
        clock=utc_now,
        peers=peers,
        body_timeout_s=cfg.platform_body_timeout_s,
        openid=openid_provider(cfg, local.db),
        callers=auth.callers_from_config(cfg, local.db),
        operations=Operations.from_config(cfg, local.db),
        relay_rules=RelayRules(cfg.platform_id),
        console=console_setup(cfg, local.db),
        on_loop=local.db.on_loop if loop_waits else None,
    )
    closers = [local.db.dispose, *(peer.close for peer in peers.values())]
    # the CRLs of [crl_refresh] fetched while the server runs; the store closes after it
    app.router.lifespan_context = refreshing_lifespan(
        crl_refresher(cfg, local.db), _closing(*closers)
    )
    return app
