"""JSON responses rendered with orjson (several times faster than the
standard library for the large lists that bulk and report endpoints return)."""

from typing import Any

import orjson
from starlette.responses import JSONResponse


class EnvelopeResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def ok(message: str, data: Any = None, status_code: int = 200, **extra: Any) -> EnvelopeResponse:
    """Dyzo's success envelope: `{"status": 1, "message", "data", ...extra}`."""
    return EnvelopeResponse({"status": 1, "message": message, "data": data, **extra}, status_code=status_code)
