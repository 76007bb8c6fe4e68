"""Store backends: memory (tests), SQLite file (one host), Redis / Redis Cluster (many hosts)."""
