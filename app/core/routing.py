"""Dyzo's paths end in '/', and clients call them with and without it.
Redirecting would turn a POST into a 307 that many HTTP clients do not
follow, so every route is registered under both spellings instead (the
slash-less twin is hidden from the OpenAPI document).

The twins are added after every router's own routes: a request is matched
against the routes in order, and a correctly spelled request then passes
half as many routes on its way.

`include_routers` puts every router's routes on the app's own router.
`app.include_router` would keep each router as a router of its own: FastAPI
then matches a request router by router, with bookkeeping in the scope for
every route it tries, which cost a request for a path of the seventh router
50 to 90 µs of CPU (5 to 7 % of a timesheet's)."""

import json
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from starlette.routing import Match
from starlette.types import Scope

from app.core.database import WRITE_METHODS, read_session
from app.core.idempotency import IdempotentRoute
from app.core.responses import EnvelopeResponse


class OrjsonRequest(Request):
    """A request whose JSON body is parsed by orjson. FastAPI parses bodies
    with the standard library, which took 4 % of a thousand-item upload. A
    body orjson refuses (NaN, a lone surrogate, broken JSON) is left to the
    standard library, so it is accepted or refused as before — except a
    string holding a lone UTF-16 surrogate (`"\\ud800"`): that is no text any
    database can store, so the body is refused as malformed JSON (400)."""

    async def json(self) -> Any:
        try:
            return orjson.loads(await self.body())
        except orjson.JSONDecodeError:
            parsed = await super().json()
        try:
            # Only bodies orjson refused come here: the check costs nothing on the usual path.
            json.dumps(parsed, ensure_ascii=False).encode()
        except UnicodeEncodeError as exc:
            text = (await self.body()).decode(errors="replace")
            raise json.JSONDecodeError("a string holds a lone UTF-16 surrogate (not text)", text, 0) from exc
        return parsed


class ApiRoute(IdempotentRoute):
    """Our routes: each write in one transaction of its own, Idempotency-Key
    on every write, write bodies parsed by orjson, and each read's session
    opened around its handler (the `Session` dependency hands it out). A
    path that is a route of its own (`/tasklogs/changes/`) is never taken by
    a route with a parameter (`/tasklogs/{taskLogId}/`): `PUT
    /tasklogs/changes/` is a 405, not a 422 about a log id."""

    # Every path without parameters of the app, set by `include_routers`.
    literal_paths: frozenset[str] = frozenset()
    # The spelling in the OpenAPI document, set on the slash-less (or slashed) twin of a route:
    # metrics and access logs count both spellings under it.
    documented_path: str | None = None

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        # The path's text before its first parameter: every path this route serves starts with it.
        self.fixed_start = path.split("{", 1)[0]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = _route_path(scope)
        # A request is tried against the routes one by one; this check turns
        # away most of them at a fraction of the cost of FastAPI's match.
        if not path.startswith(self.fixed_start):
            return Match.NONE, {}
        match, child = super().matches(scope)
        if match is not Match.NONE and self.param_convertors and path in self.literal_paths:
            return Match.NONE, {}
        return match, child

    def serves(self, path: str) -> bool:
        """Whether this route's path is `path` (whatever the method)."""
        if self.param_convertors and path in self.literal_paths:
            return False
        return self.path_regex.match(path) is not None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_request(request: Request) -> Response:
            if request.method not in WRITE_METHODS:
                # A write's session is its transaction's, opened by the
                # Idempotency-Key handling (write_transaction).
                async with read_session(request):
                    return await handle(request)
            # FastAPI's documented way to change how a body is read: its
            # route handler is given a Request subclass. Made before
            # anything reads the body, which the request object caches.
            return await handle(OrjsonRequest(request.scope, request.receive))

        return handle_request


class Router(APIRouter):
    """Our routers: both slash spellings, Idempotency-Key on every write,
    answers in the envelope."""

    def __init__(self, *, tags: list[str], responses: dict[int | str, dict[str, Any]] | None = None) -> None:
        options: dict[str, Any] = {
            "route_class": ApiRoute,
            "default_response_class": EnvelopeResponse,
            "tags": [*tags],
            "responses": responses,
        }
        super().__init__(**options)
        # The other spelling of each route; added after all routers' own (`include_routers`).
        self.twins = APIRouter(**options)

    def add_api_route(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        super().add_api_route(path, endpoint, **kwargs)
        if len(path) > 1:
            twin = dict(kwargs, include_in_schema=False)
            if twin.get("operation_id"):
                twin["operation_id"] = f"{twin['operation_id']}_twin"
            other = path.rstrip("/") if path.endswith("/") else path + "/"
            self.twins.add_api_route(other, endpoint, **twin)
            twin_route = self.twins.routes[-1]
            assert isinstance(twin_route, ApiRoute)  # the twins router makes ApiRoutes
            twin_route.documented_path = path


def include_routers(app: FastAPI, *routers: Router) -> None:
    """The routers' routes on the app's own router in the order given, then
    all their twins. The routes are built once, when their modules are
    imported, and every app of the process shares them (the tests make one
    per test)."""
    routes = [r for router in routers for r in router.routes] + [r for router in routers for r in router.twins.routes]
    api_routes = [r for r in routes if isinstance(r, ApiRoute)]
    assert len(api_routes) == len(routes)  # our routers make nothing else
    app.router.routes.extend(api_routes)
    literal = frozenset(r.path for r in api_routes if not r.param_convertors)
    for route in api_routes:
        route.literal_paths = literal
    app.state.api_routes = api_routes


def allowed_methods(app: Any, scope: Scope) -> list[str]:
    """Every method some route serves on the request's path (a 405's
    `Allow`): a path's methods are spread over several routes, and over
    both of its spellings' routes."""
    path = _route_path(scope)
    routes: list[ApiRoute] = getattr(app.state, "api_routes", [])
    return sorted({method for route in routes if route.serves(path) for method in route.methods or ()})


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
