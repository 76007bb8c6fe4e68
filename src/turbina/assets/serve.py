"""``StaticFiles``: WhiteNoise over an app's static folder, with Turbina's cache policy.

WhiteNoise does the serving (framework-free WSGI): it indexes the folder once at start-up,
answers GET and HEAD, ``If-None-Match``/``If-Modified-Since`` with 304, ranges, and picks the
smallest precompressed variant the client accepts, with ``Vary: Accept-Encoding``. What this
subclass adds, each where WhiteNoise 6 falls short:

- the cache policy: a build output (content-addressed name) is ``public, max-age=31536000,
  immutable``; every other file is ``no-cache`` — revalidated each time, a 304 when unchanged
  — since its URL does not change with its content;
- ``.zst`` variants (WhiteNoise knows ``.gz`` and ``.br`` only);
- ``Accept-Encoding`` quality values: WhiteNoise matches ``br`` anywhere in the header, so
  ``br;q=0`` (br refused) would still get brotli; refused codings are dropped first.

Importing this module needs WhiteNoise (``turbina[assets]``); the Flask glue imports it only
when static serving is on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from wsgiref.headers import Headers

from whitenoise import WhiteNoise
from whitenoise.responders import MissingFileError, StaticFile

from turbina.assets.state import AssetsState

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_VARIANTS = {"gzip": ".gz", "br": ".br", "zstd": ".zst"}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def accepted_codings(header: str) -> str:
    """``Accept-Encoding`` without the codings it refuses (``q=0``), as WhiteNoise reads it."""
    kept = []
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if coding.strip() and quality > 0:
            kept.append(coding.strip().lower())
    return ", ".join(kept)


class StaticFiles(WhiteNoise):
    """Serve ``state``'s static folder at ``prefix`` in front of ``application``.

    ``autorefresh`` re-reads the folder on each request (debug only, as in WhiteNoise).
    """

    def __init__(
        self, application: WSGIApp, state: AssetsState, prefix: str, *, autorefresh: bool
    ) -> None:
        self.assets = state
        super().__init__(application, autorefresh=autorefresh, max_age=None)
        # A folder that does not exist yet is served by the app's own static route; WhiteNoise
        # would warn about it on every start.
        if autorefresh or state.source_root.is_dir():
            self.add_files(str(state.source_root), prefix=prefix)

    @staticmethod
    def serve(static_file: StaticFile, environ: dict[str, Any], start_response: Any) -> Any:
        header = environ.get("HTTP_ACCEPT_ENCODING")
        if header:
            environ = {**environ, "HTTP_ACCEPT_ENCODING": accepted_codings(header)}
        return WhiteNoise.serve(static_file, environ, start_response)

    def add_cache_headers(self, headers: Any, path: str, url: str) -> None:
        headers["Cache-Control"] = IMMUTABLE if self.assets.is_fingerprinted(path) else REVALIDATE

    def add_file_to_dictionary(
        self, url: str, path: str, stat_cache: dict[str, Any] | None = None
    ) -> None:
        if Path(path) == self.assets.manifest_path:
            return  # the build's bookkeeping, not a page asset
        super().add_file_to_dictionary(url, path, stat_cache=stat_cache)

    @staticmethod
    def is_compressed_variant(path: str, stat_cache: dict[str, Any] | None = None) -> bool:
        for suffix in _VARIANTS.values():
            if path.endswith(suffix):
                original = path[: -len(suffix)]
                return (
                    original in stat_cache if stat_cache is not None else os.path.isfile(original)
                )
        return False

    def get_static_file(self, path: str, url: str, stat_cache: dict[str, Any] | None = None) -> Any:
        # WhiteNoise.get_static_file with zstd among the encodings (its list is fixed inside).
        if (stat_cache is None and not os.path.exists(path)) or Path(
            path
        ) == self.assets.manifest_path:
            raise MissingFileError(path)
        headers = Headers([])
        self.add_mime_headers(headers, path, url)
        self.add_cache_headers(headers, path, url)
        if self.allow_all_origins:
            headers["Access-Control-Allow-Origin"] = "*"
        encodings = {encoding: path + suffix for encoding, suffix in _VARIANTS.items()}
        return StaticFile(path, headers.items(), stat_cache=stat_cache, encodings=encodings)
