"""``python -m bench.serve`` (what ``make serve`` runs): `fretes` on the demo's dataset, to open.

Builds the SQLite ``real`` dataset (or reuses the demo's) and serves a copy of it of its own
(``instance/serve-<scale>.db``, so what you write there never changes the benchmark's data):
by default the fully optimized form — ``FRETES_MODE=cached`` on the schema after the app's
migrations (the advisor's indexes), lazy assets — or ``--mode naive`` on the seed's schema to
see the difference. It builds the asset bundles and serves with gunicorn on 127.0.0.1 — as in
production, not as a benchmark server: no ``X-Fretes-Mode`` header, no ``Server-Timing`` for
anonymous clients, the session secret generated once into the instance folder
(``FRETES_SECRET_KEY`` wins when set). Prints where to log in and where Turbina's dashboard
is (admins only), then serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from bench.datasets import INSTANCE, ensure_sqlite
from bench.server import APP, ROOT, bench_secret_key, build_assets
from fretes.datagen import DEMO_PASSWORD
from fretes.schema_migrations import downgrade, upgrade

DASHBOARD_PATH = "/_turbina"


def serving_copy(source: Path, scale: str, fresh: bool) -> str:
    """``instance/serve-<scale>.db``: a copy of the dataset, made again with ``fresh`` or when
    the dataset was rebuilt since."""
    target = INSTANCE / f"serve-{scale}.db"
    if fresh or not target.exists() or source.stat().st_mtime > target.stat().st_mtime:
        for leftover in (target, target.with_suffix(".db-wal"), target.with_suffix(".db-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(source, target)
    return f"sqlite:///{target}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8000, help="Port on 127.0.0.1 (8000).")
    parser.add_argument("--scale", default="real", choices=["tiny", "real"])
    parser.add_argument(
        "--mode",
        default="cached",
        choices=["naive", "optimized", "cached"],
        help="the form served (cached: everything Turbina does; naive: the seed's)",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="start again from the dataset (drop your writes)"
    )
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port {args.port} is not a TCP port (1-65535)")
    print(f"dataset: SQLite `{args.scale}` (built once, reused) ...", flush=True)
    dataset = ensure_sqlite(args.scale, 42)
    url = serving_copy(Path(dataset.url.removeprefix("sqlite:///")), args.scale, args.fresh)
    if args.mode == "naive":
        downgrade(url, "0001")
        print("schema: the seed's (no extra index); form: naive", flush=True)
    else:
        applied = upgrade(url)
        done = f"applied {', '.join(applied)}" if applied else "already applied"
        print(f"schema: the advisor's indexes ({done}); form: {args.mode}", flush=True)
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": url,
            "FRETES_SECRET_KEY": bench_secret_key(),
            "FRETES_MODE": args.mode,
            "FRETES_ASSETS": "plain" if args.mode == "naive" else "lazy",
        }
    )
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
