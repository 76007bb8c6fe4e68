"""Call sites: the application line, Jinja templates mapped to their lines, the loop."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader

from turbina.queries.callsite import CallSite, capture


class Probe:
    """An object whose attribute access captures the call site, like a lazy load (the
    property's own frame is skipped, as SQLAlchemy's and Turbina's are)."""

    def __init__(self, root: str | None = None) -> None:
        self.root = root
        self.sites: list[CallSite | None] = []

    @property
    def author(self) -> str:
        self.sites.append(capture(self.root, skip=2))
        return "someone"


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    (tmp_path / "base.html").write_text("<main>\n{% block content %}{% endblock %}\n</main>\n")
    (tmp_path / "index.html").write_text(
        '{% extends "base.html" %}\n'
        "{% block content %}\n"
        "{% for post in posts %}\n"
        '  {% include "_post.html" %}\n'
        "{% endfor %}\n"
        "{% endblock %}\n"
    )
    (tmp_path / "_post.html").write_text("<p>\n  by {{ post.author }}\n</p>\n")
    (tmp_path / "macros.html").write_text(
        "{% macro byline(post) %}\n<i>{{ post.author }}</i>\n{% endmacro %}\n"
    )
    (tmp_path / "list.html").write_text(
        '{% import "macros.html" as m %}\n'
        "{% for post in posts %}\n"
        "{{ m.byline(post) }}\n"
        "{% endfor %}\n"
    )
    return tmp_path


def test_a_template_line_with_its_include_chain_and_no_layout(templates: Path) -> None:
    probe = Probe(root=str(templates))
    env = Environment(loader=FileSystemLoader(templates), autoescape=True)
    env.get_template("index.html").render(posts=[probe, probe])
    site = probe.sites[0]
    assert site is not None
    # Relative to the root; the layout (base.html) the block fills is not a caller.
    assert site.where == "_post.html:2 (included from index.html:4)"
    assert site.loop is None  # the loop is the include's line, already named


def test_a_macro_is_called_from_its_caller(templates: Path) -> None:
    probe = Probe(root=str(templates))
    env = Environment(loader=FileSystemLoader(templates), autoescape=True)
    env.get_template("list.html").render(posts=[probe])
    site = probe.sites[0]
    assert site is not None and site.where == "macros.html:2 (called from list.html:3)"


def test_the_application_line_and_the_loop_around_the_call() -> None:
    probe = Probe()

    def byline(post: Probe) -> str:
        return post.author

    def page(posts: list[Probe]) -> list[str]:
        return [byline(post) for post in posts]

    page([probe])
    here = os.path.relpath(__file__)
    byline_line = inspect.getsourcelines(byline)[1] + 1
    page_line = inspect.getsourcelines(page)[1] + 1
    assert probe.sites[0] == CallSite(
        f"{here}:{byline_line} in byline", f"{here}:{page_line} in page"
    )
    assert str(probe.sites[0]) == (
        f"{here}:{byline_line} in byline (loop at {here}:{page_line} in page)"
    )


def test_a_while_loop_in_the_same_function_is_not_named_twice() -> None:
    probe = Probe()
    count = 0
    while count < 2:
        probe.author  # noqa: B018 - the access is the point
        count += 1
    site = probe.sites[0]
    assert site is not None and site.loop is None
    assert site.where.endswith(f" in {inspect.currentframe().f_code.co_name}")  # type: ignore[union-attr]


def test_paths_are_relative_to_the_root_and_outside_code_is_not_the_app(tmp_path: Path) -> None:
    probe = Probe(root=os.path.dirname(__file__))
    probe.author  # noqa: B018
    site = probe.sites[0]
    assert site is not None and site.where.startswith("test_callsite.py:")
    # A root the calling code is not under: the first frame outside the libraries, with its
    # absolute path.
    elsewhere = Probe(root=str(tmp_path))
    elsewhere.author  # noqa: B018
    assert elsewhere.sites[0] is not None
    assert elsewhere.sites[0].where.startswith(f"{os.path.abspath(__file__)}:")
