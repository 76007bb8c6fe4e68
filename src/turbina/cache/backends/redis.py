"""Redis backend (redis-py ``Redis`` or ``RedisCluster``): one MGET per read, Lua CAS writes.

A read fetches the entry and the stamps it should carry in one MGET and compares them here;
writes, stamp initialization and bumps are Lua scripts, so each is atomic. Key layout, all
under the configured prefix and all in one hash slot per prefix (the ``{tag}`` after the
prefix), because an entry is validated against stamps that many entries share, and a
multi-key command or script may only touch keys of one slot in Redis Cluster::

    <prefix>:{<tag>}:e:<context>:<hash>   entry: "<token>=<stamp>\\t...\\n" + payload (TTL = context TTL)
    <prefix>:{<tag>}:m:<context>:<hash>   when the entry expires (ms): a later miss says why (TTL)
    <prefix>:{<tag>}:s:<token>            stamp of a table (t:...), context (c:...) or of the
                                          store's generation (g) (TTL, refreshed)
    <prefix>:{<tag>}:run                  run_id of the server the generation belongs to (TTL)
    <prefix>:{<tag>}:st:<context>         hash of counters (TTL, refreshed on each flush)
    <prefix>:{<tag>}:ctxs                 set of context names with counters (TTL, refreshed)
    <prefix>:{<tag>}:l:<context>:<hash>   compute lock (PX)

Nothing here ever lists keys (no KEYS, no SCAN): invalidation is one INCR of a stamp.

**Restarts and lost data.** A Redis restarted from its AOF/RDB (or a promoted replica) can
bring back old entries *and* the old stamps they match, while a bump acknowledged just before
the crash is gone. Every entry therefore also carries the generation stamp ``g``, and every new
connection (redis-py calls ``redis_connect_func`` before any command is sent on it) asks the
server for its ``run_id``: when it differs from the one recorded with the generation, the
generation is bumped (atomically, once) before the connection is used. So after a restart no
process can read or store under the old generation. A lost stamp key (eviction, FLUSHDB) is
recreated at a random epoch, which also invalidates what depended on it. On Redis Cluster the
connection hook is not installed (the cluster client owns it): see the README.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from hashlib import blake2b
from typing import Any

from turbina.cache.backends.base import (
    NO_VALUE,
    STAT_FIELDS,
    CacheBackend,
    NoValue,
    ReadStatus,
    derive_counters,
    fold_legacy,
    new_epoch,
)
from turbina.cache.stamps import GENERATION_TOKEN as GENERATION

__all__ = ["RedisBackend"]

log = logging.getLogger("turbina.cache")
_MAX_LAYOUTS = 10_000
_MARKER_GRACE_S = 86400

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

# KEYS: entry, marker, stamp keys..., guard stamp keys... ARGV: header, payload, ttl, marker
# value, marker ttl, expected stamps..., guard stamps... (the header names the stamps only)
_WRITE = """
for i = 3, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[i + 3] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '\\n' .. ARGV[2], 'EX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[5])
return 1
"""

# KEYS: entry. ARGV: the stamp key prefix, then the tokens the reader expects. Validates every
# stamp the header names (row-set entries name stamps no reader knows in advance) in one trip.
_READ_DYNAMIC = """
local e = redis.call('GET', KEYS[1])
if not e then return {0} end
local nl = string.find(e, '\\n', 1, true)
local held = {}
for token, stamp in string.gmatch(string.sub(e, 1, nl - 1), '([^\\t=]+)=([^\\t]+)') do
  held[token] = true
  if redis.call('GET', ARGV[1] .. token) ~= stamp then return {2} end
end
for i = 2, #ARGV do
  if not held[ARGV[i]] then return {2} end
end
return {1, string.sub(e, nl + 1)}
"""

# KEYS: generation stamp, run id. ARGV: this server's run_id, a fresh epoch, the stamp TTL.
# Bump the generation once per server run: the first connection after a restart does it.
_CHECK_GENERATION = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('INCR', KEYS[1])
  else
    redis.call('SET', KEYS[1], ARGV[2])
  end
  redis.call('SET', KEYS[2], ARGV[1])
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
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
        self._read_dynamic = client.register_script(_READ_DYNAMIC)
        # tokens -> (MGET keys of the entry's stamps, b"token=" prefixes): built once.
        self._layouts: dict[tuple[str, ...], tuple[list[str], list[bytes]]] = {}
        self.run_id: str | None = None  # the server run this process last checked
        self.generation_checks = 0  # generation bumps this process made (a restart seen)
        self._install_restart_check()

    def entry_key(self, key: str) -> str:
        """The Redis key holding the entry of logical ``key`` (``<context>:<hash>``)."""
        return self._base + "e:" + key

    def stamp_key(self, token: str) -> str:
        """The Redis key holding the stamp ``token``."""
        return self._stamp_prefix + token

    def _stats_key(self, context: str) -> str:
        return self._base + "st:" + context

    # --- restarts -------------------------------------------------------------------------
    def _install_restart_check(self) -> None:
        pool = getattr(self.client, "connection_pool", None)
        kwargs = getattr(pool, "connection_kwargs", None)
        if not isinstance(kwargs, dict):
            return  # Redis Cluster (its client owns the connect hook) or an unknown client
        chained = kwargs.get("redis_connect_func")

        def on_connect(connection: Any) -> None:
            if chained is not None:
                chained(connection)
            else:
                connection.on_connect()
            self._check_generation(connection)

        kwargs["redis_connect_func"] = on_connect
        # Connections made before this backend existed are not checked: drop the idle ones.
        with contextlib.suppress(Exception):
            pool.disconnect(inuse_connections=False)  # type: ignore[union-attr]

    def _check_generation(self, connection: Any) -> None:
        """On a new connection: if the server is not the run we know, make sure the
        generation was bumped for this run (once, by whichever process gets there first)."""
        from redis.exceptions import ConnectionError as RedisConnectionError

        try:
            connection.send_command("INFO", "server")
            info = connection.read_response()
            text = info.decode() if isinstance(info, bytes) else str(info)
            run_id = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in text.splitlines()
                    if line.startswith("run_id:")
                ),
                "",
            )
            if run_id and run_id == self.run_id:
                return
            connection.send_command(
                "EVAL",
                _CHECK_GENERATION,
                2,
                self.stamp_key(GENERATION),
                self._base + "run",
                run_id or "unknown",
                new_epoch(),
                self.stamp_ttl_s,
            )
            connection.read_response()
        except RedisConnectionError:
            raise
        except Exception as exc:
            # An unverified connection must not be used: fail it (the cache fails open).
            raise RedisConnectionError(f"turbina generation check failed: {exc}") from exc
        if self.run_id is not None and run_id != self.run_id:
            self.generation_checks += 1
            log.warning(
                "turbina.cache: Redis at %s restarted (run_id changed): every entry written "
                "before is invalid",
                getattr(connection, "host", "?"),
            )
        self.run_id = run_id

    # --- entries --------------------------------------------------------------------------
    def _layout(self, tokens: Sequence[str]) -> tuple[list[str], list[bytes]]:
        key = tokens if type(tokens) is tuple else tuple(tokens)
        found = self._layouts.get(key)
        if found is None:
            found = (
                [self._stamp_prefix + t for t in key],
                [t.encode() + b"=" for t in key],
            )
            if len(self._layouts) >= _MAX_LAYOUTS:
                self._layouts.clear()
            self._layouts[key] = found
        return found

    def read(
        self, key: str, context: str, tokens: Sequence[str] = ()
    ) -> tuple[ReadStatus, bytes | NoValue]:
        # One MGET: the entry and the current stamps it is expected to carry. A plain command
        # costs the server less than a script, and the comparison is a few bytes of Python.
        stamp_keys, prefixes = self._layout(tokens)
        values = self.client.execute_command("MGET", self._base + "e:" + key, *stamp_keys)
        entry = values[0]
        if entry is None:
            return self._why_missing(key), NO_VALUE
        if None not in values:
            # Common case: the entry carries exactly the expected stamps, in order.
            expected = b"\t".join([p + v for p, v in zip(prefixes, values[1:], strict=True)])
            size = len(expected)
            if entry.startswith(expected) and entry[size] == 10:  # b"\n"
                # A view, not a copy: the decoder copies once, into the text it parses.
                return ReadStatus.HIT, memoryview(entry)[size + 1 :]  # type: ignore[return-value]
        newline = entry.index(b"\n")
        current = dict(zip(tokens, values[1:], strict=True))
        held: set[str] = set()
        extra: list[tuple[str, bytes]] = []
        for pair in entry[:newline].split(b"\t"):
            token_bytes, _, stamp = pair.partition(b"=")
            token = token_bytes.decode()
            held.add(token)
            if token in current:
                if current[token] != stamp:
                    return ReadStatus.STALE, NO_VALUE
            else:
                extra.append((token, stamp))
        if len(held) < len(current) or not held.issuperset(current):
            # Stored by a process that knew fewer dependencies than this one: it may depend
            # on a table whose writes it never checked.
            return ReadStatus.STALE, NO_VALUE
        if extra:
            # Another process recorded more dependencies than this one expects: a second
            # round trip for those stamps (rare: only until this process learns them too).
            found = self.client.mget([self._stamp_prefix + t for t, _ in extra])
            if any(value != stamp for (_, stamp), value in zip(extra, found, strict=True)):
                return ReadStatus.STALE, NO_VALUE
        return ReadStatus.HIT, entry[newline + 1 :]

    def _why_missing(self, key: str) -> ReadStatus:
        """A second round trip, on misses only: the marker says when the entry expires."""
        try:
            marker = self.client.get(self._base + "m:" + key)
        except Exception:
            return ReadStatus.MISS
        if marker is None:
            return ReadStatus.MISS
        try:
            expires_ms = int(marker)
        except ValueError:
            return ReadStatus.MISS
        return ReadStatus.EXPIRED if time.time() * 1000 >= expires_ms - 50 else ReadStatus.EVICTED

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
        guard: Sequence[tuple[str, int]] = (),
    ) -> bool:
        header = "\t".join(f"{t}={s}" for t, s in zip(tokens, stamps, strict=True))
        keys = [self.entry_key(key), self._base + "m:" + key, *[self.stamp_key(t) for t in tokens]]
        keys.extend(self.stamp_key(t) for t, _ in guard)
        expires_ms = int(time.time() * 1000) + ttl_s * 1000
        args: list[Any] = [header, payload, ttl_s, expires_ms, ttl_s + min(ttl_s, _MARKER_GRACE_S)]
        args.extend(str(s) for s in stamps)
        args.extend(str(s) for _, s in guard)
        return bool(self._write(keys=keys, args=args))

    def read_dynamic(
        self, key: str, context: str, tokens: Sequence[str] = ()
    ) -> tuple[ReadStatus, bytes | NoValue]:
        found = self._read_dynamic(keys=[self.entry_key(key)], args=[self._stamp_prefix, *tokens])
        if found[0] == 1:
            return ReadStatus.HIT, found[1]
        if found[0] == 2:
            return ReadStatus.STALE, NO_VALUE
        return self._why_missing(key), NO_VALUE

    def bump(self, tokens: Sequence[str]) -> None:
        if not tokens:
            return
        args: list[Any] = [new_epoch() for _ in tokens]
        args.append(self.stamp_ttl_s)
        self._bump(keys=[self.stamp_key(t) for t in tokens], args=args)

    def claim_prefix(self, identity: str, label: str) -> str | None:
        """Record which databases this prefix serves (first claim wins, with a TTL); the
        label of another claimant's databases if it is not ``identity``."""
        key = self._base + "owner"
        value = f"{identity} {label}"
        self.client.set(key, value, nx=True, ex=self.stamp_ttl_s)
        found = self.client.get(key)
        self.client.expire(key, self.stamp_ttl_s)
        text = _text(found) if found is not None else value
        owner, _, owner_label = text.partition(" ")
        return None if owner == identity else owner_label

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
            counters: dict[str, Any] = dict.fromkeys(STAT_FIELDS, 0)
            counters.update({_text(k): int(v) for k, v in raw.items()})
            out[name] = derive_counters(fold_legacy(counters))
        return out

    def close(self) -> None:
        self.client.close()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
