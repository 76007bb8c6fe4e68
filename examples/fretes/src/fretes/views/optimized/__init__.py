"""Optimized data functions of the six `fretes` pages (the ``optimized`` mode).

Each function returns exactly what its naive twin in ``fretes.views`` returns, with a
small, constant number of queries: eager loading instead of lazy loads (``selectinload``
for collections, ``joinedload`` for many-to-one), counters folded into one aggregate or
``GROUP BY`` query, per-row totals from one grouped query over the page's ids. The SQL is
portable (SQLite and PostgreSQL). ``fretes.mode.current_mode()`` picks the form per request.

- ``entregas``: monitoring list and export.
- ``embarques``: embarques dashboard and fretes list.
- ``relatorios``: faturamento report and pedidos status.
"""
