"""``flask turbina assets build``: bundles -> fingerprinted, precompressed files + manifest.

One line per bundle (its file, the bytes of its sources, of the bundle and of each variant,
and whether it was built or left as it was), then a summary line. A missing source or a
syntax error is the contract's one line naming the file, exit 1, with nothing written.
"""

from __future__ import annotations

from pathlib import Path

import click

from turbina.errors import TurbinaError
from turbina.flask.cli.contract import TurbinaGroup, require_state
from turbina.flask.cli.output import table

__all__ = ["assets_group"]


@click.group("assets", cls=TurbinaGroup, help="Static assets: bundles, fingerprints, variants.")
def assets_group() -> None:
    """The ``assets`` command group."""


@assets_group.command("build")
@click.option("--force", is_flag=True, help="Rebuild every bundle, changed or not.")
@click.option(
    "--prune", is_flag=True, help="Delete fingerprinted files the new manifest no longer lists."
)
def build_command(force: bool, prune: bool) -> None:
    """Minify, fingerprint and precompress the bundles of TURBINA_ASSETS_BUNDLES."""
    app, state = require_state("assets build")
    if state.assets is None:
        fix = (
            "set TURBINA_ENABLED=true"
            if not state.settings.enabled
            else "create the app with a static folder"
        )
        raise TurbinaError(f"the app {app.import_name!r} has no assets part", fix)
    report = state.assets.build(force=force, prune=prune)
    rows = [
        (
            b.name,
            b.file,
            b.source_bytes,
            b.size,
            b.encodings.get("br"),
            b.encodings.get("gzip"),
            *((b.encodings.get("zstd"),) if state.assets.zstd else ()),
            "built" if b.built else "unchanged",
        )
        for b in report.bundles
    ]
    headers: tuple[str, ...] = ("bundle", "file", "source_bytes", "bytes", "br", "gzip")
    headers += ("zstd",) if state.assets.zstd else ()
    click.echo(table((*headers, "status"), rows))
    built = len(report.built)
    manifest = _shown(report.manifest)
    summary = (
        f"{built} built, {len(report.bundles) - built} unchanged, "
        f"{len(report.written)} file(s) written in {report.seconds * 1000:.0f} ms; "
        f"manifest {manifest}{'' if report.manifest_written else ' (unchanged)'}"
    )
    if report.pruned:
        summary += f"; {len(report.pruned)} old file(s) pruned"
    click.echo(summary)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
