"""The dashboard's own script and stylesheet through Turbina's asset pipeline.

``turbina.assets.build_assets`` minifies them, names them after their content and
precompresses them (brotli, gzip) into ``<instance folder>/turbina-dashboard-assets``. The
build runs at first use — the first dashboard page asks for it, under a lock — not at
package build: setuptools has no build step here, the output must live somewhere writable,
and the build is incremental, so a restart costs two ``stat()`` calls. Files are then served
by the blueprint (behind its auth) in the smallest variant the browser accepts, with
``Vary: Accept-Encoding`` and a year of ``private, immutable`` caching: their URL changes
when their bytes do. The few kilobytes of the built variants are read once and kept. Without the ``turbina[assets]`` extra (or a writable instance folder)
the dashboard serves its plain files instead and logs why, once.
"""

from __future__ import annotations

import logging
import mimetypes
import threading
from pathlib import Path

from flask import Response, abort, request

from turbina.assets.build import build_assets
from turbina.assets.manifest import read_manifest
from turbina.assets.spec import LAZY_JS, AssetError, resolve_bundles

__all__ = ["BUNDLES", "CACHE_CONTROL", "DashboardAssets"]

log = logging.getLogger("turbina.dashboard")
STATIC = Path(__file__).resolve().parent / "static"
BUNDLES = {"dashboard.js": ["dashboard.js"], "dashboard.css": ["dashboard.css"]}
OUTPUT_DIR = "turbina-dashboard-assets"
CACHE_CONTROL = "private, max-age=31536000, immutable"
_SUFFIXES = {"br": ".br", "gzip": ".gz"}


class DashboardAssets:
    """One app's built dashboard assets: ``url_name`` maps a bundle to its built file (or
    ``None`` when the build is off), ``serve`` answers a request for one."""

    def __init__(self, instance_path: str) -> None:
        self.output = Path(instance_path) / OUTPUT_DIR
        self._lock = threading.Lock()
        self._built: dict[str, str] | None = None  # bundle -> built file name
        self._files: dict[str, dict[str | None, bytes]] = {}  # built file -> encoding -> bytes
        self.error: str | None = None

    def _build(self) -> dict[str, str]:
        with self._lock:
            if self._built is not None:
                return self._built
            try:
                bundles = resolve_bundles(BUNDLES, STATIC)
                bundles.pop(LAZY_JS, None)  # the app's lazy loader is not the dashboard's
                self.output.mkdir(parents=True, exist_ok=True)
                # prune: the folder is the dashboard's alone and its pages are never cached,
                # so older builds are dropped and the folder keeps one build.
                report = build_assets(bundles, STATIC, self.output, prune=True)
                entries = _entries(report.manifest)
            except (AssetError, OSError) as exc:
                self.error = str(exc)
                log.warning(
                    "turbina: the dashboard serves its assets unminified and uncompressed: %s",
                    exc,
                )
                self._built = {}
                return self._built
            files: dict[str, dict[str | None, bytes]] = {}
            for file, encodings in entries.values():
                path = self.output / file
                variants: dict[str | None, bytes] = {None: path.read_bytes()}
                for coding in encodings:
                    if coding in _SUFFIXES:
                        variants[coding] = path.with_name(file + _SUFFIXES[coding]).read_bytes()
                files[file] = variants
            self._files = files
            self._built = {name: file for name, (file, _enc) in entries.items()}
            return self._built

    def url_name(self, bundle: str) -> str | None:
        """The built file of ``bundle`` (``dashboard.<hash>.js``), or ``None``."""
        return self._build().get(bundle)

    def serve(self, filename: str) -> Response:
        """The built file ``filename`` in the best encoding the request accepts."""
        self._build()
        variants = self._files.get(filename)
        if variants is None:
            abort(404, description="no such dashboard asset")
        chosen = None
        for coding in ("br", "gzip"):  # smallest first
            if coding in variants and request.accept_encodings[coding] > 0:
                chosen = coding
                break
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        if mimetype.startswith("text/") or mimetype.endswith("javascript"):
            mimetype += "; charset=utf-8"
        response = Response(variants[chosen], mimetype=mimetype)
        if chosen:
            response.headers["Content-Encoding"] = chosen
        response.headers["Vary"] = "Accept-Encoding"
        response.headers["Cache-Control"] = CACHE_CONTROL
        return response


def _entries(manifest_path: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    """bundle -> (built file, encodings kept), from the build's manifest."""
    manifest = read_manifest(manifest_path)
    if manifest is None:
        raise AssetError(f"the build left no manifest at {manifest_path}", "build again")
    return {
        name: (entry.file, tuple(entry.encodings))
        for name, entry in manifest.entries.items()
        if name in BUNDLES
    }
