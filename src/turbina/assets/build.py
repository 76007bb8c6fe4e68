"""``build_assets``: bundles -> minified, fingerprinted, precompressed files and a manifest.

A bundle's file is named after the SHA-256 of its content (``app.3f2a9c1b7d4e0a15.css``), so
its URL changes exactly when its bytes do and browsers may cache it for a year. The build is
incremental and all-or-nothing:

1. every source of every bundle is looked at first: a missing one fails the build before
   anything is written;
2. a bundle whose sources (size + mtime, else SHA-256), options and output files are as the
   previous manifest recorded is left alone — no file read, nothing written;
3. the other bundles are minified and compressed in memory (a syntax error fails the build,
   still before anything is written), then written, each file through a rename;
4. the manifest is written last, and only when its content changed.

Old fingerprinted files stay (pages cached by browsers may still ask for them) unless
``prune`` is given.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import MappingProxyType

from turbina.assets import compress
from turbina.assets.manifest import (
    MANIFEST_NAME,
    Entry,
    Manifest,
    SourceRecord,
    read_manifest,
    write_atomic,
)
from turbina.assets.minify import decode, minify_css, minify_js, prepare_css, url_rewriter
from turbina.assets.spec import CSS, JS, AssetError, Bundle, display_path

HASH_CHARS = 16
# "<stem>.<16 hex>.<ext>" plus an optional compressed suffix: the files a build owns.
FINGERPRINTED = re.compile(rf"\.[0-9a-f]{{{HASH_CHARS}}}\.[A-Za-z0-9]+(?:\.gz|\.br|\.zst)?$")
JS_SEPARATOR = "\n;\n"  # ends a trailing // comment, and a statement left without ";"


@dataclass(frozen=True)
class BundleReport:
    """What the build did with one bundle."""

    name: str
    file: str
    source_bytes: int
    size: int
    encodings: Mapping[str, int]
    built: bool


@dataclass(frozen=True)
class BuildReport:
    """What a build did: per bundle, the files written (paths), the files pruned and the
    wall time in seconds."""

    bundles: tuple[BundleReport, ...]
    manifest: Path
    manifest_written: bool
    written: tuple[Path, ...] = ()
    pruned: tuple[Path, ...] = ()
    seconds: float = 0.0

    @property
    def built(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.bundles if b.built)


@dataclass
class _Plan:
    bundle: Bundle
    records: list[SourceRecord]
    data: dict[Path, bytes] = field(default_factory=dict)
    reuse: Entry | None = None


def build_options(zstd: bool) -> str:
    """What, besides the sources, decides a bundle's bytes: a change rebuilds everything."""
    try:
        minifier = metadata.version("tdewolff-minify")
    except metadata.PackageNotFoundError:
        minifier = "absent"
    return f"tdewolff-minify {minifier}; zstd {'on' if zstd else 'off'}"


def build_assets(
    bundles: Mapping[str, Bundle],
    source_root: Path,
    output_dir: Path,
    *,
    zstd: bool = False,
    force: bool = False,
    prune: bool = False,
) -> BuildReport:
    """Build ``bundles`` (sources under ``source_root``) into ``output_dir``; see the module
    docstring. Raises ``AssetError`` naming the file for a missing source or a syntax error,
    having written nothing."""
    started = time.perf_counter()
    source_root = source_root.resolve()
    output_dir = output_dir.resolve()
    manifest_path = output_dir / MANIFEST_NAME
    options = build_options(zstd)
    try:
        previous = read_manifest(manifest_path)
    except AssetError:  # unreadable, or another format: rebuild everything, then replace it
        previous = None
    old_entries = previous.entries if previous and previous.options == options else {}

    plans = [
        _plan(bundle, source_root, output_dir, None if force else old_entries.get(name))
        for name, bundle in bundles.items()
    ]
    outputs: dict[Path, bytes] = {}
    entries: dict[str, Entry] = {}
    reports: list[BundleReport] = []
    for plan in plans:
        name = plan.bundle.name
        source_bytes = sum(r.size for r in plan.records)
        if plan.reuse is not None:
            entries[name] = plan.reuse
            reports.append(_report(name, plan.reuse, source_bytes, built=False))
            continue
        references: dict[Path, tuple[str, bytes]] = {}
        content = bundle_bytes(
            plan.bundle, source_root, output_dir, plan.data, minified=True, references=references
        )
        entry, files = _outputs(plan, content, references, source_root, zstd)
        outputs.update({output_dir / path: data for path, data in files.items()})
        entries[name] = entry
        reports.append(_report(name, entry, source_bytes, built=True))

    written = []
    for path, data in outputs.items():
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            continue  # content-addressed: the same name already holds these bytes
        write_atomic(path, data)
        written.append(path)
    manifest = Manifest(options, MappingProxyType(entries))
    text = manifest.dumps()
    manifest_written = _differs(manifest_path, text)
    if manifest_written:
        write_atomic(manifest_path, text.encode("utf-8"))
    pruned = _prune(output_dir, manifest) if prune else ()
    return BuildReport(
        tuple(reports),
        manifest_path,
        manifest_written,
        tuple(written),
        pruned,
        time.perf_counter() - started,
    )


def _differs(path: Path, text: str) -> bool:
    try:
        return path.read_text(encoding="utf-8") != text
    except OSError:
        return True


def _plan(bundle: Bundle, source_root: Path, output_dir: Path, old: Entry | None) -> _Plan:
    """Look at a bundle's sources: their records, and whether the old entry still holds."""
    plan = _Plan(bundle, [])
    old_records = {r.path: r for r in old.sources} if old else {}
    for source in bundle.sources:
        shown = display_path(source, source_root)
        try:
            stat = source.stat()
        except FileNotFoundError:
            raise AssetError(
                f"bundle {bundle.name!r}: source file {shown} does not exist in {source_root}",
                f"create {shown}, or remove it from TURBINA_ASSETS_BUNDLES[{bundle.name!r}]",
            ) from None
        if not source.is_file():
            raise AssetError(
                f"bundle {bundle.name!r}: source {shown} is not a file",
                "list files, not folders, in TURBINA_ASSETS_BUNDLES",
            )
        seen = old_records.get(shown)
        if seen is not None and (seen.size, seen.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            digest = seen.sha256
        else:
            data = source.read_bytes()
            plan.data[source] = data
            digest = hashlib.sha256(data).hexdigest()
        plan.records.append(SourceRecord(shown, stat.st_size, stat.st_mtime_ns, digest))
    references = _current_references(old, source_root) if old is not None else None
    if old is not None and references is not None and _still_valid(old, plan.records, output_dir):
        # The same outputs, with the sources' (and references') current mtimes.
        plan.reuse = dataclasses.replace(old, sources=tuple(plan.records), references=references)
    else:
        for source in bundle.sources:
            if source not in plan.data:
                plan.data[source] = source.read_bytes()
    return plan


def _record_of(path: Path, shown: str, seen: SourceRecord | None) -> SourceRecord | None:
    """``path``'s record, reusing ``seen``'s hash when size and mtime match; ``None`` if gone."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    if seen is not None and (seen.size, seen.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
        return seen
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return SourceRecord(shown, stat.st_size, stat.st_mtime_ns, digest)


def _current_references(old: Entry, source_root: Path) -> tuple[SourceRecord, ...] | None:
    """The old entry's referenced files as they are now; ``None`` when one changed or went."""
    current = []
    for seen in old.references:
        record = _record_of(source_root / seen.path, seen.path, seen)
        if record is None or record.sha256 != seen.sha256:
            return None
        current.append(record)
    return tuple(current)


def _still_valid(old: Entry, records: list[SourceRecord], output_dir: Path) -> bool:
    same_sources = [(r.path, r.sha256) for r in old.sources] == [
        (r.path, r.sha256) for r in records
    ]
    if not same_sources:
        return False
    main = output_dir / old.file
    if not main.is_file() or main.stat().st_size != old.size:
        return False
    variants = [old.file + compress.SUFFIXES[encoding] for encoding in old.encodings]
    return all((output_dir / name).is_file() for name in [*variants, *old.extra_files])


def bundle_bytes(
    bundle: Bundle,
    source_root: Path,
    output_dir: Path,
    data: Mapping[Path, bytes],
    *,
    minified: bool,
    references: dict[Path, tuple[str, bytes]] | None = None,
) -> bytes:
    """The bundle's content from its sources' bytes: minified (the build) or as written, CSS
    URLs rewritten either way (debug mode serves this from the bundle's own URL). With
    ``references``, a CSS URL to a file under ``source_root`` (an image, a font) points at a
    fingerprinted copy instead, collected there as ``{file: (name in output_dir, bytes)}``."""
    if bundle.kind == CSS:
        pieces = []
        fingerprint = (
            None if references is None else _fingerprinter(source_root, output_dir, references)
        )
        for source in bundle.sources:
            shown = display_path(source, source_root)
            text = decode(data[source], shown)
            rewrite = url_rewriter(
                source, source_root, (output_dir / bundle.name).parent, fingerprint
            )
            pieces.append(
                minify_css(text, shown, rewrite) if minified else prepare_css(text, shown, rewrite)
            )
        return "\n".join(pieces).encode("utf-8")
    if bundle.kind == JS:
        pieces = []
        for source in bundle.sources:
            shown = display_path(source, source_root)
            text = decode(data[source], shown)
            pieces.append(minify_js(text, shown) if minified else text)
        return JS_SEPARATOR.join(pieces).encode("utf-8")
    [source] = bundle.sources
    return data[source]


def fingerprinted_name(name: str, content: bytes) -> str:
    """``img/dot.svg`` -> ``img/dot.<first 16 hex of the SHA-256>.svg``."""
    head, dot, suffix = name.rpartition(".")
    digest = hashlib.sha256(content).hexdigest()[:HASH_CHARS]
    return f"{head}.{digest}.{suffix}" if dot and "/" not in suffix else f"{name}.{digest}"


def _fingerprinter(
    source_root: Path, output_dir: Path, references: dict[Path, tuple[str, bytes]]
) -> Callable[[Path], Path | None]:
    """For CSS URLs: a file under the static folder -> its fingerprinted copy's path, so what
    a stylesheet loads is cached for good too. Other stylesheets (``@import``) and the build's
    own outputs are left to the plain URL."""

    def fingerprint(target: Path) -> Path | None:
        if target.suffix.lower() == ".css" or target.is_relative_to(output_dir):
            return None
        if target not in references:
            if not target.is_file():
                return None
            data = target.read_bytes()
            references[target] = (fingerprinted_name(display_path(target, source_root), data), data)
        return output_dir / references[target][0]

    return fingerprint


def _outputs(
    plan: _Plan,
    content: bytes,
    references: Mapping[Path, tuple[str, bytes]],
    source_root: Path,
    zstd: bool,
) -> tuple[Entry, dict[str, bytes]]:
    stem, suffix = plan.bundle.stem_and_suffix
    digest = hashlib.sha256(content).hexdigest()[:HASH_CHARS]
    file = f"{stem}.{digest}{suffix}"
    files = {file: content}
    kept = compress.variants(content, plan.bundle.name, zstd=zstd)
    for encoding, packed in kept.items():
        files[file + compress.SUFFIXES[encoding]] = packed
    extra: dict[str, bytes] = {}
    records = []
    for path, (name, data) in sorted(references.items()):
        extra[name] = data
        for encoding, packed in compress.variants(data, name, zstd=zstd).items():
            extra[name + compress.SUFFIXES[encoding]] = packed
        record = _record_of(path, display_path(path, source_root), None)
        if record is not None:
            records.append(record)
    files.update(extra)
    integrity = "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode("ascii")
    entry = Entry(
        file=file,
        size=len(content),
        integrity=integrity,
        sources=tuple(plan.records),
        encodings=MappingProxyType({k: len(v) for k, v in kept.items()}),
        references=tuple(records),
        extra_files=tuple(sorted(extra)),
    )
    return entry, files


def _report(name: str, entry: Entry, source_bytes: int, *, built: bool) -> BundleReport:
    return BundleReport(name, entry.file, source_bytes, entry.size, entry.encodings, built)


def _prune(output_dir: Path, manifest: Manifest) -> tuple[Path, ...]:
    """Delete the fingerprinted files (and variants) the manifest no longer lists."""
    keep = set()
    for entry in manifest.entries.values():
        keep.add(output_dir / entry.file)
        keep.update(
            output_dir / (entry.file + compress.SUFFIXES[encoding]) for encoding in entry.encodings
        )
        keep.update(output_dir / name for name in entry.extra_files)
    removed = []
    for path in sorted(output_dir.rglob("*")):
        if path.is_file() and FINGERPRINTED.search(path.name) and path not in keep:
            path.unlink()
            removed.append(path)
    return tuple(removed)
