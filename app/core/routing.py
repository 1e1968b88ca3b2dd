"""Dyzo's paths end in '/', and clients call them with and without it.
Redirecting would turn a POST into a 307 that many HTTP clients do not
follow, so every route is registered under both spellings instead (the
slash-less twin is hidden from the OpenAPI document).

The twins live in a router of their own, included after every router's
own routes: a request is matched against the routes in order, and a
correctly spelled request then passes half as many routes on its way."""

from typing import Any

from fastapi import APIRouter

from app.core.idempotency import IdempotentRoute


class Router(APIRouter):
    """Our routers: both slash spellings, and Idempotency-Key on every write."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(route_class=IdempotentRoute, **kwargs)
        # The other spelling of each route; include it after all routers (`include_routers`).
        self.twins = APIRouter(route_class=IdempotentRoute, **kwargs)

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
