"""``python -m bench.serve`` (what ``make serve`` runs): `fretes` on the demo's dataset, to open.

Builds the SQLite ``real`` dataset (or reuses the demo's), builds the asset bundles and serves
the app with gunicorn on 127.0.0.1 — as in production, not as a benchmark server: no
``X-Fretes-Mode`` header, no ``Server-Timing`` for anonymous clients, the session secret
generated once into the instance folder (``FRETES_SECRET_KEY`` wins when set). Prints where
to log in and where Turbina's dashboard is (admins only), then serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys

from bench.datasets import ensure_sqlite
from bench.server import APP, ROOT, bench_secret_key, build_assets
from fretes.datagen import DEMO_PASSWORD

DASHBOARD_PATH = "/_turbina"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8000, help="Port on 127.0.0.1 (8000).")
    parser.add_argument("--scale", default="real", choices=["tiny", "real"])
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port {args.port} is not a TCP port (1-65535)")
    print(f"dataset: SQLite `{args.scale}` (built once, reused) ...", flush=True)
    dataset = ensure_sqlite(args.scale, 42)
    env = dict(os.environ)
    env.update({"DATABASE_URL": dataset.url, "FRETES_SECRET_KEY": bench_secret_key()})
    build_assets(env)
    base = f"http://127.0.0.1:{args.port}"
    print(
        f"fretes:    {base}/login  (user admin, password {DEMO_PASSWORD}; vendedor users too)\n"
        f"dashboard: {base}{DASHBOARD_PATH}  (Turbina's, for admins; log in first)\n"
        "Ctrl-C stops the server.",
        flush=True,
    )
    command = [sys.executable, "-m", "gunicorn", APP, "--bind", f"127.0.0.1:{args.port}"]
    command += ["--workers", "2", "--threads", "2", "--timeout", "300"]
    # gunicorn takes this process's place: Ctrl-C, SIGTERM and the exit status are its own,
    # and no orphaned server outlives a killed wrapper.
    os.chdir(ROOT)
    os.execve(sys.executable, command, env)


if __name__ == "__main__":
    sys.exit(main())
