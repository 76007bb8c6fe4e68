"""Redis backend (redis-py ``Redis`` or ``RedisCluster``): one MGET per read, Lua CAS writes.

A read fetches the entry and the stamps it should carry in one MGET and compares them here;
writes, stamp initialization and bumps are Lua scripts, so each is atomic. Key layout, all
under the configured prefix and all in one hash slot per prefix (the ``{tag}`` after the
prefix), because an entry is validated against stamps that many entries share, and a
multi-key command or script may only touch keys of one slot in Redis Cluster::

    <prefix>:{<tag>}:e:<context>:<hash>   entry: "<token>=<stamp>\\t...\\n" + payload (TTL = context TTL)
    <prefix>:{<tag>}:s:<token>            stamp of a table (t:...) or context (c:...) (TTL, refreshed)
    <prefix>:{<tag>}:st:<context>         hash of counters (TTL, refreshed on each flush)
    <prefix>:{<tag>}:ctxs                 set of context names with counters (TTL, refreshed)
    <prefix>:{<tag>}:l:<context>:<hash>   compute lock (PX)

Nothing here ever lists keys (no KEYS, no SCAN): invalidation is one INCR of a stamp.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from hashlib import blake2b
from typing import Any

from turbina.cache.backends.base import (
    NO_VALUE,
    STAT_FIELDS,
    CacheBackend,
    NoValue,
    ReadStatus,
    new_epoch,
)

__all__ = ["RedisBackend"]

# KEYS: stamp keys. ARGV: one fresh epoch per key, then the stamp TTL.
_READ_STAMPS = """
local ttl = ARGV[#ARGV]
local out = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if not v then
    v = ARGV[i]
    redis.call('SET', k, v, 'EX', ttl)
  else
    redis.call('EXPIRE', k, ttl)
  end
  out[i] = v
end
return out
"""

# KEYS: entry, stamp keys... ARGV: header, payload, ttl, expected stamps...
_WRITE = """
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[i + 2] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '\\n' .. ARGV[2], 'EX', ARGV[3])
return 1
"""

# KEYS: stamp keys. ARGV: one fresh epoch per key, then the stamp TTL.
_BUMP = """
local ttl = ARGV[#ARGV]
for i, k in ipairs(KEYS) do
  if redis.call('EXISTS', k) == 1 then
    redis.call('INCR', k)
    redis.call('EXPIRE', k, ttl)
  else
    redis.call('SET', k, ARGV[i], 'EX', ttl)
  end
end
return #KEYS
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisBackend(CacheBackend):
    """Entries, stamps, locks and shared counters in Redis or Redis Cluster."""

    name = "redis"

    def __init__(
        self,
        client: Any,
        prefix: str = "turbina",
        stamp_ttl_s: int = 2 * 86400,
        stats_ttl_s: int = 7 * 86400,
    ) -> None:
        self.client = client
        self.prefix = prefix
        tag = blake2b(prefix.encode(), digest_size=4).hexdigest()
        self._base = f"{prefix}:{{{tag}}}:"
        self._stamp_prefix = self._base + "s:"
        self.stamp_ttl_s = stamp_ttl_s
        self.stats_ttl_s = stats_ttl_s
        self._read_stamps = client.register_script(_READ_STAMPS)
        self._write = client.register_script(_WRITE)
        self._bump = client.register_script(_BUMP)
        self._release = client.register_script(_RELEASE)

    def entry_key(self, key: str) -> str:
        """The Redis key holding the entry of logical ``key`` (``<context>:<hash>``)."""
        return self._base + "e:" + key

    def stamp_key(self, token: str) -> str:
        """The Redis key holding the stamp ``token``."""
        return self._stamp_prefix + token

    def _stats_key(self, context: str) -> str:
        return self._base + "st:" + context

    def read(
        self, key: str, context: str, tokens: Sequence[str] = ()
    ) -> tuple[ReadStatus, bytes | NoValue]:
        # One MGET: the entry and the current stamps it is expected to carry. A plain command
        # costs the server less than a script, and the comparison is a few bytes of Python.
        stamp_prefix = self._stamp_prefix
        values = self.client.mget([self._base + "e:" + key, *[stamp_prefix + t for t in tokens]])
        entry = values[0]
        if entry is None:
            return ReadStatus.MISS, NO_VALUE
        if None not in values:
            # Common case: the entry carries exactly the expected stamps, in order.
            expected = b"\t".join(
                t.encode() + b"=" + v for t, v in zip(tokens, values[1:], strict=True)
            )
            if entry.startswith(expected) and entry[len(expected) : len(expected) + 1] == b"\n":
                return ReadStatus.HIT, entry[len(expected) + 1 :]
        newline = entry.index(b"\n")
        current = dict(zip(tokens, values[1:], strict=True))
        extra: list[tuple[str, bytes]] = []
        for pair in entry[:newline].split(b"\t"):
            token_bytes, _, stamp = pair.partition(b"=")
            token = token_bytes.decode()
            if token in current:
                if current[token] != stamp:
                    return ReadStatus.STALE, NO_VALUE
            else:
                extra.append((token, stamp))
        if extra:
            # Another process recorded more dependencies than this one expects: a second
            # round trip for those stamps (rare: only until this process learns them too).
            found = self.client.mget([stamp_prefix + t for t, _ in extra])
            if any(value != stamp for (_, stamp), value in zip(extra, found, strict=True)):
                return ReadStatus.STALE, NO_VALUE
        return ReadStatus.HIT, entry[newline + 1 :]

    def read_stamps(self, tokens: Sequence[str]) -> list[int]:
        if not tokens:
            return []
        args: list[Any] = [new_epoch() for _ in tokens]
        args.append(self.stamp_ttl_s)
        values = self._read_stamps(keys=[self.stamp_key(t) for t in tokens], args=args)
        return [int(v) for v in values]

    def write(
        self,
        key: str,
        context: str,
        payload: bytes,
        tokens: Sequence[str],
        stamps: Sequence[int],
        ttl_s: int,
    ) -> bool:
        header = "\t".join(f"{t}={s}" for t, s in zip(tokens, stamps, strict=True))
        keys = [self.entry_key(key), *[self.stamp_key(t) for t in tokens]]
        args: list[Any] = [header, payload, ttl_s]
        args.extend(str(s) for s in stamps)
        return bool(self._write(keys=keys, args=args))

    def bump(self, tokens: Sequence[str]) -> None:
        if not tokens:
            return
        args: list[Any] = [new_epoch() for _ in tokens]
        args.append(self.stamp_ttl_s)
        self._bump(keys=[self.stamp_key(t) for t in tokens], args=args)

    def acquire_lock(self, key: str, token: str, ttl_ms: int) -> bool:
        return bool(self.client.set(self._base + "l:" + key, token, nx=True, px=ttl_ms))

    def lock_held(self, key: str) -> bool:
        return bool(self.client.exists(self._base + "l:" + key))

    def release_lock(self, key: str, token: str) -> None:
        self._release(keys=[self._base + "l:" + key], args=[token])

    def add_stats(self, counts: Mapping[str, Mapping[str, int]]) -> None:
        if not counts:
            return
        pipe = self.client.pipeline(transaction=False)
        for context, fields in counts.items():
            stats_key = self._stats_key(context)
            for field, amount in fields.items():
                pipe.hincrby(stats_key, field, amount)
            pipe.expire(stats_key, self.stats_ttl_s)
        pipe.sadd(self._base + "ctxs", *counts)
        pipe.expire(self._base + "ctxs", self.stats_ttl_s)
        pipe.execute()

    def read_stats(self, contexts: Sequence[str]) -> dict[str, dict[str, int]]:
        known = self.client.smembers(self._base + "ctxs")
        names = list(dict.fromkeys([*contexts, *sorted(_text(n) for n in known)]))
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self._stats_key(name))
        out: dict[str, dict[str, int]] = {}
        for name, raw in zip(names, pipe.execute(), strict=True):
            counters = dict.fromkeys(STAT_FIELDS, 0)
            counters.update({_text(k): int(v) for k, v in raw.items()})
            out[name] = counters
        return out

    def close(self) -> None:
        self.client.close()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
