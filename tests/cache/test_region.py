"""The cache policy on both backends: seed bugs, the commit race, stampede control, limits."""

from __future__ import annotations

import threading
import types
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from turbina.cache.backends.base import CacheBackend
from turbina.cache.backends.memory import MemoryBackend
from turbina.cache.region import TurbinaCache
from turbina.errors import TurbinaError

from .models import Nota, make_db, total

CONTEXTS = {
    "entregas": 60,
    "faturamento": 60,
    "embarques": 60,
    "dashboards": 60,
    "user_context": 60,
}


def counters(cache: TurbinaCache, context: str) -> dict[str, Any]:
    return cache.stats()["contexts"][context]  # type: ignore[no-any-return]


def test_seed_bug_empty_and_falsy_values_are_cached(backend: CacheBackend) -> None:
    cache = TurbinaCache(backend, CONTEXTS)
    calls: list[Any] = []

    for value in ([], 0, None, "", {}, False):

        @cache.cached("entregas", depends_on=[])
        def falsy(tag: str, value: Any = value) -> Any:
            calls.append(value)
            return value

        assert falsy(repr(value)) == value
        assert falsy(repr(value)) == value
    assert len(calls) == 6
    assert counters(cache, "entregas")["hits"] == 6


def test_seed_bug_datetime_and_decimal_types_identical_on_hit_and_miss(
    backend: CacheBackend,
) -> None:
    cache = TurbinaCache(backend, CONTEXTS)

    @cache.cached("faturamento", depends_on=[])
    def report() -> dict[str, Any]:
        return {"when": datetime(2024, 3, 1, 8, 0), "total": Decimal("99.90"), "pair": (1, 2)}

    miss, hit = report(), report()
    assert counters(cache, "faturamento")["hits"] == 1
    assert miss == hit
    assert {k: type(v) for k, v in miss.items()} == {k: type(v) for k, v in hit.items()}
    assert type(hit["total"]) is Decimal and type(hit["when"]) is datetime


def test_seed_bug_two_functions_with_one_name_do_not_share_entries(backend: CacheBackend) -> None:
    cache = TurbinaCache(backend, CONTEXTS)
    funcs = []
    for module_name, result in (("app.a", "from a"), ("app.b", "from b")):
        module = types.ModuleType(module_name)
        exec(f"def carregar(x):\n    return {result!r}\n", module.__dict__)
        funcs.append(cache.cached("entregas", depends_on=[])(module.carregar))
    assert [f(1) for f in funcs] == ["from a", "from b"]
    assert [f(1) for f in funcs] == ["from a", "from b"]


def test_seed_bug_methods_hit_across_instances(backend: CacheBackend) -> None:
    cache = TurbinaCache(backend, CONTEXTS)
    calls: list[int] = []

    class Integration:
        @cache.cached("embarques", depends_on=[])
        def carregar(self, dias: int) -> list[int]:
            calls.append(dias)
            return [dias]

    assert Integration().carregar(7) == Integration().carregar(7) == [7]
    assert calls == [7]


@pytest.mark.parametrize("declared", [True, False], ids=["depends_on", "recorded"])
def test_commit_between_stamp_read_and_write_leaves_no_stale_entry(
    backend: CacheBackend, sqlite_url: str, declared: bool
) -> None:
    engine, factory = make_db(sqlite_url)
    cache = TurbinaCache(backend, CONTEXTS)
    cache.track_session_writes(engine)
    inject_on = 1 if declared else 2  # a recorded function stores nothing on its first miss
    computed: list[Decimal] = []

    def soma(cliente_id: int) -> Decimal:
        value = total(factory, cliente_id)  # reads the data as it is before the commit
        if len(computed) + 1 == inject_on:
            # Deterministically, after this computation read its stamps and its data and
            # before it writes: another transaction commits a new nota.
            with factory() as session:
                session.add(Nota(cliente_id=cliente_id, valor=Decimal("1.00")))
                session.commit()
        computed.append(value)
        return value

    cached_soma = cache.cached("faturamento", depends_on=[Nota] if declared else None)(soma)
    if not declared:
        assert cached_soma(1) == Decimal("15.75")  # learns its tables
    assert cached_soma(1) == Decimal("15.75")  # computed before the commit: not stored
    assert cached_soma(1) == Decimal("16.75")
    assert cached_soma(1) == Decimal("16.75")
    assert len(computed) == inject_on + 1
    assert counters(cache, "faturamento")["stale_prevented"] >= 1
    engine.dispose()


def test_concurrent_misses_compute_once(backend: CacheBackend) -> None:
    cache = TurbinaCache(backend, CONTEXTS)
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []
    results: list[Any] = []

    @cache.cached("dashboards", depends_on=[])
    def painel() -> list[int]:
        calls.append(1)
        started.set()
        release.wait(10)
        return [1, 2]

    first = threading.Thread(target=lambda: results.append(painel()))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=lambda: results.append(painel()))
    second.start()
    while counters(cache, "dashboards")["lock_waits"] == 0:
        threading.Event().wait(0.005)
    release.set()
    first.join(10)
    second.join(10)
    assert results == [[1, 2], [1, 2]]
    assert len(calls) == 1


def test_waiter_computes_after_the_lock_timeout(backend: CacheBackend) -> None:
    cache = TurbinaCache(backend, CONTEXTS, lock_timeout_ms=50)
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    @cache.cached("dashboards", depends_on=[])
    def painel() -> str:
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            started.set()
            release.wait(10)
        return "ok"

    holder = threading.Thread(target=painel, name="holder")
    holder.start()
    assert started.wait(10)
    assert painel() == "ok"  # the holder is stuck: the waiter gives up and computes
    release.set()
    holder.join(10)
    assert len(calls) == 2


def test_oversize_values_are_not_cached_and_counted() -> None:
    cache = TurbinaCache(MemoryBackend(), CONTEXTS, max_value_bytes=100)
    calls: list[int] = []

    @cache.cached("entregas", depends_on=[])
    def big() -> str:
        calls.append(1)
        return "x" * 500

    assert big() == big()
    assert len(calls) == 2
    assert counters(cache, "entregas")["not_stored_oversize"] == 2


def test_uncacheable_value_is_returned_and_counted_as_error() -> None:
    cache = TurbinaCache(MemoryBackend(), CONTEXTS)
    marker = object()

    @cache.cached("entregas", depends_on=[])
    def weird() -> object:
        return marker

    assert weird() is marker
    assert weird() is marker
    assert counters(cache, "entregas")["errors"] == 2
    assert counters(cache, "entregas")["not_stored_encode"] == 2


def test_invalidate_context(backend: CacheBackend) -> None:
    cache = TurbinaCache(backend, CONTEXTS)
    calls: list[int] = []

    @cache.cached("user_context", depends_on=[])
    def perfil(user_id: int) -> dict[str, int]:
        calls.append(user_id)
        return {"id": user_id}

    perfil(1)
    perfil(1)
    assert cache.invalidate("user_context")
    perfil(1)
    assert calls == [1, 1]


def test_undeclared_context_needs_a_ttl_and_bad_names_are_refused() -> None:
    cache = TurbinaCache(MemoryBackend())

    @cache.cached("relatorios", ttl=42, depends_on=[])
    def relatorio() -> int:
        return 1

    assert relatorio() == 1
    assert cache.stats()["contexts"]["relatorios"]["ttl_s"] == 42
    with pytest.raises(TurbinaError, match="context name"):
        cache.cached("bad name")


def test_memory_backend_is_bounded_by_bytes() -> None:
    store = MemoryBackend(max_bytes=5000)
    cache = TurbinaCache(store, CONTEXTS)

    @cache.cached("entregas", depends_on=[])
    def page(n: int) -> str:
        return "y" * 1000

    for n in range(20):
        page(n)
    assert store.used_bytes <= 5000
    page(19)
    assert counters(cache, "entregas")["hits"] == 1  # most recent kept, oldest evicted
    page(0)
    assert counters(cache, "entregas")["hits"] == 1
