"""The build: fingerprints, precompressed variants, determinism, incremental rebuilds, errors."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest

from turbina.assets.build import BuildReport, build_assets
from turbina.assets.compress import decompress
from turbina.assets.manifest import read_manifest
from turbina.assets.spec import LAZY_JS, AssetError, resolve_bundles

from .siteapp import BUNDLES, copy_site


def build(site: Path, *, force: bool = False, prune: bool = False) -> BuildReport:
    static = site / "static"
    bundles = resolve_bundles(BUNDLES, static)
    return build_assets(bundles, static, static / "dist", force=force, prune=prune)


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file of ``folder``: (mtime_ns, bytes)."""
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def entry(site: Path, name: str) -> dict[str, object]:
    data = json.loads((site / "static" / "dist" / "manifest.json").read_text())
    return dict(data["bundles"][name])


def test_bundles_are_minified_fingerprinted_and_listed(site: Path) -> None:
    report = build(site)
    dist = site / "static" / "dist"
    assert sorted(b.name for b in report.bundles) == sorted([*BUNDLES, LAZY_JS])
    css = entry(site, "site.css")
    body = (dist / str(css["file"])).read_bytes()
    assert str(css["file"]).startswith("site.") and str(css["file"]).endswith(".css")
    assert hashlib.sha256(body).hexdigest()[:16] in str(css["file"])
    assert css["integrity"] == "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()
    sources = [s["path"] for s in css["sources"]]
    assert sources == ["css/base.css", "css/page.css"]
    text = body.decode()
    assert "/*" not in text.replace("/* nor this */", "")  # comments gone, the string stays
    assert text.index(".site-header") < text.index(".summary")  # the sources' order
    # What the CSS points at is fingerprinted too (cached for good, like the bundle).
    svg = (site / "static" / "img" / "dot.svg").read_bytes()
    copy = f"img/dot.{hashlib.sha256(svg).hexdigest()[:16]}.svg"
    assert f"url({copy})" in text
    assert (dist / copy).read_bytes() == svg
    assert [r["path"] for r in css["references"]] == ["img/dot.svg"]  # type: ignore[attr-defined]
    assert copy in css["extra_files"]  # type: ignore[operator]
    plain = sum(len((site / "static" / p).read_bytes()) for p in BUNDLES["site.css"])
    assert len(body) < plain * 0.8


def test_css_urls_follow_a_bundle_into_a_deeper_folder(site: Path) -> None:
    static = site / "static"
    bundles = resolve_bundles({"themes/dark/site.css": ["css/base.css"]}, static)
    build_assets(bundles, static, static / "dist")
    [built] = (static / "dist" / "themes" / "dark").glob("site.*.css")
    [image] = (static / "dist" / "img").glob("dot.*.svg")
    assert f"url(../../img/{image.name})" in built.read_text()  # dist/themes/dark -> dist/img


def test_variants_are_smaller_decompress_to_the_file_and_have_no_timestamp(site: Path) -> None:
    build(site)
    dist = site / "static" / "dist"
    lazy = entry(site, LAZY_JS)
    body = (dist / str(lazy["file"])).read_bytes()
    encodings = dict(lazy["encodings"])  # type: ignore[call-overload]
    assert set(encodings) == {"br", "gzip"}
    for encoding, suffix in (("br", ".br"), ("gzip", ".gz")):
        packed = (dist / (str(lazy["file"]) + suffix)).read_bytes()
        assert len(packed) == encodings[encoding] < len(body) * 0.95
        assert decompress(packed, encoding) == body
    gz = (dist / (str(lazy["file"]) + ".gz")).read_bytes()
    assert gz[4:8] == b"\0\0\0\0"  # gzip MTIME field: 0
    assert gz[3] & 0x08 == 0  # no FNAME: the temporary file's name is not in the header


def test_a_variant_is_kept_only_when_smaller(tmp_path: Path) -> None:
    static = tmp_path / "static"
    (static / "img").mkdir(parents=True)
    (static / "tiny.js").write_text("var a=1;\n")
    (static / "img" / "pixel.png").write_bytes(bytes(range(200)))
    bundles = resolve_bundles({"tiny.js": ["tiny.js"], "pixel.png": ["img/pixel.png"]}, static)
    build_assets(bundles, static, static / "dist")
    manifest = read_manifest(static / "dist" / "manifest.json")
    assert manifest is not None
    assert dict(manifest.entries["tiny.js"].encodings) == {}  # gzip/br headers > the savings
    assert dict(manifest.entries["pixel.png"].encodings) == {}  # images are never recompressed
    png = manifest.entries["pixel.png"]
    assert (static / "dist" / png.file).read_bytes() == bytes(range(200))
    assert not list((static / "dist").glob("tiny.*.js.*"))


def test_the_fingerprint_follows_the_content(site: Path) -> None:
    build(site)
    first = entry(site, "site.css")["file"]
    page = site / "static" / "css" / "page.css"
    page.write_text(page.read_text() + "\n.extra { color: #123456; }\n")
    build(site)
    second = entry(site, "site.css")["file"]
    assert second != first
    assert (site / "static" / "dist" / str(first)).is_file()  # old pages may still ask for it
    page.write_text(page.read_text().replace("\n.extra { color: #123456; }\n", ""))
    build(site)
    assert entry(site, "site.css")["file"] == first


def test_output_is_deterministic(tmp_path: Path) -> None:
    one = copy_site(tmp_path / "one")
    two = copy_site(tmp_path / "two")
    os.utime(two / "static" / "css" / "base.css", ns=(1, 1))  # other mtimes, same bytes
    build(one)
    build(two)
    files_one = {k: v[1] for k, v in snapshot(one / "static" / "dist").items()}
    files_two = {k: v[1] for k, v in snapshot(two / "static" / "dist").items()}
    manifest_one = json.loads(files_one.pop("manifest.json"))
    manifest_two = json.loads(files_two.pop("manifest.json"))
    assert files_one == files_two  # every bundle and variant, byte for byte
    for data in (manifest_one, manifest_two):
        for bundle in data["bundles"].values():
            for source in bundle["sources"]:
                del source["mtime_ns"]
                if source["path"].endswith(LAZY_JS):
                    source["path"] = LAZY_JS
    assert manifest_one == manifest_two


def test_no_change_rewrites_nothing(site: Path) -> None:
    build(site)
    before = snapshot(site / "static" / "dist")
    report = build(site)
    assert report.built == ()
    assert report.written == () and not report.manifest_written
    assert snapshot(site / "static" / "dist") == before


def test_a_changed_file_rebuilds_only_its_bundles(site: Path) -> None:
    build(site)
    app_js = site / "static" / "js" / "app.js"
    app_js.write_text(app_js.read_text() + "\nwindow.siteVersion = 2;\n")
    report = build(site)
    assert report.built == ("site.js",)
    assert all(path.name.startswith("site.") for path in report.written)
    assert report.manifest_written


def test_a_changed_image_rebuilds_the_stylesheet_that_points_at_it(site: Path) -> None:
    build(site)
    first = entry(site, "site.css")
    (site / "static" / "img" / "dot.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>\n')
    report = build(site)
    assert report.built == ("site.css",)
    second = entry(site, "site.css")
    assert second["file"] != first["file"] and second["extra_files"] != first["extra_files"]
    [copy] = [f for f in second["extra_files"] if f.endswith(".svg")]  # type: ignore[attr-defined]
    assert f"url({copy})" in (site / "static" / "dist" / str(second["file"])).read_text()
    pruned = {p.name for p in build(site, prune=True).pruned}
    assert str(first["file"]) in pruned
    assert {f.rsplit("/", 1)[-1] for f in first["extra_files"]} <= pruned  # type: ignore[attr-defined]


def test_a_touched_file_is_recognised_by_its_hash(site: Path) -> None:
    build(site)
    base = site / "static" / "css" / "base.css"
    os.utime(base, ns=(base.stat().st_atime_ns, base.stat().st_mtime_ns + 10**9))
    report = build(site)
    assert report.built == () and report.written == ()
    assert report.manifest_written  # the new mtime is recorded: the next build reads nothing
    assert not build(site).manifest_written


def test_a_deleted_output_is_rebuilt(site: Path) -> None:
    build(site)
    dist = site / "static" / "dist"
    (dist / (str(entry(site, "site.css")["file"]) + ".br")).unlink()
    report = build(site)
    assert report.built == ("site.css",)
    assert (dist / (str(entry(site, "site.css")["file"]) + ".br")).is_file()


def test_force_and_prune(site: Path) -> None:
    build(site)
    old = entry(site, "site.js")["file"]
    app_js = site / "static" / "js" / "app.js"
    app_js.write_text(app_js.read_text() + "\nwindow.siteVersion = 3;\n")
    assert len(build(site, force=True).built) == len(BUNDLES) + 1
    report = build(site, prune=True)
    dist = site / "static" / "dist"
    assert {p.name for p in report.pruned} == {str(old), f"{old}.br", f"{old}.gz"}
    assert not (dist / str(old)).exists() and (dist / "manifest.json").is_file()


def test_a_missing_source_names_the_file_and_writes_nothing(site: Path) -> None:
    static = site / "static"
    bundles = resolve_bundles({**BUNDLES, "site.css": ["css/base.css", "css/gone.css"]}, static)
    with pytest.raises(AssetError) as info:
        build_assets(bundles, static, static / "dist")
    assert "css/gone.css" in info.value.message and "'site.css'" in info.value.message
    assert not (static / "dist").exists()


def test_a_syntax_error_names_the_file_and_keeps_the_last_good_build(site: Path) -> None:
    build(site)
    before = snapshot(site / "static" / "dist")
    (site / "static" / "js" / "app.js").write_text("var x = {;\n")
    with pytest.raises(AssetError) as info:
        build(site)
    assert info.value.message.startswith("js/app.js:1:")
    assert snapshot(site / "static" / "dist") == before


def test_an_unreadable_manifest_is_rebuilt_not_trusted(site: Path) -> None:
    build(site)
    manifest = site / "static" / "dist" / "manifest.json"
    manifest.write_text('{"turbina_assets": 1, "bundles": {}}')  # no options: another format
    report = build(site)
    assert len(report.built) == len(BUNDLES) + 1 and report.manifest_written
    assert read_manifest(manifest) is not None


def test_bad_bundle_definitions_are_refused(tmp_path: Path) -> None:
    cases = {
        "../escape.css": "not a plain relative path",
        "noextension": "no file extension",
        "logo.png": "only .css and .js bundles join several",
    }
    for name, expected in cases.items():
        with pytest.raises(AssetError) as info:
            resolve_bundles({name: ["a.png", "b.png"]}, tmp_path)
        assert expected in info.value.message, name
    with pytest.raises(AssetError):
        resolve_bundles({"a.js": "a.js"}, tmp_path)  # type: ignore[dict-item]
