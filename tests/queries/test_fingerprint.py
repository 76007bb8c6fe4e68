"""Fingerprint rules: equal shapes collide, different shapes don't."""

from __future__ import annotations

import pytest

from turbina.queries.fingerprint import FingerprintCache, fingerprint, split_tags

SAME = [
    # placeholder styles
    ("SELECT * FROM t WHERE id = ?", "SELECT * FROM t WHERE id = %s"),
    ("SELECT * FROM t WHERE id = ?", "SELECT * FROM t WHERE id = %(id_1)s"),
    ("SELECT * FROM t WHERE id = ?", "SELECT * FROM t WHERE id = :id"),
    ("SELECT * FROM t WHERE id = ?", "SELECT * FROM t WHERE id = $1"),
    # literals
    ("SELECT * FROM t WHERE id = 42", "SELECT * FROM t WHERE id = 7"),
    ("SELECT * FROM t WHERE n = 'ana'", "SELECT * FROM t WHERE n = 'o''brien'"),
    ("SELECT * FROM t WHERE n = $$x$$", "SELECT * FROM t WHERE n = $tag$y$tag$"),
    ("SELECT * FROM t WHERE x = 1.5e3", "SELECT * FROM t WHERE x = .25"),
    # whitespace and keyword case
    ("select a,b from t where id=?", "SELECT  a ,  b\n FROM t\tWHERE id = ?"),
    # comments
    ("SELECT a FROM t -- trailing\n", "SELECT /* inline */ a FROM t"),
    ("SELECT a FROM t", "SELECT a FROM t /*controller='x',route='%2Fy'*/"),
    # IN lists, VALUES, ARRAY
    ("SELECT a FROM t WHERE id IN (1, 2, 3)", "SELECT a FROM t WHERE id IN (?)"),
    (
        "SELECT a FROM t WHERE id IN (%(id_1_1)s::INTEGER, %(id_1_2)s::INTEGER)",
        "SELECT a FROM t WHERE id IN (%(id_1_1)s::INTEGER)",
    ),
    ("INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?)", "INSERT INTO t (a, b) VALUES (1, 'x')"),
    ("SELECT ARRAY[1, 2, 3]", "SELECT ARRAY[4]"),
    (
        "SELECT a FROM t WHERE (a, b) IN ((1, 2), (3, 4))",
        "SELECT a FROM t WHERE (a, b) IN ((5, 6))",
    ),
    # casts are not placeholders; driver casts on placeholders are dropped
    ("SELECT * FROM t WHERE id = %(id_1)s::INTEGER", "SELECT * FROM t WHERE id = ?"),
    ("SELECT * FROM t WHERE d < %(d)s::TIMESTAMP WITHOUT TIME ZONE", "SELECT * FROM t WHERE d < ?"),
    ("SELECT * FROM t WHERE v = %(v)s::NUMERIC(15, 2)", "SELECT * FROM t WHERE v = :v"),
    ("SELECT x::int FROM t", "SELECT x :: int FROM t"),
    (
        "SELECT a FROM t WHERE id IN (%(id_1_1)s::INTEGER, %(id_1_2)s::INTEGER)",
        "SELECT a FROM t WHERE id IN (?)",
    ),
]

DIFFERENT = [
    ("SELECT a FROM t WHERE id IN (?)", "SELECT a FROM t WHERE id IN (SELECT id FROM u)"),
    ('SELECT "Name" FROM t', "SELECT name FROM t"),
    ("SELECT col1 FROM table1", "SELECT col2 FROM table1"),
    ("SELECT col1 FROM table1", "SELECT col1 FROM table2"),
    ("SELECT a FROM t WHERE id = ?", "SELECT a FROM t WHERE id > ?"),
    ("SELECT x::int FROM t", "SELECT x FROM t"),
    ("SELECT a FROM t WHERE x = 'a' AND y = ?", "SELECT a FROM t WHERE x = ?"),
]


@pytest.mark.parametrize(("left", "right"), SAME)
def test_same_shape_same_fingerprint(left: str, right: str) -> None:
    assert fingerprint(split_tags(left)[0]) == fingerprint(split_tags(right)[0])


@pytest.mark.parametrize(("left", "right"), DIFFERENT)
def test_different_shape_different_fingerprint(left: str, right: str) -> None:
    assert fingerprint(left) != fingerprint(right)


def test_exact_output() -> None:
    sql = 'SELECT "Users".id, t2.col3 FROM "Users" JOIN t2 ON t2.uid = "Users".id WHERE t2.email = \'a@b.c\' AND x IN (1,2)'
    assert fingerprint(sql) == (
        'select "Users".id, t2.col3 from "Users" join t2 on t2.uid = "Users".id where t2.email = ? and x in (?)'
    )


def test_digits_in_identifiers_kept() -> None:
    assert fingerprint("SELECT c1, t_2.x9 FROM t_2") == "select c1, t_2.x9 from t_2"


def test_sqlcommenter_tags_kept_as_fields() -> None:
    statement, tags = split_tags("SELECT 1 /*controller='index',framework='flask%3A3.1'*/")
    assert statement == "SELECT 1"
    assert tags == {"controller": "index", "framework": "flask:3.1"}
    assert split_tags("SELECT 1 /* plain comment */") == ("SELECT 1 /* plain comment */", {})


def test_cache_is_bounded_lru_and_skips_turbina_sql() -> None:
    cache = FingerprintCache(3)
    for i in range(10):
        cache.get(f"SELECT c{i} FROM t")
    assert len(cache) == 3
    cache.get("SELECT c7 FROM t")  # hit: becomes most recent
    cache.get("SELECT new FROM t")
    assert cache.get("SELECT c7 FROM t") == "select c7 from t"
    assert cache.hits == 2
    assert cache.get("/* turbina */ EXPLAIN SELECT 1") is None
