"""app/tasklogs/history.py, FeedCursor: the change feed's cursor, parsed from
what clients send back. Only digits[-digits] within BIGINT is a cursor."""

import pytest

from app.core.errors import InputRejected
from app.tasklogs.history import FeedCursor

MAX_BIGINT = 2**63 - 1


@pytest.mark.parametrize(
    ("text", "cursor"),
    [
        ("0-0", FeedCursor(0, 0)),
        ("12-34", FeedCursor(12, 34)),
        ("17", FeedCursor(0, 17)),  # a cursor of the feed before it was ordered by xid
        ("0", FeedCursor(0, 0)),
        ("", FeedCursor(0, 0)),
        (None, FeedCursor(0, 0)),
        (f"{MAX_BIGINT}-{MAX_BIGINT}", FeedCursor(MAX_BIGINT, MAX_BIGINT)),
        (str(MAX_BIGINT), FeedCursor(0, MAX_BIGINT)),
        ("007-08", FeedCursor(7, 8)),
    ],
)
def test_parse_accepts_cursors_the_feed_gives_out(text, cursor):
    parsed = FeedCursor.parse(text)
    assert parsed == cursor
    assert (parsed.xid, parsed.seq) == tuple(cursor)


@pytest.mark.parametrize(
    "text",
    [
        "-1",
        "1-",
        "-",
        "--1",
        "a-b",
        "1-b",
        "a-1",
        "abc",
        "1-2-3",
        "1--2",
        "+1",
        "1-+2",
        " 1",
        "1 ",
        "1\n",
        "1.5",
        "1_000",
        "0x10",
        "9999999999999999999",  # beyond BIGINT
        f"{MAX_BIGINT + 1}",
        f"0-{MAX_BIGINT + 1}",
        f"{MAX_BIGINT + 1}-0",
        "\u0661\u0662",  # "١٢", Arabic-Indic digits: isdigit() says yes, int() would accept them
        "1-\u0661\u0662",
        "\u0661-2",
        "\u00b2",  # superscript two: isdigit() but not int()-able
        "\uff11\uff12",  # fullwidth digits, which int() accepts
    ],
)
def test_parse_refuses_anything_but_digits_dash_digits(text):
    with pytest.raises(InputRejected) as caught:
        FeedCursor.parse(text)
    error = caught.value
    assert error.status_code == 422
    assert error.error_code == "INVALID_CURSOR"
    assert [(e.field, e.code) for e in error.errors] == [("since", "INVALID_CURSOR")]


@pytest.mark.parametrize(
    "cursor",
    [
        FeedCursor(0, 0),
        FeedCursor(0, 17),
        FeedCursor(12, 34),
        FeedCursor(4_294_967_296, 1),
        FeedCursor(MAX_BIGINT, MAX_BIGINT),
    ],
)
def test_str_round_trips(cursor):
    assert str(cursor) == f"{cursor.xid}-{cursor.seq}"
    assert FeedCursor.parse(str(cursor)) == cursor


def test_cursors_order_by_xid_then_seq():
    assert FeedCursor(0, 999) < FeedCursor(1, 0) < FeedCursor(1, 1) < FeedCursor(2, 0)
