"""`fretes`: the reference freight application Turbina is measured on.

It reproduces the shape of a real Brazilian freight system (table and column names kept in
Portuguese so the seed's SQL applies as written): lazy relationships, primary keys and unique
constraints only. Each page's data access exists in a naive, an optimized and a cached form
(``fretes.access``), chosen by ``FRETES_MODE``.
"""

from fretes.app import create_app

__all__ = ["create_app"]
