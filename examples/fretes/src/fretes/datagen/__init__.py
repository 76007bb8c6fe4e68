"""Deterministic dataset generator of `fretes` (``fretes datagen``).

``generate(url, scale, seed)`` fills a PostgreSQL (COPY) or SQLite (executemany) database
with a realistic freight dataset; the same seed always gives the same rows.
"""

from __future__ import annotations

from fretes.datagen.checksum import data_checksums
from fretes.datagen.pipeline import DEMO_PASSWORD, GenerateReport, generate
from fretes.datagen.scales import REFERENCE_DATE, SCALES
from fretes.datagen.schema import DataExistsError

__all__ = [
    "DEMO_PASSWORD",
    "REFERENCE_DATE",
    "SCALES",
    "DataExistsError",
    "GenerateReport",
    "data_checksums",
    "generate",
]
