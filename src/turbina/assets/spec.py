"""What a bundle is: a name and an ordered list of source files, resolved against a folder.

The configuration (``TURBINA_ASSETS_BUNDLES``) maps a bundle's name to its sources, e.g.
``{"app.css": ["css/base.css", "css/page.css"], "chart.js": ["vendor/chart.umd.js"]}``. The
name's extension says how the sources are joined: ``.css`` and ``.js`` bundles are minified and
concatenated in order; any other bundle (an image, a font, a JSON file) has exactly one source,
copied as it is. ``turbina-lazy.js`` is always there, from the package, unless the app defines a
bundle of that name itself.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from turbina.errors import TurbinaError

LAZY_JS = "turbina-lazy.js"
LAZY_JS_PATH = Path(__file__).resolve().parent / LAZY_JS

CSS = "css"
JS = "js"
COPY = "copy"


class AssetError(TurbinaError):
    """A bundle cannot be built or served: a missing source, a syntax error, no manifest.

    The message names the file (and the line and column of a syntax error)."""


@dataclass(frozen=True)
class Bundle:
    """One bundle: its public name (``app.css``), its sources in order (absolute paths) and
    how they are joined (``css``, ``js`` or ``copy``)."""

    name: str
    sources: tuple[Path, ...]
    kind: str

    @property
    def stem_and_suffix(self) -> tuple[str, str]:
        """``("app", ".css")`` for ``app.css``; ``("vendor/chart.umd", ".js")`` keeps the
        inner dots, so the fingerprint goes right before the last extension."""
        head, _, suffix = self.name.rpartition(".")
        return head, "." + suffix


def kind_of(name: str) -> str:
    suffix = name.rpartition(".")[2].lower()
    return {"css": CSS, "js": JS, "mjs": JS}.get(suffix, COPY)


def check_name(name: str) -> str:
    """A bundle name is a relative POSIX path with an extension and no ``..``; it becomes a
    URL under the output folder, so it must not escape it."""
    fix = "name bundles like app.css, js/app.js or vendor/chart.js"
    if not isinstance(name, str) or not name.strip():
        raise AssetError("a bundle name is empty", fix)
    normal = posixpath.normpath(name)
    if (
        name != normal
        or name.startswith("/")
        or "\\" in name
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        raise AssetError(f"bundle name {name!r} is not a plain relative path", fix)
    last = name.rsplit("/", 1)[-1]
    if "." not in last.strip(".") or last.startswith("."):
        raise AssetError(f"bundle name {name!r} has no file extension", fix)
    return name


def resolve_bundles(config: Mapping[str, Sequence[str]], source_root: Path) -> dict[str, Bundle]:
    """The bundles of ``config`` with their sources made absolute (relative ones against
    ``source_root``), plus ``turbina-lazy.js``. Does not look at the files: a missing one is
    reported by the build, which names it."""
    bundles: dict[str, Bundle] = {}
    for name, sources in config.items():
        check_name(name)
        if isinstance(sources, str) or not sources:
            raise AssetError(
                f"bundle {name!r} needs a list of source files",
                f'write {name!r}: ["path/to/file", ...], paths relative to the static folder',
            )
        paths = tuple(
            (Path(s) if Path(s).is_absolute() else source_root / s).resolve(strict=False)
            for s in sources
        )
        kind = kind_of(name)
        if kind == COPY and len(paths) != 1:
            raise AssetError(
                f"bundle {name!r} lists {len(paths)} files, but only .css and .js bundles join "
                "several",
                "give it exactly one source file",
            )
        if len(set(paths)) != len(paths):
            raise AssetError(f"bundle {name!r} lists a source file twice", "list it once")
        bundles[name] = Bundle(name, paths, kind)
    bundles.setdefault(LAZY_JS, Bundle(LAZY_JS, (LAZY_JS_PATH,), JS))
    return bundles


def display_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it (how errors and the manifest name it);
    Turbina's own files as ``turbina/...``, so the manifest never shows where it is installed."""
    for base, prefix in ((root, ""), (_PACKAGE, "turbina/")):
        try:
            return prefix + path.relative_to(base).as_posix()
        except ValueError:
            continue
    return str(path)


_PACKAGE = Path(__file__).resolve().parents[1]
