"""Asset findings at Sentry's size thresholds, from a manifest or assets facts."""

from __future__ import annotations

import pytest

from turbina.report import build_report
from turbina.report.asset_advice import RENDER_BLOCKING_BYTES, UNCOMPRESSED_BYTES, advise


def test_a_large_bundle_without_a_compressed_variant_is_found() -> None:
    manifest = {
        "turbina_assets": 1,
        "bundles": {
            "app.js": {"file": "app.1a2b.js", "size": UNCOMPRESSED_BYTES + 1, "encodings": {}},
            "small.js": {"file": "small.js", "size": UNCOMPRESSED_BYTES, "encodings": {}},
            "app.css": {"file": "app.css", "size": 900_000, "encodings": {"br": 90_000}},
        },
    }
    (finding,) = advise(manifest)
    assert finding.kind == "asset" and finding.where == "app.js"
    assert "uncompressed" in finding.title and "> 512 kB" in finding.title
    assert finding.saved_ms_per_hour == 0 and "not estimated" in finding.formula


def test_render_blocking_counts_the_encoded_size_and_estimates_with_a_rate() -> None:
    facts = {
        "assets": [
            {
                "name": "vendor.js",
                "size": 2_000_000,
                "encodings": {"gzip": RENDER_BLOCKING_BYTES + 10, "br": RENDER_BLOCKING_BYTES + 1},
                "render_blocking": True,
            },
            {"name": "lazy.js", "size": 2_000_000, "encodings": {"br": 600_000}},
        ],
        "loads_per_hour": 100,
        "bandwidth_bytes_per_s": 1_000_000,
    }
    (finding,) = advise(facts)
    assert finding.where == "vendor.js" and "render-blocking" in finding.title
    assert finding.saved_ms_per_hour == pytest.approx(100 * (RENDER_BLOCKING_BYTES + 1) / 1e6 * 1e3)


def test_assets_findings_are_in_the_report() -> None:
    facts = {"assets": [{"name": "big.css", "size": 1_000_000, "encodings": {}}]}
    report = build_report(assets=facts)
    assert [f.kind for f in report.findings] == ["asset"]
    assert "assets facts" in report.source
