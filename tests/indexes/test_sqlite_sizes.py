"""SQLite index sizes from the record format, checked against real builds (page counts)."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import sqlalchemy as sa

from turbina.indexes.ddl import create_sql
from turbina.indexes.spec import IndexSpec
from turbina.indexes.sqlite_whatif import SQLiteHypotheticalBackend, btree_pages

SHAPES = [
    IndexSpec("items", ("small",)),  # 1-byte integers and the 0/1 values stored in no bytes
    IndexSpec("items", ("big",)),  # 4-, 6- and 8-byte integers
    IndexSpec("items", ("name",)),  # text of varying length, some NULL
    IndexSpec("items", ("price",)),  # reals
    IndexSpec("items", ("small", "name", "big")),  # composite
    IndexSpec("items", ("name",), where="small = 1"),  # partial
    IndexSpec("items", ("small",), include=("name",)),  # SQLite has no INCLUDE: key only
    IndexSpec("items", ("note",)),  # long text: cells of more than 127 bytes
]


def _database(path: Path, rows: int = 30_000) -> None:
    rng = random.Random(5)
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, small INTEGER, big INTEGER, name TEXT, "
        "price REAL, note TEXT)"
    )
    con.executemany(
        "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                i,
                rng.choice([0, 1, 2, 7, 100]),
                rng.choice([40_000, 3_000_000_000, 2**50, -(2**40)]) + i,
                None if i % 13 == 0 else "n" * rng.randint(1, 40),
                rng.random() * 1000,
                "x" * rng.randint(100, 300),
            )
            for i in range(1, rows + 1)
        ],
    )
    con.commit()
    con.close()


def _built_bytes(path: Path, spec: IndexSpec) -> int:
    con = sqlite3.connect(path, isolation_level=None)
    try:
        (page_size,) = con.execute("PRAGMA page_size").fetchone()
        (before,) = con.execute("PRAGMA page_count").fetchone()
        con.execute(create_sql(spec, "sqlite"))
        (after,) = con.execute("PRAGMA page_count").fetchone()
        con.execute(f'DROP INDEX "{spec.name}"')
        con.execute("VACUUM")
        return int((after - before) * page_size)
    finally:
        con.close()


def test_estimated_sizes_match_real_builds(tmp_path: Path) -> None:
    path = tmp_path / "items.db"
    _database(path)
    engine = sa.create_engine(f"sqlite:///{path}")
    backend = SQLiteHypotheticalBackend(engine)
    try:
        _costs, estimated = backend.costs(SHAPES, [])
    finally:
        backend.close()
        engine.dispose()
    for spec in SHAPES:
        real = _built_bytes(path, spec)
        assert real > 0, spec
        # Exact in most shapes; a page or two of slack where SQLite splits interior pages.
        assert abs(estimated[spec] - real) <= max(0.02 * real, 2 * 4096), (
            spec.describe(),
            estimated[spec],
            real,
        )


def test_btree_pages_counts_interior_levels() -> None:
    assert btree_pages(0, 0, 4096) == 1
    assert btree_pages(100, 10, 4096) == 1  # one leaf, no interior page
    # 408,800 cells of 10 bytes: 1,001 dividers move up, leaving 999 leaves; the dividers
    # (14 bytes with the child pointer) fill 4 interior pages, under one root.
    assert btree_pages(4_088_000, 408_800, 4096) == 999 + 4 + 1
