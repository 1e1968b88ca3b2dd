"""Opaque, signed page cursors.

A cursor is `base64url(JSON payload) "." base64url(HMAC-SHA256)[:16 bytes]`.
The payload holds the position (the last row's keyset values) and a hash of
the query it belongs to (`scope`), so a cursor given back with other filters,
or altered, is refused with 422 `INVALID_CURSOR` instead of paging some other
query from a position it never reached.

The key is derived from the JWT secret (TASKLOGS_JWT_SECRET, or the embedded
development secret); with only a public key configured, from that key and the
database URL. No new setting is needed. What a forged cursor could do is
small anyway: it only moves the start of a query the caller may already run,
every access rule still applies."""

import base64
import hashlib
import hmac
from typing import Any

import orjson

from app.auth.tokens import verification_key
from app.core.errors import FieldError, InputRejected
from app.core.settings import Settings

_TAG_BYTES = 16
_MAX_CURSOR_CHARS = 512


def cursor_key(settings: Settings) -> bytes:
    """The server's key for cursors (stable across restarts and workers)."""
    key = verification_key(settings, create_dev_secret=False)
    material = key.key if key is not None and key.can_sign else f"{key.key if key else ''}|{settings.database_url}"
    return hashlib.sha256(b"tasklogs-cursor-v1|" + material.encode()).digest()


def query_scope(**filters: Any) -> str:
    """A short hash of a query's normalised filters (sorted keys)."""
    text = orjson.dumps(filters, option=orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z)
    return hashlib.sha256(text).hexdigest()[:24]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest()[:_TAG_BYTES])


def encode_cursor(key: bytes, scope: str, position: list[Any]) -> str:
    body = _b64(orjson.dumps({"q": scope, "p": position}))
    return f"{body}.{_tag(key, body)}"


def invalid_cursor(message: str = "Not a cursor of this query: start again without a cursor.") -> InputRejected:
    return InputRejected([FieldError("cursor", message, "INVALID_CURSOR")])


def decode_cursor(key: bytes, scope: str, cursor: str) -> list[Any]:
    """The position a cursor of this query holds; 422 INVALID_CURSOR for a
    cursor that was altered, is not ours, or belongs to other filters."""
    body, dot, tag = cursor.partition(".")
    if not dot or len(cursor) > _MAX_CURSOR_CHARS or not hmac.compare_digest(tag, _tag(key, body)):
        raise invalid_cursor()
    try:
        payload = orjson.loads(_unb64(body))
    except ValueError as exc:
        raise invalid_cursor() from exc
    if not isinstance(payload, dict) or payload.get("q") != scope or not isinstance(payload.get("p"), list):
        raise invalid_cursor("This cursor belongs to a query with other filters: start again without a cursor.")
    return payload["p"]
