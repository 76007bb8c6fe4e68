"""Cache backends: one interface (``base.CacheBackend``), memory, Redis (and Redis Cluster)."""
