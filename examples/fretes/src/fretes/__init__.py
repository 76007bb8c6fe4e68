"""`fretes`: the reference freight application Turbina is measured on.

It reproduces the shape of a real Brazilian freight system (table and column names kept in
Portuguese so the seed's SQL applies as written) in its *naive* form: lazy relationships,
primary keys and unique constraints only, no cache.
"""

from fretes.app import create_app

__all__ = ["create_app"]
