"""Minification: the edge cases a newline-deleting "minifier" breaks, and errors that name
the file, line and column. (That the minified JavaScript still computes the same values is
checked in Chromium, in test_browser.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from turbina.assets.minify import decode, minify_css, minify_js, prepare_css, url_rewriter
from turbina.assets.spec import AssetError

# --- JavaScript ---------------------------------------------------------------------------


def test_js_comments_go_but_strings_that_look_like_comments_stay() -> None:
    source = (
        "// a line comment\n"
        "var url = 'http://example.com/a//b'; /* a block comment */\n"
        'var glob = "/* not a comment */";\n'
        "var tpl = `line // ${1 + 2} /* x */`;\n"
    )
    out = minify_js(source, "a.js")
    assert "a line comment" not in out and "a block comment" not in out
    assert "'http://example.com/a//b'" in out or '"http://example.com/a//b"' in out
    assert "/* not a comment */" in out
    assert "`line // ${1+2} /* x */`" in out
    assert len(out) < len(source)


def test_js_regex_literals_and_division_are_told_apart() -> None:
    source = (
        "var a = 10, b = 2, c = 5;\n"
        "var ratio = a / b / c;\n"
        "var stripped = '/*x*/'.replace(/\\/\\*.*?\\*\\//g, '');\n"
        "function check(s) { return /=\\s*\\//.test(s) }\n"
        "if (ratio) /re/.exec('re');\n"
    )
    out = minify_js(source, "a.js")
    assert "ratio=a/b/c" in out  # division, not a regex /b/
    assert '"/*x*/".replace(/\\/\\*.*?\\*\\//g,' in out
    assert "/=\\s*\\//" in out
    assert "/re/.exec" in out


def test_js_closing_script_tag_inside_a_string_is_kept_and_made_inline_safe() -> None:
    out = minify_js('var html = "</script><script>alert(1)</script>";', "a.js")
    assert "</script>" not in out.lower()  # safe even inside an inline <script>
    assert "<\\/script>" in out


def test_js_syntax_error_names_file_line_and_column() -> None:
    with pytest.raises(AssetError) as info:
        minify_js('var ok = 1;\nvar s = "unterminated;\n', "js/broken.js")
    assert str(info.value).startswith("js/broken.js:2:9: ")
    assert "unterminated string" in info.value.message
    assert info.value.fix and "js/broken.js" in info.value.fix
    with pytest.raises(AssetError) as info:
        minify_js("function ( {", "js/f.js")
    assert info.value.message.startswith("js/f.js:1:10: ")


def test_preminified_vendor_files_pass_through_byte_for_byte() -> None:
    vendor = "/*! lib v1 | MIT */\nvar a=function(b){return b}; // keep\n"
    assert minify_js(vendor, "vendor/lib.min.js") == vendor


# --- CSS ----------------------------------------------------------------------------------


def test_css_strings_with_comment_markers_survive() -> None:
    source = '/* gone */ .a::after { content: "/* kept */ // kept"; }\n.b { color : red ; }\n'
    out = minify_css(source, "a.css")
    assert "gone" not in out
    assert '"/* kept */ // kept"' in out
    assert ".b{color:red}" in out


def test_css_url_with_spaces_keeps_its_spaces() -> None:
    source = '.a { background: url( "img/a b.png" ) } .b { background: url(img/c\\ d.png) }'
    out = minify_css(source, "a.css")
    assert 'url("img/a b.png")' in out  # rcssmin 1.3 turns this into url("ab.png")
    assert "url(img/c\\ d.png)" in out


def test_css_syntax_errors_name_file_line_and_column() -> None:
    cases = {
        '.a {\n  content: "open\n}\n': "css/x.css:2:12: string is not closed",
        ".a { color: red }\n}\n": "css/x.css:2:1: unmatched '}'",
        ".a { color: red }\n/* open comment\n.b { color: blue }\n": "css/x.css:2:1: comment",
    }
    for source, expected in cases.items():
        with pytest.raises(AssetError) as info:
            minify_css(source, "css/x.css")
        assert info.value.message.startswith(expected), (source, info.value.message)


def test_not_utf8_names_the_line() -> None:
    with pytest.raises(AssetError) as info:
        decode(b"a { }\nb { content: '\xff' }\n", "css/latin1.css")
    assert info.value.message.startswith("css/latin1.css:2: not UTF-8")
    assert decode("\ufeffa{}".encode(), "bom.css") == "a{}"


def test_relative_urls_are_rewritten_for_the_bundle_folder(tmp_path: Path) -> None:
    root = tmp_path / "static"
    rewrite = url_rewriter(root / "css" / "deep" / "a.css", root, root / "dist")
    source = (
        '@import "base.css";\n'
        ".a { background: url(../../img/x.png?v=2#frag) }\n"
        '.b { background: url( "../img/a b.png" ) }\n'
        ".c { background: url(data:image/png;base64,AAAA) }\n"
        ".d { background: url(/abs.png) }\n"
        ".e { background: url(https://cdn.example/x.png) }\n"
        ".f { filter: url(#shadow) }\n"
        '.g { content: "url(../not-a-url.png)" }\n'
        ".h { background: image-set(url(../../img/y.png) 1x) }\n"
    )
    out = prepare_css(source, "css/deep/a.css", rewrite)
    assert '@import "../css/deep/base.css"' in out
    assert 'url("../img/x.png?v=2#frag")' in out
    assert 'url( "../css/img/a b.png" )' in out
    assert "url(data:image/png;base64,AAAA)" in out
    assert "url(/abs.png)" in out and "url(https://cdn.example/x.png)" in out
    assert "url(#shadow)" in out
    assert '"url(../not-a-url.png)"' in out  # a string, not a URL
    assert 'image-set(url("../img/y.png") 1x)' in out


def test_urls_leading_outside_the_static_folder_are_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "static"
    rewrite = url_rewriter(root / "a.css", root, root / "dist")
    assert rewrite("../../outside.png") == "../../outside.png"
    assert rewrite("img/in.png") == "../img/in.png"
