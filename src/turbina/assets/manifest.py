"""The manifest: bundle name -> fingerprinted file, sizes, integrity and the sources it came from.

One JSON file in the output folder, written last by a build (atomically), read once when the
app starts. The source records (path, size, mtime, SHA-256) are what makes the build
incremental: an unchanged source is recognised by its size and mtime without being read, a
touched one by its hash.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from turbina.assets.spec import AssetError

MANIFEST_NAME = "manifest.json"
FORMAT = 1


@dataclass(frozen=True)
class SourceRecord:
    """A source file as the build saw it."""

    path: str
    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class Entry:
    """One built bundle: ``file`` is relative to the output folder; ``encodings`` maps each
    precompressed variant kept (``br``, ``gzip``, ``zstd``) to its size in bytes.
    ``references`` are the files its CSS points at (images, fonts), copied under fingerprinted
    names too; ``extra_files`` are those copies and their variants."""

    file: str
    size: int
    integrity: str
    sources: tuple[SourceRecord, ...]
    encodings: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    references: tuple[SourceRecord, ...] = ()
    extra_files: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "size": self.size,
            "integrity": self.integrity,
            "encodings": dict(sorted(self.encodings.items())),
            "sources": [_record_json(s) for s in self.sources],
            "references": [_record_json(s) for s in self.references],
            "extra_files": list(self.extra_files),
        }


def _record_json(record: SourceRecord) -> dict[str, Any]:
    return {
        "path": record.path,
        "size": record.size,
        "mtime_ns": record.mtime_ns,
        "sha256": record.sha256,
    }


def _record(raw: Mapping[str, Any]) -> SourceRecord:
    return SourceRecord(
        str(raw["path"]), int(raw["size"]), int(raw["mtime_ns"]), str(raw["sha256"])
    )


@dataclass(frozen=True)
class Manifest:
    """What a build produced. ``options`` names the minifier version and build options: a
    manifest built with other options is rebuilt whole."""

    options: str
    entries: Mapping[str, Entry]

    def dumps(self) -> str:
        data = {
            "turbina_assets": FORMAT,
            "options": self.options,
            "bundles": {name: self.entries[name].to_json() for name in sorted(self.entries)},
        }
        return json.dumps(data, indent=2, sort_keys=False) + "\n"

    @classmethod
    def loads(cls, text: str, where: str) -> Manifest:
        fix = "delete it and run `turbina assets build` again"
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("turbina_assets") != FORMAT:
                raise ValueError("not a turbina assets manifest of this version")
            entries = {
                str(name): Entry(
                    file=str(raw["file"]),
                    size=int(raw["size"]),
                    integrity=str(raw["integrity"]),
                    encodings=MappingProxyType(
                        {str(k): int(v) for k, v in dict(raw["encodings"]).items()}
                    ),
                    sources=tuple(_record(s) for s in raw["sources"]),
                    references=tuple(_record(s) for s in raw["references"]),
                    extra_files=tuple(str(f) for f in raw["extra_files"]),
                )
                for name, raw in dict(data["bundles"]).items()
            }
            return cls(str(data["options"]), MappingProxyType(entries))
        except KeyError as exc:
            raise AssetError(f"the asset manifest {where} lacks the key {exc}", fix) from None
        except (ValueError, TypeError, AttributeError) as exc:
            raise AssetError(f"the asset manifest {where} is unreadable: {exc}", fix) from None


def read_manifest(path: Path) -> Manifest | None:
    """The manifest at ``path``; ``None`` when there is none yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise AssetError(
            f"the asset manifest {path} is unreadable: {exc}", "check the file's permissions"
        ) from None
    return Manifest.loads(text, str(path))


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so a reader (or a
    build that crashes half-way) never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o644)  # mkstemp makes it 0600; static files are public
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
