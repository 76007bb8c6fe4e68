"""Candidate indexes: which columns each statement filters, joins, sorts and groups on.

Statements are parsed with sqlglot in the database's dialect. For every table a statement
touches we record a ``TableUsage`` (equality/IN/join-key columns, range columns, ORDER BY and
GROUP BY columns, constant predicates usable as partial-index predicates, and the columns the
statement reads). ``CandidateSpace`` turns the usages into the moves the advisor may take.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from turbina.indexes.spec import IndexSpec, sqlglot_dialect

MAX_INCLUDE_COLUMNS = 3
PARTIAL_MAX_FRACTION = 0.3
MAX_VOCABULARY = 20
_VALUE_TYPES = (exp.Placeholder, exp.Parameter, exp.Literal, exp.Boolean, exp.Null)


@dataclass(frozen=True)
class ConstantPredicate:
    """A predicate with a literal value (``entregue = false``): a partial-index candidate."""

    column: str
    sql: str
    vocabulary: bool = False  # a quoted word: only a partial predicate on a low-cardinality column


@dataclass
class TableUsage:
    """What one statement does with one table."""

    table: str
    equality: list[str] = field(default_factory=list)
    range: list[str] = field(default_factory=list)
    sort: list[str] = field(default_factory=list)
    group: list[str] = field(default_factory=list)
    constants: list[ConstantPredicate] = field(default_factory=list)
    referenced: set[str] = field(default_factory=set)
    star: bool = False

    def indexable(self) -> list[str]:
        return _dedup([*self.equality, *self.range, *self.sort, *self.group])

    def _add(self, bucket: list[str], column: str) -> None:
        if column not in bucket:
            bucket.append(column)


def _dedup(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _is_value(node: exp.Expr) -> bool:
    if isinstance(node, _VALUE_TYPES):
        return True
    if isinstance(node, exp.Cast | exp.Neg | exp.Paren):
        return _is_value(node.this)
    if isinstance(node, exp.Tuple):
        return all(_is_value(e) for e in node.expressions)
    # A function of no columns (now(), :param + 1) is a value for the planner.
    return not isinstance(node, exp.Column) and not any(node.find_all(exp.Column, exp.Select))


def _is_shape_constant(node: exp.Expr) -> bool:
    # NULL, TRUE and FALSE are keywords of the statement's text: the recorder's fingerprints and
    # pg_stat_statements keep them, so every call of the statement has them. A quoted word or a
    # number is one call's value (a fingerprint turns it into ``?``): not evidence by itself.
    if isinstance(node, exp.Cast):
        node = node.this
    return isinstance(node, exp.Boolean | exp.Null)


def _literal(value: Any) -> exp.Expr | None:
    """A SQL literal for a sample parameter value (None when it has no plain literal)."""
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return exp.Literal.number(value)
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, date):
        return exp.Literal.string(value.isoformat())
    return None


class _Resolver:
    """Maps a column reference to (table, column) using aliases and the optional schema."""

    def __init__(self, tree: exp.Expr, schema: Mapping[str, set[str]]) -> None:
        self.schema = schema
        self.aliases: dict[str, str] = {}
        for table in tree.find_all(exp.Table):
            if table.name:
                self.aliases[table.alias_or_name] = table.name
                self.aliases.setdefault(table.name, table.name)

    def scope_tables(self, select: exp.Select) -> list[str]:
        tables = []
        from_ = select.args.get("from_") or select.args.get("from")
        sources = [from_.this] if from_ is not None else []
        sources += [join.this for join in select.args.get("joins") or []]
        for source in sources:
            if isinstance(source, exp.Table) and source.name:
                tables.append(source.name)
        return tables

    def resolve(self, column: exp.Column, scope: list[str]) -> tuple[str, str] | None:
        name = column.name
        if not name:
            return None
        if column.table:
            table = self.aliases.get(column.table)
            return (table, name) if table else None
        owners = [t for t in scope if name in self.schema.get(t, ())]
        if len(owners) == 1:
            return owners[0], name
        if len(scope) == 1 and not self.schema.get(scope[0]):
            return scope[0], name
        return None


@dataclass
class _Scope:
    """What one statement's analysis needs at every node."""

    resolver: _Resolver
    usage: Callable[[str], TableUsage]
    dialect: str
    constant: Collection[str]
    params: Any
    positions: dict[int, int]

    def value_of(self, node: exp.Expr, evidence: bool = False) -> exp.Expr | None:
        """The sample value of a placeholder, as a literal, when the evidence (its key among
        ``constant``, or ``evidence`` given for its column) says it is the same on every call."""
        if isinstance(node, exp.Cast):
            node = node.this
        if not isinstance(node, exp.Placeholder) or self.params is None:
            return None
        name = node.this
        if isinstance(name, exp.Expression):  # Expr only exists from sqlglot 30
            name = name.name
        key: str | int = str(name) if name else self.positions.get(id(node), -1)
        if not evidence and str(key) not in self.constant:
            return None
        try:
            value = self.params[key]
        except (KeyError, IndexError, TypeError):
            return None
        return _literal(value)


def analyze(
    sql: str,
    dialect: str,
    schema: Mapping[str, set[str]] | None = None,
    constant: Collection[str] = (),
    params: Any = None,
) -> list[TableUsage]:
    """Per-table usage of one SELECT statement; ``[]`` when it is not a parsable SELECT."""
    return analyze_statement(sql, dialect, schema, constant, params)[0]


def analyze_statement(
    sql: str,
    dialect: str,
    schema: Mapping[str, set[str]] | None = None,
    constant: Collection[str] = (),
    params: Any = None,
) -> tuple[list[TableUsage], str | None]:
    """(usages, why the statement cannot be used). ``constant`` names the columns — or
    placeholder keys, whose value is then read from ``params`` — that are the same on every
    call of the statement: the evidence a quoted value needs to become a partial predicate."""
    name = sqlglot_dialect(dialect)
    try:
        tree = sqlglot.parse_one(sql, read=name)
    except SqlglotError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        return [], f"does not parse as {name} SQL: {first[:120]}"
    if tree is None or not tree.find(exp.Select):
        return [], "not a SELECT"
    if isinstance(tree, exp.Insert | exp.Update | exp.Delete | exp.Create | exp.Drop):
        return [], "not a SELECT"
    resolver = _Resolver(tree, schema or {})
    usages: dict[str, TableUsage] = {}

    def usage(table: str) -> TableUsage:
        return usages.setdefault(table, TableUsage(table))

    positional = [p for p in tree.find_all(exp.Placeholder, bfs=False) if not p.this]
    positions = {id(p): i for i, p in enumerate(positional)}
    scope = _Scope(resolver, usage, name, frozenset(constant), params, positions)
    for select in tree.find_all(exp.Select):
        tables = resolver.scope_tables(select) or list(resolver.aliases.values())
        _collect_select(select, tables, scope)
    if schema is not None:
        unknown = sorted({t for t in resolver.aliases.values() if t not in schema} - _ctes(tree))
        if unknown:
            return [], f"unknown table(s): {', '.join(unknown)}"
    kept = [u for u in usages.values() if u.table in (schema or {u.table: set()})]
    if not kept:
        return [], "reads no table of the database"
    return kept, None


def _ctes(tree: exp.Expr) -> set[str]:
    return {cte.alias_or_name for cte in tree.find_all(exp.CTE)}


def _collect_select(select: exp.Select, tables: list[str], scope: _Scope) -> None:
    resolver, usage = scope.resolver, scope.usage
    for table in tables:
        usage(table)
    conditions: list[tuple[exp.Expr, bool]] = []
    where = select.args.get("where")
    if where is not None:
        conditions.append((where.this, True))
    for join in select.args.get("joins") or []:
        if join.args.get("on") is not None:
            conditions.append((join.args["on"], False))
    for condition, top_level in conditions:
        for conjunct in condition.flatten() if isinstance(condition, exp.And) else [condition]:
            _classify(conjunct, tables, scope, constant_ok=top_level)
    order = select.args.get("order")
    if order is not None:
        for item in order.expressions:
            node = item.this if isinstance(item, exp.Ordered) else item
            if isinstance(node, exp.Column) and (hit := resolver.resolve(node, tables)):
                u = usage(hit[0])
                u._add(u.sort, hit[1])
    group = select.args.get("group")
    if group is not None:
        for node in group.expressions:
            if isinstance(node, exp.Column) and (hit := resolver.resolve(node, tables)):
                u = usage(hit[0])
                u._add(u.group, hit[1])
    for node in select.expressions:
        if isinstance(node, exp.Star) or (
            isinstance(node, exp.Column) and isinstance(node.this, exp.Star)
        ):
            for table in tables:
                usage(table).star = True
    for column in select.find_all(exp.Column):
        if column.find_ancestor(exp.Select) is select and (hit := resolver.resolve(column, tables)):
            usage(hit[0]).referenced.add(hit[1])


def _classify(node: exp.Expr, tables: list[str], scope: _Scope, constant_ok: bool) -> None:
    if isinstance(node, exp.Paren):
        _classify(node.this, tables, scope, constant_ok)
        return
    if isinstance(node, exp.Or):
        for part in node.flatten():
            _classify(part, tables, scope, False)
        return
    left = node.this if isinstance(node, exp.Binary | exp.In | exp.Between | exp.Is) else None
    comparison = exp.EQ | exp.GT | exp.GTE | exp.LT | exp.LTE
    if (
        isinstance(node, comparison)
        and not isinstance(left, exp.Column)
        and isinstance(node.expression, exp.Column)
    ):
        # "%(param_1)s = child.parent_id" (how SQLAlchemy writes lazy loads): column first.
        node = node.__class__(this=node.expression, expression=node.this)
        left = node.this
    if not isinstance(left, exp.Column):
        return
    hit = scope.resolver.resolve(left, tables)
    if hit is None:
        return
    table, column = hit
    u = scope.usage(table)
    right = node.args.get("expression")
    if isinstance(node, exp.EQ) and isinstance(right, exp.Column):
        other = scope.resolver.resolve(right, tables)
        u._add(u.equality, column)
        if other is not None:
            o = scope.usage(other[0])
            o._add(o.equality, other[1])
        return
    if isinstance(node, exp.EQ | exp.In) and (right is None or _is_value(right)):
        if isinstance(node, exp.In) and node.args.get("query") is not None:
            return
        u._add(u.equality, column)
        if constant_ok and isinstance(node, exp.EQ) and right is not None:
            _constant(u, node, column, right, scope)
    elif isinstance(node, exp.Is):
        u._add(u.equality, column)
        if constant_ok and right is not None:
            _constant(u, node, column, right, scope)
    elif isinstance(node, exp.GT | exp.GTE | exp.LT | exp.LTE | exp.Between):
        if right is None or _is_value(right):
            u._add(u.range, column)
    elif (
        isinstance(node, exp.Like)
        and isinstance(right, exp.Literal)
        and not str(right.this).startswith("%")
    ):
        # Only a prefix pattern can use a btree; a parameter's pattern is unknown.
        u._add(u.range, column)


def _constant(u: TableUsage, node: exp.Expr, column: str, right: exp.Expr, scope: _Scope) -> None:
    """Record ``node`` as a partial-index candidate when the evidence says its value is the
    same on every call: a NULL/TRUE/FALSE keyword, or a column (or placeholder) the workload
    marks constant."""
    if _is_shape_constant(right):
        u.constants.append(ConstantPredicate(column, _unqualified_sql(node, scope.dialect)))
        return
    value = scope.value_of(right)
    if value is None and column in scope.constant:
        bare = right.this if isinstance(right, exp.Cast) else right
        value = right if isinstance(bare, exp.Literal) else scope.value_of(right, evidence=True)
    if value is None:
        return
    fixed = node.copy()
    fixed.set("expression", value.copy())
    bare = value.this if isinstance(value, exp.Cast) else value
    word = isinstance(bare, exp.Literal) and bare.is_string
    u.constants.append(ConstantPredicate(column, _unqualified_sql(fixed, scope.dialect), word))


def _unqualified_sql(node: exp.Expr, dialect: str) -> str:
    # An index predicate names the table's columns bare; the query's alias means nothing there.
    copy = node.copy()
    for column in copy.find_all(exp.Column):
        column.set("table", None)
    if isinstance(copy, exp.EQ) and isinstance(copy.expression, exp.Boolean):
        # PostgreSQL folds "b = false" to "NOT b"; HypoPG matches predicates without folding.
        column = copy.this
        return (column if copy.expression.this else exp.Not(this=column)).sql(dialect)
    return copy.sql(dialect)


class CandidateSpace:
    """The moves available to the advisor, built from the usages of a whole workload."""

    def __init__(
        self,
        usages: Iterable[TableUsage],
        existing: Iterable[IndexSpec] = (),
        supports_include: bool = False,
        fraction: Callable[[str, str], float] | None = None,
        distinct: Callable[[str, str], int] | None = None,
    ) -> None:
        self.usages = list(usages)
        self.existing = list(existing)
        self.supports_include = supports_include
        self._fraction = fraction
        self._distinct = distinct
        self._fractions: dict[tuple[str, str], float] = {}

    def covered(self, spec: IndexSpec) -> bool:
        """True when an existing index already serves ``spec`` (same or a longer prefix)."""
        return any(index.covers(spec) for index in self.existing)

    def _selective(self, table: str, predicate: ConstantPredicate) -> bool:
        # 'PAID' in orders.status is a state worth a partial index; 'Seller 01' in a
        # hand-written file only stands for "some seller": require a small vocabulary.
        if predicate.vocabulary and self._distinct is not None:
            key = (table, f"distinct:{predicate.column}")
            if key not in self._fractions:
                self._fractions[key] = float(self._distinct(table, predicate.column))
            if self._fractions[key] > MAX_VOCABULARY:
                return False
        if self._fraction is None:
            return True
        key = (table, predicate.sql)
        if key not in self._fractions:
            self._fractions[key] = self._fraction(table, predicate.sql)
        return self._fractions[key] <= PARTIAL_MAX_FRACTION

    def predicates(self, table: str, columns: tuple[str, ...] = ()) -> list[ConstantPredicate]:
        """Selective constant predicates seen together with ``columns`` on ``table``."""
        found: dict[str, ConstantPredicate] = {}
        for u in self.usages:
            if u.table != table or not set(columns) <= set(u.indexable()):
                continue
            for predicate in u.constants:
                if predicate.column not in columns and self._selective(table, predicate):
                    found.setdefault(predicate.sql, predicate)
        return list(found.values())

    def singles(self) -> list[IndexSpec]:
        """New single-column indexes (and their partial variants) not already covered."""
        specs: dict[IndexSpec, None] = {}
        for u in self.usages:
            for column in u.indexable():
                spec = IndexSpec(u.table, (column,))
                if not self.covered(spec):
                    specs[spec] = None
                for predicate in self.predicates(u.table, (column,)):
                    partial = spec.with_where(predicate.sql)
                    if not self.covered(partial):
                        specs[partial] = None
        return list(specs)

    def appendable(self, spec: IndexSpec) -> list[str]:
        """Columns that may follow ``spec``'s: equality first, then one range, then the sort."""
        found: list[str] = []
        for u in self.usages:
            if u.table != spec.table:
                continue
            cols = list(spec.columns)
            if set(cols) <= set(u.equality):
                found += [c for c in u.equality if c not in cols]
                found += [c for c in u.range if c not in cols]
                if not u.range:
                    found += [c for c in u.sort if c not in cols][:1]
                found += [c for c in u.group if c not in cols][:1]
            elif set(cols[:-1]) <= set(u.equality) and cols[-1] in u.sort:
                position = u.sort.index(cols[-1])
                found += [c for c in u.sort[position + 1 : position + 2] if c not in cols]
        if spec.where:  # a column the partial predicate pins adds nothing to the key
            pinned = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", spec.where))
            found = [c for c in found if c not in pinned]
        return _dedup(found)

    def variants(self, spec: IndexSpec) -> list[IndexSpec]:
        """Partial and INCLUDE variants of a chosen index."""
        out: list[IndexSpec] = []
        if spec.where is None:
            out += [spec.with_where(p.sql) for p in self.predicates(spec.table, spec.columns)]
        if self.supports_include and not spec.include:
            for u in self.usages:
                if u.table != spec.table or u.star or not set(spec.columns) <= u.referenced:
                    continue
                extra = u.referenced - set(spec.columns)
                if 0 < len(extra) <= MAX_INCLUDE_COLUMNS:
                    out.append(spec.with_include(extra))
        return [v for v in _dedup_specs(out) if v != spec and not self.covered(v)]


def _dedup_specs(specs: Iterable[IndexSpec]) -> list[IndexSpec]:
    return list(dict.fromkeys(specs))
