"""Static assets: bundles minified, fingerprinted and precompressed at build time (no Flask).

``build_assets`` turns bundles (ordered source lists) into content-addressed files with gzip,
brotli (and optionally zstd) variants and a manifest; ``AssetsState`` is one app's view of
them; ``StaticFiles`` (WhiteNoise) serves them. ``turbina-lazy.js`` ships with the package.
The minifiers and WhiteNoise come with ``pip install 'turbina[assets]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from turbina._exports import lazy_exports

_EXPORTS = {
    "AssetError": "turbina.assets.spec",
    "Bundle": "turbina.assets.spec",
    "LAZY_JS": "turbina.assets.spec",
    "resolve_bundles": "turbina.assets.spec",
    "BuildReport": "turbina.assets.build",
    "BundleReport": "turbina.assets.build",
    "build_assets": "turbina.assets.build",
    "Manifest": "turbina.assets.manifest",
    "read_manifest": "turbina.assets.manifest",
    "minify_css": "turbina.assets.minify",
    "minify_js": "turbina.assets.minify",
    "AssetsState": "turbina.assets.state",
    "StaticFiles": "turbina.assets.serve",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from turbina.assets.build import BuildReport, BundleReport, build_assets
    from turbina.assets.manifest import Manifest, read_manifest
    from turbina.assets.minify import minify_css, minify_js
    from turbina.assets.serve import StaticFiles
    from turbina.assets.spec import LAZY_JS, AssetError, Bundle, resolve_bundles
    from turbina.assets.state import AssetsState
