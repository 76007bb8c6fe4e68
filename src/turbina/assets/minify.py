"""CSS and JavaScript minification, with errors that name the file, line and column.

The minifiers are tdewolff/minify's (the Go library Hugo uses), through its Python binding
``tdewolff-minify``: real CSS and ECMAScript parsers, so a string holding ``//`` or ``/*``, a
regex literal, a template literal or ``</script>`` inside a string come out intact, and broken
JavaScript (an unterminated string, a stray brace) is an error instead of a broken bundle.
rcssmin/rjsmin were tried first and fall short: rcssmin 1.3 turns ``url( "a b.png" )`` into
``url("ab.png")``, and neither reports any error, so an unterminated string passes through
and takes the rest of the bundle with it in the browser.

CSS goes through tinycss2 (a CSS Syntax Level 3 tokenizer) first, for two jobs the minifier
does not do: rewriting relative ``url()``s so they still point at the same files from the
bundle's folder, and reporting the errors CSS parsers recover from silently (a bad string, an
unmatched brace, a comment left open that swallows the rest of the file).

Files named ``*.min.js`` / ``*.min.css`` are already minified (vendor builds): they are
copied as they are, which is faster and keeps their licence comments byte for byte.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from turbina.assets.spec import AssetError

_INSTALL = "pip install 'turbina[assets]'"
_GO_POSITION = re.compile(r"on line (\d+) and column (\d+)")
# A URL with a scheme (data:, https:), protocol-relative, absolute, or a fragment only.
_NOT_RELATIVE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//|/|#)")


def _minify_module() -> Any:
    try:
        import minify  # tdewolff-minify
    except ImportError:
        raise AssetError(
            "minifying assets needs tdewolff-minify, which is not installed", _INSTALL
        ) from None
    return minify


def _tinycss2() -> Any:
    try:
        import tinycss2
    except ImportError:
        raise AssetError("bundling CSS needs tinycss2, which is not installed", _INSTALL) from None
    return tinycss2


def decode(data: bytes, path: str) -> str:
    """The text of a source file: UTF-8 (a BOM is dropped), else an error naming the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise AssetError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x})",
            "save the file as UTF-8",
        ) from None


def is_preminified(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    return name.endswith((".min.js", ".min.css", ".min.mjs"))


def minify_js(text: str, path: str) -> str:
    """Minified JavaScript (local names shortened); ``AssetError`` on a syntax error."""
    if is_preminified(path):
        return text
    minify = _minify_module()
    try:
        return str(minify.string("application/javascript", text))
    except minify.MinifyError as exc:
        raise _syntax_error(path, exc) from None


def minify_css(text: str, path: str, rewrite_url: Callable[[str], str] | None = None) -> str:
    """Minified CSS with ``rewrite_url`` applied to every relative URL; ``AssetError`` on a
    syntax error the browser would recover from by dropping part of the file."""
    text = prepare_css(text, path, rewrite_url)
    if is_preminified(path):
        return text
    minify = _minify_module()
    try:
        return str(minify.string("text/css", text))
    except minify.MinifyError as exc:
        raise _syntax_error(path, exc) from None


def prepare_css(text: str, path: str, rewrite_url: Callable[[str], str] | None = None) -> str:
    """``text`` checked for errors, its relative URLs rewritten (not minified: what debug
    mode serves)."""
    tinycss2 = _tinycss2()
    nodes = tinycss2.parse_component_value_list(text)
    _check_css(nodes, text, path)
    if rewrite_url is None:
        return text
    changed = _rewrite_urls(nodes, rewrite_url)
    return str(tinycss2.serialize(nodes)) if changed else text


def _syntax_error(path: str, exc: Exception) -> AssetError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    found = _GO_POSITION.search(first)
    where = f"{path}:{found.group(1)}:{found.group(2)}" if found else path
    reason = _GO_POSITION.sub("", first).strip().rstrip(",")
    return AssetError(f"{where}: {reason}", f"fix the syntax error in {path}")


def _walk(nodes: Iterable[Any]) -> Iterable[Any]:
    for node in nodes:
        yield node
        for attribute in ("content", "arguments"):
            children = getattr(node, attribute, None)
            if isinstance(children, list):
                yield from _walk(children)


def _check_css(nodes: list[Any], text: str, path: str) -> None:
    last = None
    for node in _walk(nodes):
        last = node
        if node.type == "error":
            raise AssetError(
                f"{path}:{node.source_line}:{node.source_column}: {_css_error(node)}",
                f"fix the CSS in {path}",
            )
    # tinycss2 ends an unclosed comment at the end of the file without an error: everything
    # after "/*" would vanish from the bundle.
    if last is not None and last.type == "comment" and not text.rstrip().endswith("*/"):
        raise AssetError(
            f"{path}:{last.source_line}:{last.source_column}: comment is never closed",
            f"close it with */ in {path}",
        )


def _css_error(node: Any) -> str:
    kinds = {
        "bad-string": "string is not closed before the end of the line",
        "bad-url": "url() is malformed (quote it, or escape spaces and parentheses)",
        "eof-in-string": "string is not closed before the end of the file",
        "eof-in-url": "url() is not closed before the end of the file",
    }
    return kinds.get(node.kind, f"unmatched {node.kind!r}" if len(node.kind) == 1 else node.kind)


def _rewrite_urls(nodes: list[Any], rewrite_url: Callable[[str], str]) -> bool:
    """Rewrite relative URLs in ``url(x)``, ``url("x")`` and ``@import "x"`` in place."""
    from tinycss2.ast import StringToken, URLToken

    changed = False

    def fixed(url: str) -> str | None:
        if not url or _NOT_RELATIVE.match(url):
            return None
        new = rewrite_url(url)
        return new if new != url else None

    def visit(items: list[Any]) -> None:
        nonlocal changed
        after_import = False
        for index, node in enumerate(items):
            if node.type == "url":
                new = fixed(node.value)
                if new is not None:
                    items[index] = URLToken(
                        node.source_line, node.source_column, new, f"url({_css_string(new)})"
                    )
                    changed = True
            elif node.type == "function" and node.lower_name == "url":
                strings = [a for a in node.arguments if a.type not in ("whitespace", "comment")]
                if len(strings) == 1 and strings[0].type == "string":
                    new = fixed(strings[0].value)
                    if new is not None:
                        position = node.arguments.index(strings[0])
                        node.arguments[position] = StringToken(
                            strings[0].source_line,
                            strings[0].source_column,
                            new,
                            _css_string(new),
                        )
                        changed = True
            elif node.type == "string" and after_import:
                new = fixed(node.value)
                if new is not None:
                    items[index] = StringToken(
                        node.source_line, node.source_column, new, _css_string(new)
                    )
                    changed = True
            if node.type == "at-keyword":
                after_import = node.lower_value == "import"
            elif node.type not in ("whitespace", "comment"):
                after_import = False
            for attribute in ("content", "arguments"):
                children = getattr(node, attribute, None)
                url_function = node.type == "function" and node.lower_name == "url"
                if isinstance(children, list) and not url_function:
                    visit(children)  # blocks, and functions such as image-set(url(a.png) 1x)

    visit(nodes)
    return changed


def _css_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\a ")
    return f'"{escaped}"'


def url_rewriter(
    source: Path,
    source_root: Path,
    output_folder: Path,
    fingerprint: Callable[[Path], Path | None] | None = None,
) -> Callable[[str], str]:
    """A ``rewrite_url`` for a CSS file moved from ``source``'s folder into ``output_folder``:
    a relative URL that pointed at a file under ``source_root`` points at it again — or, when
    ``fingerprint`` gives one, at that file's fingerprinted copy. URLs that lead outside
    ``source_root`` (not served as static files) are left as they were."""
    source_dir = source.parent

    def rewrite(url: str) -> str:
        path, mark, rest = _split_url(url)
        if not path:
            return url
        target = Path(posixpath.normpath((source_dir / path).as_posix()))
        try:
            target.relative_to(source_root)
        except ValueError:
            return url
        copy = fingerprint(target) if fingerprint is not None else None
        if copy is not None:
            target = copy
        relative = posixpath.relpath(target.as_posix(), output_folder.as_posix())
        return relative + mark + rest

    return rewrite


def _split_url(url: str) -> tuple[str, str, str]:
    """``("img/a.png", "?", "v=1#x")`` for ``img/a.png?v=1#x``."""
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=-1)
    if cut < 0:
        return url, "", ""
    return url[:cut], url[cut], url[cut + 1 :]
