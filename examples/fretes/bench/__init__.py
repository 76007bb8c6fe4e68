"""Benchmark harness of Turbina: replay a realistic `fretes` workload against a real server.

``python -m bench.run`` builds (or reuses) a dataset, starts gunicorn, drives the workload
with Locust and writes ``bench/results/<name>.json`` plus a Markdown table;
``python -m bench.demo`` is the short version ``make demo`` runs.
"""
