"""Dyzo's paths end in '/', and clients call them with and without it.
Redirecting would turn a POST into a 307 that many HTTP clients do not
follow, so every route is registered under both spellings instead (the
slash-less twin is hidden from the OpenAPI document).

The twins live in a router of their own, included after every router's
own routes: a request is matched against the routes in order, and a
correctly spelled request then passes half as many routes on its way."""

import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from app.core.idempotency import WRITE_METHODS, IdempotentRoute


class ApiRoute(IdempotentRoute):
    """Our routes: Idempotency-Key on every write, and JSON bodies parsed by
    orjson. FastAPI parses them with the standard library, which took 4 % of
    a thousand-item upload; a body orjson refuses (NaN, a lone surrogate,
    broken JSON) is left to FastAPI, so it is accepted or refused as before."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_parsed(request: Request) -> Response:
            if request.method in WRITE_METHODS:
                body = await request.body()
                if body:
                    with contextlib.suppress(orjson.JSONDecodeError):
                        # Starlette's Request.json() returns this when it is set.
                        request._json = orjson.loads(body)
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


def include_routers(app: Any, *routers: Router) -> None:
    """The routers' routes in the order given, then all their twins."""
    for router in routers:
        app.include_router(router)
    for router in routers:
        app.include_router(router.twins)
