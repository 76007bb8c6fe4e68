"""`make compat`: the library's tests against its built wheel, at the oldest and the newest
supported versions of its dependencies.

The wheel is built once, from a clean copy of the library's sources. Then, for each
environment, a fresh venv in .venv-compat/<name> (kept afterwards, to rerun a failure by hand)
gets the wheel with its ``redis`` extra and tests/requirements.txt — ``oldest`` with
tests/compat/oldest.txt as pip constraints, ``newest`` with ``pip install --upgrade`` and no
pins — and runs ``python -m pytest tests`` from the repo root. The tests import the INSTALLED
``turbina`` (``src/`` is never on sys.path; the compat_probe plugin reports which one they
imported and run.py checks it). Only the library's tests run, never the reference app's.

    python tests/compat/run.py                  # both environments
    python tests/compat/run.py newest           # one of them
    python tests/compat/run.py oldest -- -x tests/indexes   # other pytest arguments

Standard library only. Exit status 1 when any environment fails, after one summary line each.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENVS = ROOT / ".venv-compat"
REQUIREMENTS = ROOT / "tests" / "requirements.txt"

# What the wheel is built from (copied first: an in-tree build would reuse a stale build/ dir).
BUILD_INPUTS = ("pyproject.toml", "README.md", "src")
OPTIONAL_BUILD_INPUTS = ("LICENSE", "LICENSE.txt", "LICENSE.md", "MANIFEST.in", "setup.cfg")

# The packages whose versions each environment prints.
SHOWN = (
    "Flask",
    "Werkzeug",
    "SQLAlchemy",
    "sqlglot",
    "click",
    "redis",
    "hiredis",
    "Flask-SQLAlchemy",
    "Flask-Login",
    "psycopg",
    "alembic",
    "pytest",
)
SUMMARIZED = ("Flask", "SQLAlchemy", "sqlglot")
# A bare `pip install turbina` pulls exactly these (the core requirements and theirs).
BARE = {
    "flask",
    "werkzeug",
    "jinja2",
    "markupsafe",
    "itsdangerous",
    "blinker",
    "click",
    "sqlalchemy",
    "typing-extensions",
    "greenlet",
    "sqlglot",
}
BARE_OPTIONAL = {"greenlet"}  # SQLAlchemy wants greenlet on the common platforms only
SEED = {"pip", "setuptools", "wheel", "turbina"}  # a fresh venv's own, and the library


class Failure(Exception):
    """One environment's step failed; the message says which."""


@dataclass(frozen=True)
class Env:
    name: str
    constraints: Path | None  # pip constraints file (pins), or none: the newest releases
    bare_check: bool  # install the bare wheel first and show what it pulls


ENVS = (
    Env("oldest", HERE / "oldest.txt", bare_check=True),
    Env("newest", None, bare_check=False),
)


@dataclass
class Result:
    name: str
    ok: bool = False
    problem: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def line(self) -> str:
        versions = ", ".join(f"{n} {self.versions.get(normalize(n), '?')}" for n in SUMMARIZED)
        c = self.counts
        outcome = (
            f"{c.get('passed', 0)} passed, {c.get('failed', 0) + c.get('error', 0)} failed, "
            f"{c.get('skipped', 0)} skipped"
            if c
            else "no test report"
        )
        status = "ok" if self.ok else f"FAILED ({self.problem})"
        return f"compat {self.name}: {status}; {versions}; {outcome}; {self.seconds:.0f} s"


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def say(message: str) -> None:
    print(f"compat: {message}", flush=True)


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # nothing of the work tree (src/) reaches the compat venvs
    env.pop("PYTHONHOME", None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave no __pycache__ of another venv in the tree
    return env


def run(cmd: Sequence[str | Path], *, env: Mapping[str, str], what: str) -> None:
    """Run ``cmd`` from the repo root; its output goes to ours; raise Failure when it fails."""
    done = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=dict(env), check=False)
    if done.returncode != 0:
        raise Failure(f"{what} exited {done.returncode}")


def capture(cmd: Sequence[str | Path], *, env: Mapping[str, str], what: str) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=ROOT, env=dict(env), check=False, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise Failure(f"{what} exited {done.returncode}")
    return done.stdout


def build_wheel(out: Path) -> Path:
    """Build the library's wheel from a clean copy of its sources into ``out``; return it."""
    with tempfile.TemporaryDirectory(prefix="turbina-src-") as tmp:
        src = Path(tmp)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        for name in (*BUILD_INPUTS, *OPTIONAL_BUILD_INPUTS):
            path = ROOT / name
            if path.is_dir():
                shutil.copytree(path, src / name, ignore=ignore)
            elif path.is_file():
                shutil.copy2(path, src / name)
            elif name in BUILD_INPUTS:
                raise Failure(f"{name} is missing: cannot build the wheel")
        out.mkdir(parents=True, exist_ok=True)
        cmd: list[str | Path] = [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            out,
            src,
        ]
        run(cmd, env=base_env(), what="pip wheel")
    wheels = sorted(out.glob("turbina-*.whl"))
    if len(wheels) != 1:
        raise Failure(f"expected one turbina wheel in {out}, found {len(wheels)}")
    return wheels[0]


def installed(python: Path, env: Mapping[str, str]) -> dict[str, str]:
    """{normalized name: version} of what ``python``'s environment holds."""
    out = capture([python, "-m", "pip", "list", "--format=json"], env=env, what="pip list")
    return {normalize(p["name"]): p["version"] for p in json.loads(out)}


def pins(constraints: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for raw in constraints.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            if not sep:
                raise Failure(f"{constraints.name}: not a name==version pin: {raw!r}")
            found[normalize(name.strip())] = version.strip()
    return found


def show(versions: Mapping[str, str]) -> None:
    width = max(len(n) for n in SHOWN)
    for name in SHOWN:
        print(f"    {name:<{width}}  {versions.get(normalize(name), '-')}", flush=True)


def run_env(env: Env, wheel: Path, pytest_args: Sequence[str]) -> Result:
    result = Result(env.name)
    started = time.monotonic()
    try:
        check_env(env, wheel, pytest_args, result)
        result.ok = True
    except Failure as exc:
        result.problem = str(exc)
    result.seconds = time.monotonic() - started
    return result


def check_env(env: Env, wheel: Path, pytest_args: Sequence[str], result: Result) -> None:
    venv = VENVS / env.name
    python = venv / "bin" / "python"
    environ = base_env()
    environ["VIRTUAL_ENV"] = str(venv)
    environ["PATH"] = f"{venv / 'bin'}{os.pathsep}{environ.get('PATH', '')}"

    say(f"{env.name}: fresh venv {venv.relative_to(ROOT)}")
    run([sys.executable, "-m", "venv", "--clear", venv], env=environ, what="python -m venv")
    pip: list[str | Path] = [python, "-m", "pip", "install", "-q"]
    if env.constraints is not None:
        pip += ["-c", env.constraints]
    else:
        pip += ["--upgrade"]

    if env.bare_check:
        say(f"{env.name}: the wheel alone (no extra, no test requirements):")
        run([*pip, wheel], env=environ, what="pip install (bare wheel)")
        run([python, "-m", "pip", "list"], env=environ, what="pip list")
        bare = set(installed(python, environ)) - SEED
        if not (BARE - BARE_OPTIONAL) <= bare <= BARE:
            extra, missing = sorted(bare - BARE), sorted(BARE - BARE_OPTIONAL - bare)
            raise Failure(f"the bare wheel pulled {extra or 'nothing more'}, lacks {missing}")

    say(f"{env.name}: the wheel with [redis] and tests/requirements.txt")
    run([*pip, f"{wheel}[redis]", "-r", REQUIREMENTS], env=environ, what="pip install")
    result.versions = installed(python, environ)
    show(result.versions)
    if env.constraints is not None:
        wrong = {
            n: result.versions.get(n)
            for n, v in pins(env.constraints).items()
            if result.versions.get(n) != v
        }
        if wrong:
            raise Failure(f"not at the pinned versions: {wrong}")

    site = capture(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        env=environ,
        what="sysconfig",
    ).strip()
    with tempfile.TemporaryDirectory(prefix="turbina-compat-") as tmp:
        report = Path(tmp) / "report.json"
        pytest_env = dict(environ)
        pytest_env["PYTHONPATH"] = str(HERE)  # only for the compat_probe plugin
        pytest_env["TURBINA_COMPAT_REPORT"] = str(report)
        pytest_env["TURBINA_COMPAT_WHEEL"] = str(wheel)  # tests/test_distribution.py reuses it
        say(f"{env.name}: python -m pytest {' '.join(pytest_args)}")
        cmd = [python, "-m", "pytest", "-p", "no:cacheprovider", "-p", "compat_probe", "-q"]
        done = subprocess.run([*map(str, cmd), *pytest_args], cwd=ROOT, env=pytest_env)
        if not report.is_file():
            raise Failure(f"pytest exited {done.returncode} without a report")
        data = json.loads(report.read_text())
    result.counts = {k: int(v) for k, v in data.items() if k not in ("turbina_file",)}
    origin = data.get("turbina_file")
    if not origin or not Path(origin).resolve().is_relative_to(Path(site).resolve()):
        raise Failure(f"the tests imported turbina from {origin}, not from {site}")
    say(f"{env.name}: the tests imported {origin}")
    if done.returncode != 0:
        raise Failure(f"pytest exited {done.returncode}")


SERVER_AND_BROWSER_TESTS = (
    "tests/assets/test_browser.py",
    "tests/dashboard/test_browser.py",
    "tests/monitor/test_gunicorn.py",
)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # The browser and real-server tests exercise the same wheel code as in the main run; at
    # the version edges they would only add minutes (make test must stay near 10 minutes).
    pytest_args = ["tests", *(f"--ignore={path}" for path in SERVER_AND_BROWSER_TESTS)]
    if "--" in args:
        cut = args.index("--")
        args, pytest_args = args[:cut], args[cut + 1 :]
    names = [e.name for e in ENVS]
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("envs", nargs="*", metavar="ENV", help=f"of {names} (default: all)")
    chosen = set(parser.parse_args(args).envs or names)
    if chosen - set(names):
        parser.error(f"unknown environment(s): {sorted(chosen - set(names))}; known: {names}")

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="turbina-wheel-") as tmp:
        try:
            wheel = build_wheel(Path(tmp))
        except Failure as exc:
            say(f"FAILED: {exc}")
            return 1
        say(f"built {wheel.name}")
        results = [run_env(env, wheel, pytest_args) for env in ENVS if env.name in chosen]

    print()
    for result in results:
        print(result.line())
    passed = sum(r.counts.get("passed", 0) for r in results)
    failed = sum(r.counts.get("failed", 0) + r.counts.get("error", 0) for r in results)
    skipped = sum(r.counts.get("skipped", 0) for r in results)
    say(f"{len(results)} environments in {time.monotonic() - started:.0f} s")
    print(f"compat: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
