"""Signed page cursors of GET /tasklogs/ (app/tasklogs/cursors.py) and the
LIKE escaping of its `q` filter, without a database."""

import pytest

from app.core.errors import InputRejected
from app.core.settings import Settings
from app.tasklogs.cursors import cursor_key, decode_cursor, encode_cursor, query_scope
from app.tasklogs.repository import _like_pattern

KEY = cursor_key(Settings(database_url="postgresql+asyncpg://x@h/db", jwt_secret="s" * 40))


def test_a_cursor_gives_back_its_position_for_the_same_query():
    scope = query_scope(employee_ids=[10], start=None)
    assert decode_cursor(KEY, scope, encode_cursor(KEY, scope, [1727769600, 41])) == [1727769600, 41]


def test_the_scope_does_not_depend_on_the_order_of_the_filters():
    assert query_scope(a=1, b=[2]) == query_scope(b=[2], a=1)
    assert query_scope(a=1) != query_scope(a=2)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),  # the signature
        lambda c: ("B" if c[0] != "B" else "C") + c[1:],  # the payload
        lambda c: c.replace(".", ""),
        lambda c: "",
        lambda c: c + "." + c,
    ],
)
def test_an_altered_cursor_is_refused(mangle):
    scope = query_scope(q=None)
    cursor = encode_cursor(KEY, scope, [1, 2])
    with pytest.raises(InputRejected) as refused:
        decode_cursor(KEY, scope, mangle(cursor))
    assert refused.value.error_code == "INVALID_CURSOR"


def test_a_cursor_of_other_filters_or_another_key_is_refused():
    cursor = encode_cursor(KEY, query_scope(task_ids=[250]), [1, 2])
    with pytest.raises(InputRejected):
        decode_cursor(KEY, query_scope(task_ids=[251]), cursor)
    other = cursor_key(Settings(database_url="postgresql+asyncpg://x@h/db", jwt_secret="t" * 40))
    with pytest.raises(InputRejected):
        decode_cursor(other, query_scope(task_ids=[250]), cursor)


def test_the_key_without_a_secret_is_derived_from_the_public_key_and_the_database():
    a = cursor_key(Settings(database_url="postgresql+asyncpg://x@h/a", jwt_public_key="PEM"))
    b = cursor_key(Settings(database_url="postgresql+asyncpg://x@h/b", jwt_public_key="PEM"))
    assert a != b and a == cursor_key(Settings(database_url="postgresql+asyncpg://x@h/a", jwt_public_key="PEM"))


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("review", "%review%"),
        ("100%", "%100\\%%"),
        ("a_b", "%a\\_b%"),
        ("back\\slash", "%back\\\\slash%"),
    ],
)
def test_like_wildcards_in_the_text_are_escaped(text, pattern):
    assert _like_pattern(text) == pattern
