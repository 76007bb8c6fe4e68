"""How big a PostgreSQL btree index will be, from the table's statistics, without building it.

HypoPG's own estimate ignores deduplication and INCLUDE/alignment details and runs ~50 %
high for composite and INCLUDE indexes, so a budget computed from it rejects indexes that
would fit. This model follows the on-disk format instead:

- a leaf tuple is an 8-byte ``IndexTupleData`` header (16 when a key is NULL: the null
  bitmap), the key (and INCLUDE) values aligned by type, padded to 8 bytes, plus a 4-byte
  line pointer; values weigh ``pg_stats.avg_width`` times the non-null share;
- ``CREATE INDEX`` fills leaf pages to 90 % (8,152 usable bytes of 8,192);
- deduplication (PostgreSQL 13+; not for unique, INCLUDE, numeric, float or container
  keys): each repeated key is stored once, followed by a 6-byte pointer per row (a posting
  tuple holds at most 10 % of a page), so the leaf level weighs distinct × (tuple) + repeated
  rows × 6; the distinct keys are counted (on a 200,000-row sample of a bigger table, scaled
  with the larger of Duj1 and a Poisson model, and never below ``pg_stats.n_distinct``);
- a partial index holds the matching share of the rows; one internal tuple per leaf page,
  plus the metapage and the root.

``tests/indexes/test_sizes.py`` checks the model against real builds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from turbina.indexes.spec import IndexSpec

PAGE = 8192
LEAF_FILL = 0.90
USABLE = PAGE - 24 - 16  # page header, btree special space
TID = 6
LINE_POINTER = 4
MAX_POSTING = 812  # CREATE INDEX caps a posting tuple at 10 % of a page (nbtsort.c)
_NO_DEDUP_TYPES = frozenset(
    {"numeric", "float4", "float8", "jsonb", "json", "xml", "money", "interval", "point"}
)
_ALIGN = {"c": 1, "s": 2, "i": 4, "d": 8}
SAMPLE_ROWS = 200_000  # rows read to count the distinct keys of a composite index


@dataclass(frozen=True)
class ColumnFacts:
    """What the size model needs of one column (``pg_attribute`` + ``pg_stats``)."""

    length: int  # attlen: -1 for variable length
    align: int
    type_name: str
    width: float  # average stored width of a non-null value
    null_frac: float
    n_distinct: float  # pg_stats convention: negative = share of the rows


def _maxalign(n: float) -> int:
    return int(math.ceil(n / 8.0) * 8)


def _data_width(columns: list[ColumnFacts]) -> float:
    offset = 0.0
    for column in columns:
        align = column.align
        if column.length == -1 and column.width < 127:
            align = 1  # a short varlena (1-byte header) is stored unaligned
        offset = math.ceil(offset / align) * align + column.width * (1.0 - column.null_frac)
    return offset


def _distinct(columns: list[ColumnFacts], rows: float) -> float:
    product = 1.0
    for column in columns:
        n = -column.n_distinct * rows if column.n_distinct < 0 else max(column.n_distinct, 1.0)
        product *= max(n, 1.0) + (1.0 if column.null_frac > 0 else 0.0)
    return max(1.0, min(product, rows))


def duj1(sample_rows: float, sample_distinct: float, singletons: float, rows: float) -> float:
    """Haas and Stokes' Duj1 estimate of the distinct values of ``rows`` rows from a sample
    (the estimator PostgreSQL's ANALYZE uses): n·d / (n − f1 + f1·n/N)."""
    if sample_rows <= 0:
        return 1.0
    if sample_rows >= rows:
        return max(sample_distinct, 1.0)
    denominator = sample_rows - singletons + singletons * sample_rows / rows
    if denominator <= 0:
        return rows
    return max(1.0, min(rows, sample_rows * sample_distinct / denominator))


def poisson_keys(sample_rows: float, sample_distinct: float, share: float) -> tuple[float, float]:
    """(distinct keys, single-row keys) of a table from a Bernoulli sample of ``share`` of its
    rows, taking each key's row count as Poisson: the sample then holds Poisson(μ = λ·share)
    rows per key, and its rows per seen key, μ / (1 − e^−μ), gives μ."""
    if sample_distinct <= 0 or share <= 0:
        return 1.0, 0.0
    target = sample_rows / sample_distinct
    low, high = 1e-9, 1e6
    for _ in range(200):  # bisection: μ / (1 − e^−μ) grows with μ
        mid = (low + high) / 2
        if mid / -math.expm1(-mid) < target:
            low = mid
        else:
            high = mid
    mu = (low + high) / 2
    keys = sample_rows / mu  # every key, with or without a row in the sample
    rate = mu / share
    return keys * -math.expm1(-rate), keys * rate * math.exp(-rate)


def btree_bytes(
    rows: float,
    columns: list[ColumnFacts],
    include: list[ColumnFacts],
    unique: bool = False,
    keys: tuple[float, float] | None = None,
) -> int:
    """Estimated on-disk size of a btree over ``rows`` rows with these key/INCLUDE columns.
    ``keys`` = (distinct keys, keys of a single row) when counted; else from ``pg_stats``."""
    rows = max(rows, 0.0)
    everything = columns + include
    any_null = 1.0 - math.prod(1.0 - c.null_frac for c in everything)
    header = 8.0 + 8.0 * any_null
    key_tuple = _maxalign(header + _data_width(columns)) + LINE_POINTER
    plain = _maxalign(header + _data_width(everything)) + LINE_POINTER
    dedup = not unique and not include and not any(c.type_name in _NO_DEDUP_TYPES for c in columns)
    leaf_bytes = rows * plain
    if dedup and rows > 0:
        if keys is not None:
            distinct, singletons = min(max(keys[0], 1.0), rows), min(keys[1], rows)
        else:
            distinct = _distinct(columns, rows)
            # Without a count, about 2·distinct − rows keys have one row (when most keys
            # repeat at most twice), none when every key repeats.
            singletons = max(0.0, 2.0 * distinct - rows)
        per_value = rows / distinct
        postings = max(1, math.ceil((key_tuple + TID * per_value) / MAX_POSTING))
        repeated = max(distinct - singletons, 0.0)
        # A posting tuple is MAXALIGNed after its pointers: ~4 bytes of padding on average.
        deduplicated = distinct * postings * key_tuple + repeated * 4 + (rows - singletons) * TID
        leaf_bytes = min(leaf_bytes, deduplicated)
    leaf_pages = math.ceil(leaf_bytes / (USABLE * LEAF_FILL)) if rows else 1
    internal = math.ceil(leaf_pages * key_tuple / (USABLE * 0.7)) if leaf_pages > 1 else 0
    return int((1 + leaf_pages + internal) * PAGE)


class PostgresSizer:
    """Index sizes for one database from its catalog and statistics (cached per table).

    ``run`` executes SQL on the advisor's connection; ``fraction`` gives the share of a table's
    rows matching a partial predicate."""

    def __init__(
        self,
        run: Callable[[str, Any], list[Any]],
        fraction: Callable[[str, str], float],
    ) -> None:
        self._run = run
        self._fraction = fraction
        self._columns: dict[str, dict[str, ColumnFacts]] = {}
        self._rows: dict[str, float] = {}
        self._keys: dict[tuple[str, tuple[str, ...], str | None], tuple[float, float]] = {}

    def rows(self, table: str) -> float:
        if table not in self._rows:
            found = self._run(
                "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = to_regclass(%s)", (table,)
            )
            self._rows[table] = float(found[0][0]) if found else 0.0
        return self._rows[table]

    def columns(self, table: str) -> dict[str, ColumnFacts]:
        if table not in self._columns:
            found = self._run(
                "SELECT a.attname, a.attlen, a.attalign, t.typname, "
                "coalesce(s.avg_width, CASE WHEN a.attlen > 0 THEN a.attlen ELSE 32 END), "
                "coalesce(s.null_frac, 0), coalesce(s.n_distinct, -1) "
                "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                "LEFT JOIN pg_stats s ON s.schemaname = current_schema() AND s.tablename = %s "
                "AND s.attname = a.attname "
                "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
                (table, table),
            )
            self._columns[table] = {
                name: ColumnFacts(
                    int(length),
                    _ALIGN.get(str(align), 4),
                    str(type_name),
                    float(width),
                    float(null_frac),
                    float(n_distinct),
                )
                for name, length, align, type_name, width, null_frac, n_distinct in found
            }
        return self._columns[table]

    def keys(self, table: str, columns: tuple[str, ...], where: str | None) -> tuple[float, float]:
        """(distinct keys, keys held by a single row) of an index: counted on all rows of a
        table up to ``SAMPLE_ROWS`` rows, else on a Bernoulli sample of that size, scaled with
        Duj1 or the Poisson model (``poisson_keys``), whichever counts more. Multiplying the
        columns' own ``n_distinct`` would ignore how correlated and skewed they are."""
        key = (table, columns, where)
        if key not in self._keys:
            rows = self.rows(table)
            share = min(100.0, 100.0 * SAMPLE_ROWS / rows) if rows > 0 else 100.0
            sample = f"TABLESAMPLE BERNOULLI ({share:.6f}) REPEATABLE (42)" if share < 100 else ""
            cols = ", ".join(f'"{c}"' for c in columns)
            filt = f"WHERE {where}" if where else ""
            found = self._run(
                "SELECT count(*), count(*) FILTER (WHERE n = 1), coalesce(sum(n), 0) FROM "
                f'(SELECT count(*) AS n FROM "{table}" {sample} {filt} GROUP BY {cols}) g',
                None,
            )
            distinct, singletons, sampled = (float(x) for x in found[0])
            if share < 100 and sampled > 0:
                matching = sampled * 100.0 / share
                poisson, lonely = poisson_keys(sampled, distinct, share / 100.0)
                # Duj1 suits skewed keys, the Poisson model evenly spread ones (a foreign key
                # filled at random); both undercount, and too few keys means too small an
                # index, a budget overrun: take the larger.
                distinct = min(
                    matching, max(duj1(sampled, distinct, singletons, matching), poisson)
                )
                singletons = min(distinct, lonely)
            self._keys[key] = (distinct, singletons)
        return self._keys[key]

    def size(self, spec: IndexSpec) -> int:
        """Estimated bytes of ``spec`` once built."""
        facts = self.columns(spec.table)
        unknown = ColumnFacts(-1, 4, "text", 16.0, 0.0, -1.0)
        rows = self.rows(spec.table)
        if spec.where:
            rows *= self._fraction(spec.table, spec.where)
        keys = None
        if not spec.unique and not spec.include:
            if len(spec.columns) > 1 or spec.where:
                keys = self.keys(spec.table, spec.columns, spec.where)
            else:
                # pg_stats' n_distinct (from a 30,000-row sample) undercounts an evenly spread
                # key of a big table; a larger sample with the Poisson model does better.
                column = facts.get(spec.columns[0], unknown)
                stats = _distinct([column], rows)
                counted = self.keys(spec.table, spec.columns, None)
                keys = counted if counted[0] >= stats else (stats, max(0.0, 2.0 * stats - rows))
        return btree_bytes(
            rows,
            [facts.get(c, unknown) for c in spec.columns],
            [facts.get(c, unknown) for c in spec.include],
            spec.unique,
            keys,
        )
