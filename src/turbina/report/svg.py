"""Tiny inline SVG bar charts for the HTML report.

Written here rather than taken from a plotting library: the report needs two kinds of bar
chart, must stay one self-contained file under a strict Content-Security-Policy (no script,
no external URL) and Turbina's core takes no plotting dependency for that. Every label is
XML-escaped.
"""

from __future__ import annotations

from html import escape

__all__ = ["grouped_bars", "histogram"]

_WIDTH = 640
_BAR = 14
_LABEL_W = 240


def _fmt(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def grouped_bars(
    rows: list[tuple[str, list[float | None]]], series: list[str], unit: str, title: str
) -> str:
    """Horizontal bars, one group per row (e.g. a page) and one bar per series (e.g. before,
    after); ``None`` values are left out."""
    values = [v for _label, vs in rows for v in vs if v is not None]
    top = max(values, default=0.0) or 1.0
    span = _WIDTH - _LABEL_W - 70
    group_h = _BAR * len(series) + 8
    height = 30 + group_h * len(rows) + 18
    parts = [
        f'<svg width="{_WIDTH}" height="{height}" role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="14" class="t">{escape(title)} ({escape(unit)})</text>',
    ]
    y = 26
    for label, vs in rows:
        parts.append(f'<text x="0" y="{y + _BAR}" class="l">{escape(label[:40])}</text>')
        for index, value in enumerate(vs):
            if value is None:
                continue
            w = max(1.0, span * value / top)
            parts.append(
                f'<rect x="{_LABEL_W}" y="{y + index * _BAR}" width="{w:.1f}" '
                f'height="{_BAR - 2}" class="s{index % 4}"><title>{escape(series[index])}: '
                f"{_fmt(value)} {escape(unit)}</title></rect>"
            )
            parts.append(
                f'<text x="{_LABEL_W + w + 4:.1f}" y="{y + index * _BAR + _BAR - 3}" class="v">'
                f"{_fmt(value)}</text>"
            )
        y += group_h
    legend = " ".join(
        f'<tspan class="k{i % 4}">\u25a0 {escape(name)}</tspan>' for i, name in enumerate(series)
    )
    parts.append(f'<text x="{_LABEL_W}" y="{height - 4}" class="l">{legend}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(points: list[tuple[float, int]], title: str) -> str:
    """Vertical bars of a latency histogram: ``(bucket upper edge ms, count)``, lowest first."""
    height, base = 120, 96
    count = max((n for _edge, n in points), default=0) or 1
    bar_w = max(2.0, min(24.0, (_WIDTH - 40) / max(1, len(points))))
    parts = [
        f'<svg width="{_WIDTH}" height="{height}" role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="12" class="t">{escape(title)}</text>',
    ]
    for index, (edge, n) in enumerate(points):
        h = max(1.0, (base - 20) * n / count)
        x = 4 + index * bar_w
        parts.append(
            f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" '
            f'class="s0"><title>&lt;= {_fmt(edge)} ms: {n}</title></rect>'
        )
    if points:
        parts.append(f'<text x="4" y="{base + 14}" class="v">{_fmt(points[0][0])} ms</text>')
        last_x = 4 + (len(points) - 1) * bar_w
        parts.append(
            f'<text x="{last_x:.1f}" y="{base + 14}" class="v">{_fmt(points[-1][0])} ms</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
