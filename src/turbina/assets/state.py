"""``AssetsState``: one app's bundles, where they come from and go, and its manifest.

Framework-free: the Flask glue makes one per app at start-up, reads the manifest once there
(never per request), and asks it for paths under the static folder; the CLI asks it to build.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from pathlib import Path

from turbina.assets.build import FINGERPRINTED, BuildReport, build_assets, bundle_bytes
from turbina.assets.manifest import MANIFEST_NAME, Manifest, read_manifest
from turbina.assets.spec import AssetError, Bundle, resolve_bundles

BUILD_FIX = "run `flask --app yourapp turbina assets build` before starting the app"


class AssetsState:
    """The assets of one app: ``bundles`` from ``static_folder`` built into
    ``static_folder/output``; ``manifest`` is the one found at start-up (``None`` before the
    first build)."""

    def __init__(
        self,
        static_folder: str | Path,
        bundles: Mapping[str, Sequence[str]],
        *,
        output: str = "dist",
        zstd: bool = False,
    ) -> None:
        self.source_root = Path(static_folder).resolve()
        self.output = output.strip("/")
        self.output_dir = self.source_root / self.output
        self.bundles: dict[str, Bundle] = resolve_bundles(bundles, self.source_root)
        self.zstd = zstd
        self.manifest_path = self.output_dir / MANIFEST_NAME
        self.manifest: Manifest | None = None
        self.manifest_error: AssetError | None = None
        self.reload_manifest()

    def reload_manifest(self) -> None:
        """Read the manifest again (start-up does it once; a build does it after writing)."""
        try:
            self.manifest, self.manifest_error = read_manifest(self.manifest_path), None
        except AssetError as exc:
            self.manifest, self.manifest_error = None, exc

    def build(self, *, force: bool = False, prune: bool = False) -> BuildReport:
        report = build_assets(
            self.bundles,
            self.source_root,
            self.output_dir,
            zstd=self.zstd,
            force=force,
            prune=prune,
        )
        self.reload_manifest()
        return report

    def bundle(self, name: str) -> Bundle:
        found = self.bundles.get(name)
        if found is None:
            known = ", ".join(sorted(self.bundles))
            raise AssetError(
                f"there is no asset bundle named {name!r} (known: {known})",
                "add it to TURBINA_ASSETS_BUNDLES, or use url_for('static', ...) for a plain file",
            )
        return found

    def static_path(self, name: str, *, debug: bool) -> str:
        """Where bundle ``name`` is, relative to the static folder: its fingerprinted file
        from the manifest, or in debug its plain name (served from the sources, unbuilt)."""
        self.bundle(name)
        if debug:
            return f"{self.output}/{name}"
        if self.manifest is None:
            if self.manifest_error is not None:
                raise self.manifest_error
            raise AssetError(f"no asset manifest at {self.manifest_path}", BUILD_FIX)
        entry = self.manifest.entries.get(name)
        if entry is None:
            raise AssetError(
                f"bundle {name!r} is not in the asset manifest {self.manifest_path}", BUILD_FIX
            )
        return f"{self.output}/{entry.file}"

    def source_bytes(self, name: str) -> tuple[bytes, str]:
        """Bundle ``name`` joined from its sources as they are now, unminified, and its media
        type: what debug mode serves, with no build step."""
        bundle = self.bundle(name)
        data = {}
        for source in bundle.sources:
            try:
                data[source] = source.read_bytes()
            except FileNotFoundError:
                raise AssetError(
                    f"bundle {name!r}: source file {source} does not exist",
                    f"create it, or remove it from TURBINA_ASSETS_BUNDLES[{name!r}]",
                ) from None
        body = bundle_bytes(bundle, self.source_root, self.output_dir, data, minified=False)
        return body, mimetypes.guess_type(name)[0] or "application/octet-stream"

    def is_fingerprinted(self, path: str | Path) -> bool:
        """Whether ``path`` is a build output (content-addressed, so cacheable forever)."""
        candidate = Path(path)
        return candidate.is_relative_to(self.output_dir) and bool(
            FINGERPRINTED.search(candidate.name)
        )
