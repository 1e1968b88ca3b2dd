"""Page cursors that are plain numbers, as clients send them back.

Some lists give out a position that is nothing but numbers: the webhook
deliveries list the last delivery's id, the change feed `xid-seq`. What
comes back is trusted only as far as its form: ASCII digits (`str.isdigit()`
alone takes "²", which `int()` refuses, and `int()` alone takes "١٢", " 1"
and "+1"), within a BIGINT, else a 422 INVALID_CURSOR. Lists whose position
is more than numbers, or whose filters must not change between pages, sign
theirs (app/tasklogs/cursors.py)."""

from app.core.errors import FieldError, InputRejected

BIGINT_MAX = 2**63 - 1


def cursor_number(
    text: str,
    *,
    field: str = "cursor",
    message: str = "Not a cursor this list gave out.",
    max_digits: int | None = None,
) -> int:
    """The number `text` writes in ASCII digits (at most `max_digits` of them,
    when given), if it fits a BIGINT; otherwise a 422 INVALID_CURSOR on
    `field`, saying `message`."""
    if text.isascii() and text.isdigit() and (max_digits is None or len(text) <= max_digits):
        number = int(text)
        if number <= BIGINT_MAX:
            return number
    raise InputRejected([FieldError(field, message, "INVALID_CURSOR")])
