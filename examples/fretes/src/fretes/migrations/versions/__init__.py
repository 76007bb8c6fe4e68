"""The revisions of the fretes schema, oldest first (0001 baseline, 0002 advised indexes)."""
