"""Serving through the app: the helper in debug and production, cache headers, content
negotiation, 304s, HEAD, dynamic compression and preload links (real files, the Flask test
client through the app's WSGI stack)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path

import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

import turbina
from turbina.assets.compress import decompress
from turbina.assets.serve import accepted_codings
from turbina.errors import TurbinaError

IMMUTABLE = "public, max-age=31536000, immutable"
MakeApp = Callable[..., Flask]


def built_app(make_app: MakeApp, **options: object) -> Flask:
    """Build the site's assets, then start an app (the manifest is read at start-up)."""
    turbina.get_state(make_app(**options)).assets.build()  # type: ignore[union-attr]
    return make_app(**options)


def asset_urls(html: str) -> dict[str, str]:
    """{bundle-ish name: URL} of the stylesheet and scripts a page links."""
    urls = re.findall(r'(?:href|src|data-chart-lib)="(/static/[^"]+)"', html)
    return {re.sub(r"\.[0-9a-f]{16}", "", url.rsplit("/", 1)[-1]): url for url in urls}


def fetch(
    client: FlaskClient, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> TestResponse:
    """A request whose response is read whole and closed (WhiteNoise streams files)."""
    return client.open(path, method=method, headers=headers or {}, buffered=True)


def page_html(app: Flask) -> str:
    return fetch(app.test_client(), "/").get_data(as_text=True)


# --- the helper -----------------------------------------------------------------------------


def test_production_urls_come_from_the_manifest(make_app: MakeApp, site: Path) -> None:
    app = built_app(make_app)
    urls = asset_urls(page_html(app))
    manifest = json.loads((site / "static" / "dist" / "manifest.json").read_text())
    for name in ("site.css", "site.js", "turbina-lazy.js", "chart.js"):
        assert urls[name] == f"/static/dist/{manifest['bundles'][name]['file']}"
        assert fetch(app.test_client(), urls[name]).status_code == 200


def test_debug_serves_the_plain_sources_with_no_build(make_app: MakeApp, site: Path) -> None:
    app = make_app(debug=True)
    urls = asset_urls(page_html(app))
    assert urls["site.css"] == "/static/dist/site.css"
    assert not (site / "static" / "dist").exists()
    client = app.test_client()
    response = fetch(client, urls["site.css"])
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert response.headers["Cache-Control"] == "no-cache"
    body = response.get_data(as_text=True)
    base = (site / "static" / "css" / "base.css").read_text()
    assert body.startswith(base)  # as written: comments and all, the sources in order
    assert "/* Page layout" in body
    again = fetch(client, urls["site.css"], headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    (site / "static" / "css" / "page.css").write_text(".changed { color: red; }\n")
    assert ".changed" in fetch(client, urls["site.css"]).get_data(as_text=True)  # no rebuild


def test_the_debug_route_is_closed_in_production(make_app: MakeApp) -> None:
    app = built_app(make_app)
    assert fetch(app.test_client(), "/static/dist/site.css").status_code == 404


def test_the_manifest_is_not_served(make_app: MakeApp) -> None:
    built_app(make_app)
    for app in (make_app(), make_app(debug=True)):
        assert fetch(app.test_client(), "/static/dist/manifest.json").status_code == 404


def test_without_a_build_production_says_what_to_run(make_app: MakeApp) -> None:
    app = make_app()
    with app.test_request_context("/"), pytest.raises(TurbinaError) as info:
        render_template_string("{{ turbina_asset('site.css') }}")
    assert "no asset manifest" in info.value.message
    assert "turbina assets build" in (info.value.fix or "")


def test_an_unknown_bundle_is_an_error_naming_the_known_ones(make_app: MakeApp) -> None:
    app = make_app(debug=True)
    with app.test_request_context("/"), pytest.raises(TurbinaError) as info:
        render_template_string("{{ turbina_asset('nope.css') }}")
    assert "'nope.css'" in info.value.message and "site.css" in info.value.message


def test_preload_links_for_the_page_s_critical_assets(make_app: MakeApp) -> None:
    app = built_app(make_app)
    response = fetch(app.test_client(), "/")
    css = asset_urls(response.get_data(as_text=True))["site.css"]
    assert response.headers["Link"] == f"<{css}>; rel=preload; as=style"
    assert "Link" not in fetch(app.test_client(), "/data/rows.json").headers


# --- static files: cache headers, negotiation, 304, HEAD ---------------------------------------


@pytest.fixture
def production(make_app: MakeApp) -> Flask:
    return built_app(make_app)


def css_url(app: Flask) -> str:
    return asset_urls(page_html(app))["site.css"]


def test_fingerprinted_files_are_immutable_and_negotiated(production: Flask, site: Path) -> None:
    client = production.test_client()
    url = css_url(production)
    plain = (site / "static" / url.removeprefix("/static/")).read_bytes()
    seen = {}
    for accept, encoding in [
        ("gzip, deflate, br, zstd", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("identity", None),
        ("", None),
    ]:
        response = fetch(client, url, headers={"Accept-Encoding": accept})
        assert response.status_code == 200, accept
        assert response.headers["Cache-Control"] == IMMUTABLE
        assert response.headers["Vary"] == "Accept-Encoding"
        assert response.headers.get("Content-Encoding") == encoding, accept
        assert response.mimetype == "text/css"
        assert response.mimetype_params["charset"] == "utf-8"
        body = response.data if encoding is None else decompress(response.data, encoding)
        assert body == plain
        assert int(response.headers["Content-Length"]) == len(response.data)
        seen[encoding] = len(response.data)
    assert seen["br"] < seen["gzip"] < seen[None]


def test_conditional_requests_answer_304(production: Flask) -> None:
    client = production.test_client()
    url = css_url(production)
    first = fetch(client, url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert fetch(client, url, headers={"If-None-Match": etag}).status_code == 304
    assert fetch(client, url, headers={"If-Modified-Since": modified}).status_code == 304
    assert fetch(client, url, headers={"If-None-Match": '"other"'}).status_code == 200
    old = formatdate(0, usegmt=True)
    assert fetch(client, url, headers={"If-Modified-Since": old}).status_code == 200
    not_modified = fetch(client, url, headers={"If-None-Match": etag})
    assert not_modified.data == b"" and not_modified.headers["Cache-Control"] == IMMUTABLE


def test_head_has_the_headers_and_no_body(production: Flask) -> None:
    client = production.test_client()
    url = css_url(production)
    get = fetch(client, url, headers={"Accept-Encoding": "br"})
    head = fetch(client, url, {"Accept-Encoding": "br"}, method="HEAD")
    assert head.status_code == 200 and head.data == b""
    for header in ("Content-Length", "Content-Encoding", "ETag", "Cache-Control", "Vary"):
        assert head.headers[header] == get.headers[header], header


def test_other_static_files_revalidate_with_etag_and_last_modified(production: Flask) -> None:
    client = production.test_client()
    response = fetch(client, "/static/css/base.css")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    assert "ETag" in response.headers and "Last-Modified" in response.headers
    again = fetch(
        client, "/static/css/base.css", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304
    assert fetch(client, "/static/img/dot.svg", method="HEAD").status_code == 200


def test_zstd_variants_when_asked_for(make_app: MakeApp, site: Path) -> None:
    app = built_app(make_app, TURBINA_ASSETS_ZSTD=True)
    url = css_url(app)
    assert (site / "static" / (url.removeprefix("/static/") + ".zst")).is_file()
    response = fetch(app.test_client(), url, headers={"Accept-Encoding": "zstd"})
    assert response.headers["Content-Encoding"] == "zstd"
    plain = fetch(app.test_client(), url, headers={"Accept-Encoding": "identity"}).data
    assert decompress(response.data, "zstd") == plain


def test_serving_off_leaves_static_files_to_flask(make_app: MakeApp) -> None:
    app = built_app(make_app, TURBINA_ASSETS_SERVE=False)
    response = fetch(app.test_client(), css_url(app), headers={"Accept-Encoding": "br"})
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") != IMMUTABLE
    assert "Content-Encoding" not in response.headers


def test_accept_encoding_drops_refused_codings() -> None:
    assert accepted_codings("gzip;q=1.0, br;q=0, zstd") == "gzip, zstd"
    assert accepted_codings("BR; q=0.5, identity;q=0") == "br"
    assert accepted_codings("gzip;q=bogus") == ""


# --- dynamic responses ---------------------------------------------------------------------


def test_large_html_and_json_are_compressed(production: Flask) -> None:
    client = production.test_client()
    for path in ("/", "/report.json"):
        plain = fetch(client, path)
        packed = fetch(client, path, headers={"Accept-Encoding": "gzip, br"})
        assert packed.headers["Content-Encoding"] == "br", path
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert decompress(packed.data, "br") == plain.data
        assert len(packed.data) < len(plain.data) * 0.6
        gzipped = fetch(client, path, headers={"Accept-Encoding": "gzip"})
        assert gzipped.headers["Content-Encoding"] == "gzip"
        assert decompress(gzipped.data, "gzip") == plain.data
        assert "Content-Encoding" not in plain.headers


def test_small_responses_and_a_disabled_switch_are_not_compressed(make_app: MakeApp) -> None:
    client = built_app(make_app).test_client()
    small = fetch(client, "/small", headers={"Accept-Encoding": "br"})
    assert small.data == b"ok" and "Content-Encoding" not in small.headers
    off = built_app(make_app, TURBINA_COMPRESS_RESPONSES=False).test_client()
    assert "Content-Encoding" not in off.get("/", headers={"Accept-Encoding": "br"}).headers


def test_a_streamed_response_stays_streamed_when_compressed(production: Flask) -> None:
    client = production.test_client()
    plain = fetch(client, "/stream.csv")
    response = client.get(path="/stream.csv", headers={"Accept-Encoding": "br"})
    # Not read whole into memory first (Flask-Compress < 1.22 did): no Content-Length.
    assert response.is_streamed and "Content-Length" not in response.headers
    assert response.headers["Content-Encoding"] == "br"
    assert decompress(b"".join(response.response), "br") == plain.data
    response.close()
