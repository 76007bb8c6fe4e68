"""The pages' domain: filters and their parsing, SQL conditions, result types, row builders.

One module per page, with no Flask and no mode: the data access forms (``fretes.access``)
build their queries from these pieces and return these types, so every form answers alike.
"""
