"""Cost of Turbina's N+1 detection on a page shaped like microblog's ``/explore``, side by
side in one run: ``python -m bench.nplusone_overhead [--rounds 801] [--pages 1] [--no-postgres]``.

The page: 25 posts, newest first, rendered by a Jinja loop that includes ``_post.html``,
which lazy-loads the many-to-one ``post.author`` (19 distinct authors, so 19 lazy loads), plus
a ``before_request`` hook loading the current user — 21 statements per page.

1. **The lazy load.** The 19 ``post.author`` accesses of one page, on a plain ``Session``
   with a ``QueryRecorder`` and a request collector active in every variant, one engine per
   variant (detection is a property of an engine's recorder): ``no detection`` (the recorder
   with ``nplusone=False``); ``turbina`` (the recorder as ``Turbina(app)`` attaches it: reads
   each statement's ORM context at the cursor, counts the lazy load and books its time);
   ``empty ORM listener`` (no detection, plus a ``do_orm_execute`` listener doing nothing:
   SQLAlchemy's own cost of any ORM-event design, the previous one's floor); ``former hook`` (a
   copy of the mechanism before issue 16, timing each lazy load by calling
   ``orm_state.invoke_statement()`` itself). Added µs per lazy load = per-round difference to
   ``no detection`` / lazy loads.
2. **The page.** The same Flask + Flask-SQLAlchemy app three times: ``turbina off``,
   ``turbina on`` (``Turbina(app)``: recorder, request collection, N+1 detection, Server-Timing;
   the parts the page does not use off) and ``turbina on, no N+1 detection`` (the same, its
   recorders' detection off), called through WSGI (no test client), alternating.

Many short rounds (by default one page per variant per round), variants in shuffled order
within each round, so load drift on a shared machine hits every variant alike; medians over
rounds of per-round values and of paired per-round differences, and the best rounds (the
least disturbed), in process CPU time (what Turbina adds to a worker) and wall time. Writes ``bench/results/nplusone_overhead.{json,md}``.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, g, render_template
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.orm import sessionmaker as make_sessionmaker
from werkzeug.test import EnvironBuilder

from bench.report import micro_facts, save_document
from turbina import QueriesState, QueryRecorder, Turbina, collect, get_state
from turbina.config import KEY_NAMES as TURBINA_KEYS

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
USERS = 200
POSTS = 5000
PAGE = 25
AUTHORS_ON_PAGE = 19
TARGET_US_PER_LOAD = 3.0
TARGET_PAGE_RATIO = 1.03

TEMPLATES = {
    "base.html": "<!doctype html>\n<nav>{{ g.user.username }}</nav>\n"
    "<main>{% block content %}{% endblock %}</main>\n",
    "index.html": '{% extends "base.html" %}\n{% block content %}\n<h1>Explore</h1>\n'
    '{% for post in posts %}\n  {% include "_post.html" %}\n{% endfor %}\n{% endblock %}\n',
    "_post.html": "<article>\n  <p>{{ post.body }}</p>\n"
    "  <footer>by {{ post.author.username }}</footer>\n</article>\n",
}


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "nb_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64))


class Post(Base):
    __tablename__ = "nb_posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(sa.String(140))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("nb_users.id"), index=True)
    author: Mapped[User] = relationship()


EXPLORE = sa.select(Post).order_by(Post.id.desc()).limit(PAGE)

# Turbina's query analysis as configured by default (recorder, request collection, N+1 detection)
# with Server-Timing on; the parts this page does not exercise (cache, monitor, metrics,
# assets, compression) off, where this version has them.
_OTHER_PARTS_OFF = {
    "CACHE_BACKEND": "null",
    "MONITOR": False,
    "METRICS": "off",
    "ASSETS_SERVE": False,
    "COMPRESS_RESPONSES": False,
}
QUERIES_ONLY: dict[str, Any] = {
    "explain": False,
    "server_timing": True,
    **{
        name.lower(): value
        for name, value in _OTHER_PARTS_OFF.items()
        if f"TURBINA_{name}" in TURBINA_KEYS
    },
}


def _author_of(post_id: int) -> int:
    """The newest page cycles through ``AUTHORS_ON_PAGE`` authors (none of them user 1, the
    current user); older posts spread over every user."""
    if post_id > POSTS - PAGE:
        return 2 + post_id % AUTHORS_ON_PAGE
    return 1 + (post_id * 7919) % USERS


def _prepare(url: str) -> None:
    engine = sa.create_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(User), [{"id": i, "username": f"user{i}"} for i in range(1, USERS + 1)]
        )
        conn.execute(
            sa.insert(Post),
            [{"id": i, "body": f"post {i}", "user_id": _author_of(i)} for i in range(1, POSTS + 1)],
        )
    engine.dispose()


# --- 1. the lazy load --------------------------------------------------------------------


def _former_hook(orm_state: Any) -> Any:
    """The N+1 hook before issue 16, reduced to its cost: it ran every relationship load
    itself (``invoke_statement``) to time it."""
    if not orm_state.is_relationship_load:
        return None
    start = time.perf_counter()
    result = orm_state.invoke_statement()
    _ = (time.perf_counter() - start, orm_state.lazy_loaded_from, orm_state.loader_strategy_path)
    return result


VARIANTS = ("no detection", "empty ORM listener", "turbina", "former hook")


def _empty_hook(orm_state: Any) -> None:
    """A do_orm_execute listener doing nothing: what SQLAlchemy's event path costs alone
    (with any listener, each execution builds an ``ORMExecuteState``)."""


def _loads(
    maker: Callable[[], Session], pages: int, state: QueriesState
) -> tuple[float, float, int]:
    """(CPU µs, wall µs) of the lazy loads of ``pages`` pages, and the lazy groups' count.
    Each page is collected as the Flask glue collects a request: with the app's findings as
    the memory of known call sites, and finished into them."""
    cpu = wall = 0.0
    counted = 0
    gc.collect()
    for _ in range(pages):
        with collect("/explore", memory=state.findings) as collector, maker() as session:
            session.get(User, 1)  # the current user, as the page's hook loads it
            posts = session.scalars(EXPLORE).all()
            c0, w0 = time.process_time(), time.perf_counter()
            for post in posts:
                post.author.username  # noqa: B018 - the lazy load is the point
            cpu += time.process_time() - c0
            wall += time.perf_counter() - w0
        state.finish(collector)
        counted += sum(group.count for group in collector.lazy.values())
    return cpu * 1e6, wall * 1e6, counted


def measure_loads(url: str, rounds: int, pages: int) -> dict[str, Any]:
    # One engine per variant: detection is a property of an engine's recorder.
    state = QueriesState(explain=False)
    engines = {label: sa.create_engine(url) for label in VARIANTS}
    for label, engine in engines.items():
        if label == "turbina":
            state.attach(engine, "bench")  # the recorder with N+1 detection, as Turbina(app)
        else:
            QueryRecorder(engine, explainer=None, nplusone=False)
    makers: dict[str, Callable[[], Session]] = {
        label: make_sessionmaker(engine) for label, engine in engines.items()
    }
    sa.event.listen(makers["former hook"], "do_orm_execute", _former_hook)
    sa.event.listen(makers["empty ORM listener"], "do_orm_execute", _empty_hook)
    for maker in makers.values():
        _loads(maker, 3, state)  # warm: statement and fingerprint caches, known call sites
    rng = random.Random(16)
    cpu: dict[str, list[float]] = {label: [] for label in makers}
    wall: dict[str, list[float]] = {label: [] for label in makers}
    counted: dict[str, int] = dict.fromkeys(makers, 0)
    for _ in range(rounds):
        order = list(makers)
        rng.shuffle(order)
        for label in order:
            c, w, n = _loads(makers[label], pages, state)
            cpu[label].append(c)
            wall[label].append(w)
            counted[label] += n
    loads = pages * AUTHORS_ON_PAGE
    state.close()
    for engine in engines.values():
        QueryRecorder.for_engine(engine).close()
        engine.dispose()
    variants: dict[str, Any] = {}
    for label in makers:
        row: dict[str, Any] = {"lazy_loads_counted": counted[label]}
        for clock, per_round in (("cpu", cpu), ("wall", wall)):
            values, base = per_round[label], per_round["no detection"]
            row[f"{clock}_us_per_load"] = round(statistics.median(values) / loads, 3)
            row[f"{clock}_added_us_per_load"] = round(
                statistics.median(v - b for v, b in zip(values, base, strict=True)) / loads, 3
            )
            # Best rounds: the least disturbed by the machine's other work.
            row[f"{clock}_best_us_per_load"] = round(min(values) / loads, 3)
            row[f"{clock}_best_added_us_per_load"] = round((min(values) - min(base)) / loads, 3)
        variants[label] = row
    if counted["turbina"] != rounds * loads:
        raise SystemExit(
            f"detection counted {counted['turbina']} lazy loads, {rounds * loads} happened"
        )
    if counted["no detection"]:
        raise SystemExit("an engine without detection counted lazy loads")
    return {
        "rounds": rounds,
        "pages_per_round": pages,
        "loads_per_page": AUTHORS_ON_PAGE,
        "variants": variants,
    }


# --- 2. the page -------------------------------------------------------------------------


def _app(url: str, templates: Path, with_turbina: bool) -> Flask:
    app = Flask(__name__, template_folder=str(templates))
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    db = SQLAlchemy()  # the models are plain declarative ones: db.session binds them
    db.init_app(app)

    @app.before_request
    def load_current_user() -> None:  # registered before Turbina, like microblog's
        g.user = db.session.get(User, 1)

    @app.get("/explore")
    def explore() -> str:
        posts = db.session.scalars(EXPLORE).all()
        return render_template("index.html", posts=posts)

    if with_turbina:
        Turbina(app, **QUERIES_ONLY)
    return app


@contextmanager
def _apps(url: str) -> Iterator[dict[str, Flask]]:
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in TEMPLATES.items():
            (Path(tmp) / name).write_text(text)
        apps = {
            "turbina off": _app(url, Path(tmp), False),
            "turbina on": _app(url, Path(tmp), True),
            "turbina on, no N+1 detection": _app(url, Path(tmp), True),
        }
        quiet = apps["turbina on, no N+1 detection"]
        quiet_state = get_state(quiet).queries
        assert quiet_state is not None
        for recorder in quiet_state.recorders.values():
            recorder.nplusone = False
        try:
            yield apps
        finally:
            for app in apps.values():
                state = app.extensions.get("turbina")
                if state is not None and state.queries is not None:
                    state.queries.close()
                with app.app_context():
                    app.extensions["sqlalchemy"].engine.dispose()


def _serve(app: Flask, environ: dict[str, Any], n: int) -> tuple[float, float, dict[str, str]]:
    """(CPU µs, wall µs) per request over ``n`` requests, and the last response's headers."""
    headers: dict[str, str] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], *_: Any) -> Any:
        headers.clear()
        headers.update(response_headers)
        headers["status"] = status

    gc.collect()
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        body = app(dict(environ), start_response)
        try:
            for _chunk in body:
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return cpu / n * 1e6, wall / n * 1e6, headers


def measure_page(url: str, rounds: int, pages: int) -> dict[str, Any]:
    environ = EnvironBuilder(path="/explore").get_environ()
    with _apps(url) as apps:
        for app in apps.values():
            _serve(app, environ, 5)
        rng = random.Random(16)
        cpu: dict[str, list[float]] = {label: [] for label in apps}
        wall: dict[str, list[float]] = {label: [] for label in apps}
        last: dict[str, dict[str, str]] = {}
        for _ in range(rounds):
            order = list(apps)
            rng.shuffle(order)
            for label in order:
                c, w, headers = _serve(apps[label], environ, pages)
                cpu[label].append(c)
                wall[label].append(w)
                last[label] = headers
        queries = get_state(apps["turbina on"]).queries
        assert queries is not None
        [finding] = [s for s in queries.findings.all() if s.finding.subject == "Post.author"]
        detected = {
            "finding": finding.finding.describe(),
            "max_loads": finding.max_loads,
            "server_timing": last["turbina on"].get("Server-Timing"),
        }
    result: dict[str, Any] = {"rounds": rounds, "requests_per_round": pages, "variants": {}}
    for label in cpu:
        row: dict[str, Any] = {}
        for clock, per_round in (("cpu", cpu), ("wall", wall)):
            values, off = per_round[label], per_round["turbina off"]
            row[f"{clock}_us_per_request"] = round(statistics.median(values), 1)
            row[f"{clock}_added_us"] = round(
                statistics.median(v - o for v, o in zip(values, off, strict=True)), 1
            )
            row[f"{clock}_ratio"] = round(
                statistics.median(v / o for v, o in zip(values, off, strict=True)), 4
            )
            row[f"{clock}_best_us_per_request"] = round(min(values), 1)
            row[f"{clock}_best_ratio"] = round(min(values) / min(off), 4)
        result["variants"][label] = row
    result["detected"] = detected
    return result


# --- report ------------------------------------------------------------------------------


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        "# N+1 detection overhead (issue 16)",
        "",
        f"{report['when']}, {report['platform']}, Python {report['python']}, "
        f"SQLAlchemy {report['sqlalchemy']}; command: `{report['command']}` (from examples/fretes).",
        "",
        "CPU = process CPU time (what Turbina adds to a worker); wall = elapsed time. Medians over "
        "interleaved rounds; added = median of the per-round differences to the baseline.",
        "",
    ]
    for backend in report["backends"]:
        loads, page = backend["loads"], backend["page"]
        lines += [
            f"## {backend['backend']}",
            "",
            f"### The lazy load ({loads['rounds']} rounds x {loads['pages_per_round']} pages x "
            f"{loads['loads_per_page']} lazy loads; recorder and collector on in every variant)",
            "",
            "| variant | CPU µs/lazy load | added CPU µs/lazy load | best round CPU µs | "
            "added, best rounds | wall µs/lazy load | added wall µs | lazy loads counted |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for label, row in loads["variants"].items():
            lines.append(
                f"| {label} | {row['cpu_us_per_load']:.2f} | {row['cpu_added_us_per_load']:.2f} | "
                f"{row['cpu_best_us_per_load']:.2f} | {row['cpu_best_added_us_per_load']:.2f} | "
                f"{row['wall_us_per_load']:.2f} | {row['wall_added_us_per_load']:.2f} | "
                f"{row['lazy_loads_counted'] or '-'} |"
            )
        variants = loads["variants"]
        base = variants["no detection"]["cpu_best_us_per_load"]
        lines += [
            "",
            "Added per lazy load, best rounds: Turbina's detection "
            f"**{variants['turbina']['cpu_best_added_us_per_load']:.2f} µs** "
            f"({variants['turbina']['cpu_best_added_us_per_load'] / base:.1%} of a lazy load); "
            "for scale, SQLAlchemy's cost of having any do_orm_execute listener (the previous "
            "design's floor) "
            f"{variants['empty ORM listener']['cpu_best_added_us_per_load']:.2f} µs.",
        ]
        lines += [
            "",
            f"### The page ({page['rounds']} rounds x {page['requests_per_round']} requests of "
            f"`/explore`, WSGI)",
            "",
            "| variant | CPU µs/request | added CPU µs | CPU ratio | best round CPU µs | "
            "best-round ratio | wall µs/request | added wall µs | wall ratio |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for label, row in page["variants"].items():
            lines.append(
                f"| {label} | {row['cpu_us_per_request']:.0f} | {row['cpu_added_us']:.0f} | "
                f"{row['cpu_ratio']:.3f} | {row['cpu_best_us_per_request']:.0f} | "
                f"{row['cpu_best_ratio']:.3f} | {row['wall_us_per_request']:.0f} | "
                f"{row['wall_added_us']:.0f} | {row['wall_ratio']:.3f} |"
            )
        detected = page["detected"]
        lines += [
            "",
            f"Detected on every request: `{detected['finding']}` "
            f"(Server-Timing `{detected['server_timing']}`).",
            "",
        ]
    lines += [
        f"Targets: <= {TARGET_US_PER_LOAD:.0f} µs added per lazy load by the hook; the page "
        f"<= {TARGET_PAGE_RATIO:.2f}x with Turbina on.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the JSON and Markdown results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=801)
    parser.add_argument("--pages", type=int, default=1, help="pages (requests) per round")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args(argv)
    targets = []
    with tempfile.TemporaryDirectory() as tmp:
        targets.append(("SQLite", f"sqlite:///{tmp}/bench.db", tmp))
        if not args.no_postgres:
            targets.append(("PostgreSQL", args.pg_url, tmp))
        backends = []
        for name, url, _ in targets:
            _prepare(url)
            backends.append(
                {
                    "backend": name,
                    "loads": measure_loads(url, args.rounds, args.pages),
                    "page": measure_page(url, args.rounds, args.pages),
                }
            )
            if name == "PostgreSQL":
                engine = sa.create_engine(url)
                Base.metadata.drop_all(engine)
                engine.dispose()
    report = {
        **micro_facts("bench.nplusone_overhead", argv),
        "target_added_us_per_load": TARGET_US_PER_LOAD,
        "target_page_ratio": TARGET_PAGE_RATIO,
        "backends": backends,
    }
    save_document(report, _markdown(report), "nplusone_overhead")
    print(_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
