"""``RedisStore``: the store for many hosts, on Redis or Redis Cluster (redis-py client).

One pipeline per flush: HINCRBY into one small hash per (resolution, bucket, kind, label) —
small enough for Redis's compact listpack encoding, which keeps 24 h of 100 endpoints in
a few MB where one big hash per bucket took ten times more —, an EXPIRE for
each hash touched, HSET of label descriptions, LPUSH + LTRIM of the capped event lists, the
worker's gauges with their own TTL. Key layout, all under the prefix and all in one hash slot
(the ``{prefix:m}`` tag), so a pipeline and a read always go to one Cluster node::

    <prefix>:{<prefix>:m}:c:<res>:<bucket>:<kind>:<label>   hash field -> count (TTL by res)
    <prefix>:{<prefix>:m}:k:<kind>                  set of the labels with counters (TTL 7 d)
    <prefix>:{<prefix>:m}:l:<kind>                  hash label -> JSON description (TTL 7 d)
    <prefix>:{<prefix>:m}:e:<kind>:<hour>           list of JSON events, capped (TTL 49 h)
    <prefix>:{<prefix>:m}:g:<worker>                JSON gauges of one worker (TTL 10 min)
    <prefix>:{<prefix>:m}:gw                        zset worker -> last report (trimmed)

Nothing here lists keys (no KEYS, no SCAN): every key read is named by the window.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from turbina.store.backends.base import RESOLUTIONS, StoreBackend
from turbina.store.model import (
    EVENT_RETENTION_S,
    EVENTS_PER_HOUR,
    GAUGE_RETENTION_S,
    HOUR,
    HOUR_RETENTION_S,
    MINUTE,
    MINUTE_RETENTION_S,
    TOTAL,
    TOTAL_RETENTION_S,
    Batch,
    Counters,
    bucket_of,
    hide_password,
)

__all__ = ["RedisStore"]

_TTL = {MINUTE: MINUTE_RETENTION_S, HOUR: HOUR_RETENTION_S, TOTAL: TOTAL_RETENTION_S}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStore(StoreBackend):
    """The store in Redis under ``prefix`` (a ``redis.Redis`` or ``RedisCluster`` client)."""

    name = "redis"

    def __init__(
        self,
        client: Any = None,
        prefix: str = "turbina",
        *,
        url: str | None = None,
        connect: Callable[[], Any] | None = None,
    ) -> None:
        if client is None and connect is None:
            raise ValueError("pass a redis client or a connect() factory")
        self._client = client
        self._connect = connect
        self._client_lock = threading.Lock()
        self.prefix = prefix
        self.url = url
        self._base = f"{prefix}:{{{prefix}:m}}:"

    @property
    def client(self) -> Any:
        """The redis-py client, made by ``connect()`` on first use (a Cluster client talks to
        the cluster as it is built: never at start-up, never on a request)."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    assert self._connect is not None
                    self._client = self._connect()
        return self._client

    def describe(self) -> str:
        if self.url:
            return f"Redis store {hide_password(self.url)} (prefix {self.prefix})"
        return f"Redis store (prefix {self.prefix})"

    def key(self, *parts: object) -> str:
        """A key of this store: ``<prefix>:{<prefix>:m}:<parts joined by ':'>``."""
        return self._base + ":".join(str(p) for p in parts)

    def _pipeline(self) -> Any:
        try:
            return self.client.pipeline(transaction=False)
        except TypeError:  # old RedisCluster.pipeline() takes no transaction argument
            return self.client.pipeline()

    def write(self, batches: Sequence[Batch]) -> None:
        pipe = self._pipeline()
        expiring: dict[str, int] = {}
        for batch in batches:
            for res in RESOLUTIONS:
                for (kind, label), fields in batch.counters.items():
                    key = self.key("c", res, bucket_of(batch.at, res), kind, label)
                    for name, value in fields.items():
                        pipe.hincrby(key, name, value)
                    expiring[key] = _TTL[res]
                    if res == TOTAL:  # labels with data: what a read asks for
                        pipe.sadd(self.key("k", kind), label)
                        expiring[self.key("k", kind)] = TOTAL_RETENTION_S
            by_kind: dict[str, dict[str, str]] = {}
            for (kind, label), info in batch.labels.items():
                by_kind.setdefault(kind, {})[label] = json.dumps(info, default=str)
            for kind, mapping in by_kind.items():
                key = self.key("l", kind)
                pipe.hset(key, mapping=mapping)
                expiring[key] = TOTAL_RETENTION_S
            for kind, payload in sorted(batch.events, key=lambda e: float(e[1].get("at", 0))):
                hour = bucket_of(float(payload.get("at", batch.at)), HOUR)
                key = self.key("e", kind, hour)
                pipe.lpush(key, json.dumps(payload, default=str))
                pipe.ltrim(key, 0, EVENTS_PER_HOUR - 1)
                expiring[key] = EVENT_RETENTION_S
            if batch.gauges is not None:
                gauges = json.dumps(dict(batch.gauges, at=batch.at), default=str)
                pipe.set(self.key("g", batch.worker), gauges, ex=GAUGE_RETENTION_S)
                pipe.zadd(self.key("gw"), {batch.worker: batch.at})
        if any(batch.gauges is not None for batch in batches):
            pipe.zremrangebyscore(self.key("gw"), "-inf", time.time() - GAUGE_RETENTION_S)
            expiring[self.key("gw")] = GAUGE_RETENTION_S
        for key, ttl in expiring.items():
            pipe.expire(key, ttl)
        pipe.execute()

    def bucket_counters(
        self, resolution: int, buckets: Sequence[int], kinds: Iterable[str]
    ) -> dict[int, Counters]:
        kinds = list(kinds)
        pipe = self._pipeline()
        for kind in kinds:
            pipe.smembers(self.key("k", kind))
        known = [
            (kind, sorted(_text(m) for m in members))
            for kind, members in zip(kinds, pipe.execute(), strict=True)
        ]
        pipe = self._pipeline()
        order = [
            (bucket, kind, label)
            for kind, labels in known
            for label in labels
            for bucket in buckets
        ]
        for bucket, kind, label in order:
            pipe.hgetall(self.key("c", resolution, bucket, kind, label))
        out: dict[int, Counters] = {}
        for (bucket, kind, label), found in zip(
            order, pipe.execute() if order else [], strict=True
        ):
            if found:
                out.setdefault(bucket, {})[(kind, label)] = {
                    _text(name): int(value) for name, value in found.items()
                }
        return out

    def labels(self, kinds: Iterable[str]) -> dict[tuple[str, str], dict[str, Any]]:
        kinds = list(kinds)
        if not kinds:
            return {}
        pipe = self._pipeline()
        for kind in kinds:
            pipe.hgetall(self.key("l", kind))
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for kind, found in zip(kinds, pipe.execute(), strict=True):
            for label, info in (found or {}).items():
                out[(kind, _text(label))] = json.loads(_text(info))
        return out

    def events(
        self, kinds: Iterable[str], since: float, until: float
    ) -> list[tuple[str, dict[str, Any]]]:
        pipe = self._pipeline()
        order = [
            (kind, hour)
            for kind in kinds
            for hour in range(bucket_of(since, HOUR), bucket_of(until, HOUR) + 1)
        ]
        for kind, hour in order:
            pipe.lrange(self.key("e", kind, hour), 0, -1)
        found: list[tuple[str, dict[str, Any]]] = []
        for (kind, _hour), items in zip(order, pipe.execute() if order else [], strict=True):
            for raw in items or ():
                payload = json.loads(_text(raw))
                if since <= float(payload.get("at", 0.0)) <= until:
                    found.append((kind, payload))
        found.sort(key=lambda item: float(item[1].get("at", 0.0)), reverse=True)
        return found

    def worker_gauges(self, since: float) -> dict[str, dict[str, Any]]:
        workers = [_text(w) for w in self.client.zrangebyscore(self.key("gw"), since, "+inf")]
        if not workers:
            return {}
        pipe = self._pipeline()
        for worker in workers:
            pipe.get(self.key("g", worker))
        out: dict[str, dict[str, Any]] = {}
        for worker, raw in zip(workers, pipe.execute(), strict=True):
            if raw is not None:
                out[worker] = json.loads(_text(raw))
        return out

    def close(self) -> None:
        close = getattr(self._client, "close", None)
        if close is not None:
            close()
