"""One suite, every backend: stamps, compare-and-set, locks, counters."""

from __future__ import annotations

from turbina.cache.backends.base import NO_VALUE, CacheBackend, ReadStatus


def _store(backend: CacheBackend, key: str, payload: bytes, tokens: list[str]) -> bool:
    stamps = backend.read_stamps(tokens)
    return backend.write(key, "ctx", payload, tokens, stamps, 60)


def test_missing_entry_is_a_miss(backend: CacheBackend) -> None:
    assert backend.read("ctx:k", "ctx") == (ReadStatus.MISS, NO_VALUE)


def test_write_then_read_hits_with_the_same_bytes(backend: CacheBackend) -> None:
    assert _store(backend, "ctx:k", b"[]", ["c:ctx", "t:a"])
    assert backend.read("ctx:k", "ctx") == (ReadStatus.HIT, b"[]")


def test_empty_payload_is_a_value(backend: CacheBackend) -> None:
    assert _store(backend, "ctx:k", b"", ["c:ctx"])
    assert backend.read("ctx:k", "ctx") == (ReadStatus.HIT, b"")


def test_bump_makes_entries_stale(backend: CacheBackend) -> None:
    assert _store(backend, "ctx:k", b"1", ["c:ctx", "t:a"])
    assert _store(backend, "ctx:other", b"2", ["c:ctx", "t:b"])
    backend.bump(["t:a"])
    assert backend.read("ctx:k", "ctx") == (ReadStatus.STALE, NO_VALUE)
    assert backend.read("ctx:other", "ctx")[0] is ReadStatus.HIT


def test_write_is_compare_and_set(backend: CacheBackend) -> None:
    tokens = ["c:ctx", "t:a"]
    stamps = backend.read_stamps(tokens)
    backend.bump(["t:a"])  # a commit lands while the value is computed
    assert not backend.write("ctx:k", "ctx", b"old", tokens, stamps, 60)
    assert backend.read("ctx:k", "ctx")[0] is ReadStatus.MISS


def test_stamps_start_at_a_random_epoch_and_increment(backend: CacheBackend) -> None:
    (first,) = backend.read_stamps(["t:fresh"])
    assert first > 1 << 32
    assert backend.read_stamps(["t:fresh"]) == [first]
    backend.bump(["t:fresh"])
    assert backend.read_stamps(["t:fresh"]) == [first + 1]


def test_bump_of_a_missing_stamp_never_restarts_at_a_small_number(backend: CacheBackend) -> None:
    backend.bump(["t:never-read"])
    assert backend.read_stamps(["t:never-read"])[0] > 1 << 32


def test_lock_is_exclusive_and_released_only_by_its_owner(backend: CacheBackend) -> None:
    assert backend.acquire_lock("ctx:k", "a", 5000)
    assert backend.lock_held("ctx:k")
    assert not backend.acquire_lock("ctx:k", "b", 5000)
    backend.release_lock("ctx:k", "b")
    assert backend.lock_held("ctx:k")
    backend.release_lock("ctx:k", "a")
    assert not backend.lock_held("ctx:k")
    assert backend.acquire_lock("ctx:k", "b", 5000)


def test_counters(backend: CacheBackend) -> None:
    backend.add_stats({"ctx": {"hits": 2, "errors": 1}, "other": {"miss_first": 1}})
    backend.add_stats({"ctx": {"hits": 1}})
    counters = backend.read_stats(["ctx", "unused"])
    assert counters["ctx"]["hits"] == 3
    assert counters["ctx"]["errors"] == 1
    assert counters["other"]["misses"] == 1  # known although not asked for
    assert counters["unused"]["hits"] == 0


def test_stale_entry_is_not_a_hit(backend: CacheBackend) -> None:
    assert _store(backend, "ctx:k", b"1", ["c:ctx", "t:a"])
    assert backend.read("ctx:k", "ctx", ["c:ctx", "t:a"])[0] is ReadStatus.HIT
    assert backend.read("ctx:k", "ctx", ["c:ctx"])[0] is ReadStatus.HIT  # fetches t:a itself
    backend.bump(["t:a"])
    assert backend.read("ctx:k", "ctx", ["c:ctx"])[0] is ReadStatus.STALE
    assert backend.read("ctx:k", "ctx", ["c:ctx", "t:a"])[0] is not ReadStatus.HIT
