"""Dyzo's paths end in '/', and clients call them with and without it.
Redirecting would turn a POST into a 307 that many HTTP clients do not
follow, so every route is registered under both spellings instead (the
slash-less twin is hidden from the OpenAPI document).

The twins live in a router of their own, included after every router's
own routes: a request is matched against the routes in order, and a
correctly spelled request then passes half as many routes on its way."""

import json
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.routing import Match
from starlette.types import Scope

from app.core.database import WRITE_METHODS
from app.core.idempotency import IdempotentRoute


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
    on every write, and write bodies parsed by orjson. A path that is a
    route of its own (`/tasklogs/changes/`) is never taken by a route with a
    parameter (`/tasklogs/{taskLogId}/`): `PUT /tasklogs/changes/` is a 405,
    not a 422 about a log id."""

    # Every path without parameters of the app, set by `include_routers`.
    literal_paths: frozenset[str] = frozenset()
    # The spelling in the OpenAPI document, set on the slash-less (or slashed) twin of a route:
    # metrics and access logs count both spellings under it.
    documented_path: str | None = None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE and self.param_convertors and _route_path(scope) in self.literal_paths:
            return Match.NONE, {}
        return match, child

    def serves(self, path: str) -> bool:
        """Whether this route's path is `path` (whatever the method)."""
        if self.param_convertors and path in self.literal_paths:
            return False
        return self.path_regex.match(path) is not None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_parsed(request: Request) -> Response:
            if request.method in WRITE_METHODS:
                # FastAPI's documented way to change how a body is read: its
                # route handler is given a Request subclass. Made before
                # anything reads the body, which the request object caches.
                request = OrjsonRequest(request.scope, request.receive)
            return await handle(request)

        return handle_parsed


class Router(APIRouter):
    """Our routers: both slash spellings, and Idempotency-Key on every write."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(route_class=ApiRoute, **kwargs)
        # The other spelling of each route; include it after all routers (`include_routers`).
        self.twins = APIRouter(route_class=ApiRoute, **kwargs)

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


def include_routers(app: Any, *routers: Router) -> None:
    """The routers' routes in the order given, then all their twins."""
    for router in routers:
        app.include_router(router)
    for router in routers:
        app.include_router(router.twins)
    routes = [r for router in routers for r in (*router.routes, *router.twins.routes) if isinstance(r, ApiRoute)]
    literal = frozenset(r.path for r in routes if not r.param_convertors)
    for route in routes:
        route.literal_paths = literal
    app.state.api_routes = routes


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
