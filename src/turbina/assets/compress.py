"""Precompressed variants of a built file: gzip and brotli, optionally zstd.

Done once, at build time, at the highest levels (gzip 9, brotli 11, zstd 19): the cost is paid
once per deploy and every response after that is smaller. Output is deterministic — gzip with
mtime 0 and no file name in its header, brotli and zstd have no timestamps — so a rebuild of
the same input yields the same bytes. A variant is kept only when it saves at least 5 % (as
WhiteNoise does): below that, the client's decompression costs more than the bytes saved.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable

from turbina.assets.spec import AssetError

# Variant suffix -> Content-Encoding, in the order they are tried.
SUFFIXES = {"br": ".br", "gzip": ".gz", "zstd": ".zst"}
KEEP_RATIO = 0.95
# Formats that are compressed already: a second pass gains nothing and costs build time.
INCOMPRESSIBLE = frozenset(
    {
        *("jpg", "jpeg", "png", "gif", "webp", "avif", "heic", "ico", "woff", "woff2", "pdf"),
        *("zip", "gz", "tgz", "bz2", "xz", "zst", "br", "7z", "rar"),
        *("mp3", "mp4", "m4a", "ogg", "webm", "mov"),
    }
)


def compressible(name: str) -> bool:
    return name.rpartition(".")[2].lower() not in INCOMPRESSIBLE


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def brotli_bytes(data: bytes) -> bytes:
    try:
        import brotli
    except ImportError:
        raise AssetError("brotli is not installed", "pip install 'turbina[assets]'") from None
    return bytes(brotli.compress(data, quality=11))


def zstd_bytes(data: bytes) -> bytes:
    try:
        import zstandard
    except ImportError:
        raise AssetError(
            "TURBINA_ASSETS_ZSTD is on but zstandard is not installed",
            "pip install 'turbina[assets]'",
        ) from None
    return bytes(zstandard.ZstdCompressor(level=19, write_content_size=True).compress(data))


def variants(data: bytes, name: str, *, zstd: bool = False) -> dict[str, bytes]:
    """``{encoding: compressed bytes}`` for the variants worth keeping (possibly none)."""
    if not compressible(name) or not data:
        return {}
    makers: dict[str, Callable[[bytes], bytes]] = {"br": brotli_bytes, "gzip": gzip_bytes}
    if zstd:
        makers["zstd"] = zstd_bytes
    kept: dict[str, bytes] = {}
    for encoding, make in makers.items():
        packed = make(data)
        if len(packed) <= len(data) * KEEP_RATIO:
            kept[encoding] = packed
    return kept


def decompress(data: bytes, encoding: str) -> bytes:
    """The inverse of ``variants`` for one encoding (tests and the bench check with it)."""
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "br":
        import brotli

        return bytes(brotli.decompress(data))
    if encoding == "zstd":
        import zstandard

        return bytes(zstandard.ZstdDecompressor().decompress(data))
    raise ValueError(f"unknown encoding {encoding!r}")
