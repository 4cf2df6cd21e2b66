"""Charts as inline SVG strings: a funnel bar (kept and dropped of a step) and histograms of a
signal's values among kept and dropped rows. No script, no external reference: the SVG is
part of the page. Every text that reaches the markup goes through `html.escape`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

KEPT = "#2f855a"
DROPPED = "#c53030"


def funnel_bar(rows_in: int, rows_out: int, widest: int, width: int = 220,
               height: int = 14) -> str:
    """One step as a bar as long as its rows in (relative to `widest`), split into what it
    kept and what it dropped."""
    if widest <= 0 or rows_in <= 0:
        return f'<svg class="bar" width="{width}" height="{height}" role="img"></svg>'
    full = max(1.0, width * rows_in / widest)
    kept = full * max(0, rows_out) / rows_in
    title = escape(f"{rows_out:,} kept, {rows_in - rows_out:,} dropped of {rows_in:,}")
    return (f'<svg class="bar" width="{width}" height="{height}" role="img">'
            f"<title>{title}</title>"
            f'<rect x="0" y="0" width="{kept:.1f}" height="{height}" fill="{KEPT}"/>'
            f'<rect x="{kept:.1f}" y="0" width="{full - kept:.1f}" height="{height}" '
            f'fill="{DROPPED}"/></svg>')


@dataclass(frozen=True)
class Bins:
    """Equal-width bins over [low, high] and the counts of two samples in them."""

    low: float
    high: float
    kept: tuple[int, ...]
    dropped: tuple[int, ...]


def bin_values(kept: Sequence[float], dropped: Sequence[float], n: int = 20) -> Bins | None:
    """Both samples binned over their common range (None when neither has a finite value)."""
    k = [float(v) for v in kept if v is not None and math.isfinite(v)]
    d = [float(v) for v in dropped if v is not None and math.isfinite(v)]
    if not k and not d:
        return None
    low, high = min(k + d), max(k + d)
    if high == low:
        n = 1
    span = (high - low) or 1.0

    def count(values: list[float]) -> tuple[int, ...]:
        counts = [0] * n
        for v in values:
            counts[min(n - 1, int((v - low) / span * n))] += 1
        return tuple(counts)

    return Bins(low, high, count(k), count(d))


def _label(x: float) -> str:
    return f"{x:.3g}"


def histogram(bins: Bins, width: int = 360, height: int = 120) -> str:
    """Kept and dropped counts per bin, side by side, with the range on the axis. Each
    sample is scaled to its own largest bin: their shapes compare, not their sizes (the
    table beside the chart gives the sizes)."""
    pad_b, pad_t = 16, 4
    plot_h = height - pad_b - pad_t
    n = len(bins.kept)
    slot = width / n
    most_k, most_d = max(bins.kept) or 1, max(bins.dropped) or 1
    parts = [f'<svg class="hist" width="{width}" height="{height}" role="img">']
    step = (bins.high - bins.low) / n
    for i in range(n):
        x = i * slot
        lo, hi = bins.low + i * step, bins.low + (i + 1) * step
        for j, (count, most, colour) in enumerate(((bins.kept[i], most_k, KEPT),
                                                  (bins.dropped[i], most_d, DROPPED))):
            if not count:
                continue
            h = plot_h * count / most
            title = escape(f"{'kept' if j == 0 else 'dropped'}: {count} in "
                           f"[{_label(lo)}, {_label(hi)}]")
            parts.append(f'<rect x="{x + 1 + j * (slot - 2) / 2:.1f}" y="{pad_t + plot_h - h:.1f}" '
                         f'width="{max(1.0, (slot - 2) / 2):.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{title}</title></rect>')
    axis = pad_t + plot_h
    parts.append(f'<line x1="0" y1="{axis}" x2="{width}" y2="{axis}" stroke="#999"/>')
    parts.append(f'<text x="0" y="{height - 3}" class="axis">{escape(_label(bins.low))}</text>')
    parts.append(f'<text x="{width / 2}" y="{height - 3}" class="axis" text-anchor="middle">'
                 f"{escape(_label((bins.low + bins.high) / 2))}</text>")
    parts.append(f'<text x="{width}" y="{height - 3}" class="axis" text-anchor="end">'
                 f"{escape(_label(bins.high))}</text>")
    parts.append("</svg>")
    return "".join(parts)
