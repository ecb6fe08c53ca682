"""Server-rendered SVG charts: no JavaScript or CDN, so the dashboard works offline.

Every bar is a link to the records behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

BAR_COLOUR = "#1f6feb"
LATE_COLOUR = "#c62828"
PENDING_COLOUR = "#9aa6b2"


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    href: str
    title: str
    colour: str = BAR_COLOUR


def column_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    max_value: float | None = None,
    percent: bool = False,
    width: int = 640,
    height: int = 200,
) -> Markup:
    """Vertical bars, one per item (e.g. per week)."""
    top = max_value if max_value is not None else max((b.value for b in bars), default=0) or 1
    plot_h = height - 40
    slot = (width - 40) / max(1, len(bars))
    parts = [
        f'<svg class="chart-svg" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="30" y1="{plot_h + 10}" x2="{width - 5}" y2="{plot_h + 10}" stroke="#d8dee5"/>',
        f'<text x="0" y="14">{_fmt(top, percent)}</text>',
    ]
    for i, bar in enumerate(bars):
        h = 0 if top == 0 else plot_h * bar.value / top
        x = 35 + i * slot
        y = plot_h + 10 - h
        parts.append(
            f'<a href="{escape(bar.href)}"><rect class="bar" x="{x:.1f}" y="{y:.1f}" '
            f'width="{max(2.0, slot * 0.7):.1f}" height="{h:.1f}" fill="{bar.colour}">'
            f"<title>{escape(bar.title)}</title></rect></a>"
        )
        parts.append(
            f'<text x="{x:.1f}" y="{height - 12}">{escape(bar.label)}</text>'
            if len(bars) <= 16 or i % 2 == 0
            else ""
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def bar_list(
    bars: Sequence[Bar],
    *,
    title: str,
    percent: bool = False,
    max_value: float | None = None,
    width: int = 640,
) -> Markup:
    """Horizontal bars with their labels and values, e.g. the funnel or channels."""
    row = 26
    height = row * max(1, len(bars)) + 10
    top = max((b.value for b in bars), default=0) or 1
    if percent:
        top = 1.0
    if max_value is not None:
        top = max_value
    parts = [
        f'<svg class="chart-svg" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, bar in enumerate(bars):
        y = 5 + i * row
        w = (width - 260) * bar.value / top
        parts.append(f'<text x="0" y="{y + 16}">{escape(bar.label)}</text>')
        parts.append(
            f'<a href="{escape(bar.href)}"><rect class="bar" x="170" y="{y + 3}" '
            f'width="{max(1.0, w):.1f}" height="18" fill="{bar.colour}">'
            f"<title>{escape(bar.title)}</title></rect></a>"
        )
        parts.append(
            f'<text x="{175 + max(1.0, w):.1f}" y="{y + 16}">{_fmt(bar.value, percent)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def _fmt(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.0f}%"
    return f"{value:g}"
