"""Flask glue of ``turbina.assets``: the ``turbina_asset()`` template helper, debug serving,
WhiteNoise in front of the app, dynamic compression and ``Link: rel=preload`` headers.

- ``{{ turbina_asset('app.css') }}`` is the bundle's fingerprinted URL from the manifest read
  at start-up; in debug (``app.debug``) it is the plain URL ``/static/dist/app.css``, answered
  from the sources as they are now, so editing a file needs no build. ``preload=True`` also
  lists the URL in the response's ``Link`` header.
- The static folder is served by ``turbina.assets.serve.StaticFiles`` (WhiteNoise) wrapped
  around ``app.wsgi_app``: static requests never enter Flask.
- Dynamic responses are compressed by Flask-Compress (brotli, then gzip; below
  ``TURBINA_COMPRESS_MIN_BYTES`` they are sent as they are); file responses are not. Its own
  ``COMPRESS_*`` keys, when the app sets them, win over the values derived here.
"""

from __future__ import annotations

import importlib.util

from flask import Flask, Response, abort, current_app, g, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from turbina.assets.manifest import MANIFEST_NAME
from turbina.assets.spec import AssetError
from turbina.assets.state import AssetsState
from turbina.config import Settings
from turbina.errors import TurbinaError
from turbina.flask.state import find_state

__all__ = ["install", "turbina_asset"]

INSTALL = "pip install 'turbina[assets]'"
SOURCE_ENDPOINT = "turbina_asset_source"
_PRELOAD_KEY = "_turbina_preload"
# Extension -> the `as` of a preload link; fonts must also be fetched in CORS mode.
_PRELOAD_AS = {
    "css": "style",
    "js": "script",
    "mjs": "script",
    "woff2": "font",
    "woff": "font",
    "ttf": "font",
    "otf": "font",
    "png": "image",
    "jpg": "image",
    "jpeg": "image",
    "gif": "image",
    "svg": "image",
    "webp": "image",
    "avif": "image",
}
# What Flask-Compress compresses: text the app renders (not images or archives).
COMPRESSED_TYPES = [
    "text/html",
    "text/plain",
    "text/css",
    "text/csv",
    "text/xml",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/problem+json",
    "application/xml",
    "application/xhtml+xml",
    "image/svg+xml",
]


def _wanted(flag: bool | None, module: str, key: str) -> bool:
    """``None``: when ``module`` is installed; ``True``: it must be."""
    if flag is False:
        return False
    present = importlib.util.find_spec(module) is not None
    if flag and not present:
        raise TurbinaError(f"{key} is on but {module} is not installed", INSTALL)
    return present


def install(app: Flask, settings: Settings) -> AssetsState | None:
    """Wire the assets part into ``app``; its ``AssetsState`` (``None`` without a static
    folder). Reads the manifest once, here."""
    state = None
    if app.static_folder is not None:
        state = AssetsState(
            app.static_folder,
            settings.assets_bundles,
            output=settings.assets_dir,
            zstd=settings.assets_zstd,
        )
        app.add_url_rule(
            f"{app.static_url_path}/{state.output}/<path:name>",
            endpoint=SOURCE_ENDPOINT,
            view_func=_source_view,
        )
        if _wanted(settings.assets_serve, "whitenoise", "TURBINA_ASSETS_SERVE"):
            from turbina.assets.serve import StaticFiles

            app.wsgi_app = StaticFiles(  # type: ignore[method-assign]
                app.wsgi_app, state, app.static_url_path or "/", autorefresh=app.debug
            )
    elif settings.assets_bundles:
        raise TurbinaError(
            "TURBINA_ASSETS_BUNDLES is set but the app has no static folder",
            "create the app with a static_folder",
        )
    app.add_template_global(turbina_asset, "turbina_asset")
    if _wanted(settings.compress_responses, "flask_compress", "TURBINA_COMPRESS_RESPONSES"):
        _install_compress(app, settings)
    app.after_request(_preload_links)
    return state


def _install_compress(app: Flask, settings: Settings) -> None:
    from flask_compress import Compress

    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_MIN_SIZE", settings.compress_min_bytes)
    app.config.setdefault("COMPRESS_MIMETYPES", list(COMPRESSED_TYPES))
    # Registered through our own hook: Flask-Compress would also compress file responses
    # (send_file, direct_passthrough), reading the whole file into memory and leaving the
    # file unclosed; files are WhiteNoise's job, precompressed at build time.
    app.config["COMPRESS_REGISTER"] = False
    compress = Compress(app)

    def compress_response(response: Response) -> Response:
        if response.direct_passthrough:
            return response
        return compress.after_request(response)

    app.after_request(compress_response)


def _assets() -> AssetsState:
    state = find_state()
    assets = state.assets if state is not None else None
    if assets is None:
        raise TurbinaError(
            "turbina_asset() needs Turbina on an app with a static folder",
            "call Turbina(app) (with TURBINA_ENABLED true) on an app that has a static folder",
        )
    return assets


def turbina_asset(name: str, preload: bool = False) -> str:
    """The URL of bundle ``name``: fingerprinted from the manifest, or plain in debug.

    ``preload=True`` adds it to this response's ``Link: <url>; rel=preload`` header.
    """
    assets = _assets()
    url = url_for("static", filename=assets.static_path(name, debug=current_app.debug))
    if preload:
        kind = _PRELOAD_AS.get(name.rpartition(".")[2].lower())
        if kind is None:
            raise AssetError(
                f"cannot preload {name!r}: not a style, script, font or image",
                "drop preload=True for it",
            )
        link = f"<{url}>; rel=preload; as={kind}" + ("; crossorigin" if kind == "font" else "")
        links: list[str] = g.setdefault(_PRELOAD_KEY, [])
        if link not in links:
            links.append(link)
    return url


def _preload_links(response: Response) -> Response:
    links = g.pop(_PRELOAD_KEY, None)
    if links and response.mimetype == "text/html":
        response.headers.add("Link", ", ".join(links))
    return response


def _source_view(name: str) -> BaseResponse:
    """In debug, bundle ``name`` joined from its current sources (unminified); otherwise the
    built file itself, as Flask's static route would send it (this rule, more specific,
    shadows that one for the output folder)."""
    assets = _assets()
    if name == MANIFEST_NAME:
        abort(404)  # the build's bookkeeping, not a page asset
    if not current_app.debug or name not in assets.bundles:
        return current_app.send_static_file(f"{assets.output}/{name}")
    body, mimetype = assets.source_bytes(name)
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    return response.make_conditional(request)
