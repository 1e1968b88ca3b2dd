"""app/core/cursors.py, cursor_number: the plain-number cursors clients send
back (webhook deliveries, the change feed's parts). Only ASCII digits within
BIGINT (and within max_digits, when given) are a cursor."""

import pytest

from app.core.cursors import BIGINT_MAX, cursor_number
from app.core.errors import InputRejected


@pytest.mark.parametrize(
    ("text", "max_digits", "number"),
    [
        ("0", None, 0),
        ("17", None, 17),
        ("007", None, 7),
        (str(BIGINT_MAX), None, BIGINT_MAX),
        ("9" * 18, 18, 10**18 - 1),
    ],
)
def test_ascii_digits_within_the_bounds_are_their_number(text, max_digits, number):
    assert cursor_number(text, max_digits=max_digits) == number


@pytest.mark.parametrize(
    ("text", "max_digits"),
    [
        ("", None),
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1\n", None),
        ("1_000", None),
        ("\u00b2", None),  # superscript two: isdigit() but not int()-able
        ("\u0661\u0662", None),  # Arabic-Indic digits, which int() accepts
        ("\uff11", None),  # a fullwidth digit
        (str(BIGINT_MAX + 1), None),
        ("1" * 19, 18),
        ("0" * 18 + "1", 18),
    ],
)
def test_anything_else_is_a_422_on_the_named_field(text, max_digits):
    with pytest.raises(InputRejected) as caught:
        cursor_number(text, field="since", message="Not ours.", max_digits=max_digits)
    assert caught.value.status_code == 422
    assert [(e.field, e.message, e.code) for e in caught.value.errors] == [("since", "Not ours.", "INVALID_CURSOR")]
