"""Charts as inline SVG: no scripts, no fonts or styles from elsewhere, so a report opens offline.

Each chart is a `<svg class="chart">` with a `viewBox` (it scales to its container), a
`<title>` and `<desc>` for screen readers, axes with ticks and gridlines, and a legend
when it shows more than one series. Text takes the page's font; sizes are in SVG units,
which match CSS pixels when the chart is drawn at its natural width.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape
from itertools import count

Number = float | int | Decimal

# One palette for every chart (and the page's CSS), readable by colour-blind readers.
BLUE = "#2563eb"
LIGHT_BLUE = "#93c5fd"
AMBER = "#d97706"
RED = "#dc2626"
GREY = "#94a3b8"
INK = "#0f172a"
MUTED = "#475569"
GRID = "#e2e8f0"
SERIES_COLOURS = (BLUE, AMBER, "#0d9488", "#7c3aed", GREY)
FONT_SIZE = 12
PRINT_FONT_SIZE = 15  # wide charts' text on paper (see the report's print stylesheet)
CHAR_WIDTH = 0.6  # average glyph width in ems, to fit labels without measuring text

_ids = count(1)


@dataclass(frozen=True)
class Series:
    """A named line of values, one per x position (None: no value there)."""

    name: str
    values: Sequence[Number | None]
    colour: str = BLUE
    dashed: bool = False
    filled: bool = False


@dataclass(frozen=True)
class Bar:
    """One bar: its label, value, and optional colour and tooltip."""

    label: str
    value: Number
    colour: str = BLUE
    note: str = ""
    display: str = ""  # printed instead of the value (e.g. why there is none)


@dataclass(frozen=True)
class Bullet:
    """One row of a bullet chart: actual, forecast and target."""

    label: str
    actual: Number
    forecast: Number
    target: Number | None
    colour: str = BLUE
    note: str = ""


def usd(value: Number, *, cents: bool = True) -> str:
    """Dollars for axes and labels: `$1,234.56`, or `$1,235` without cents."""
    return f"${value:,.2f}" if cents else f"${value:,.0f}"


def usd_short(value: Number) -> str:
    """Compact dollars for axis ticks: `$0`, `$2.5`, `$40`, `$1.2k`, `$3M`."""
    value = float(value)
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"${value / limit:,.2f}".rstrip("0").rstrip(".") + suffix
    if value and abs(value) < 10 and value != int(value):
        return f"${value:,.2f}".rstrip("0").rstrip(".")
    return f"${value:,.0f}"


def nice_ticks(maximum: Number, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `maximum` (1, 2, 2.5 or 5 times a power of 10).

    Args:
        maximum: the largest value to show (0 or less gives [0, 1]).
        count: about how many intervals.

    Returns:
        Ascending ticks starting at 0, the last one >= maximum.
    """
    top = float(maximum)
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    intervals = math.ceil(top / step - 1e-9)
    return [round(step * i, 10) for i in range(intervals + 1)]


def fit(text: str, width: float, font_size: float = FONT_SIZE) -> str:
    """`text` shortened with an ellipsis to about `width` units."""
    limit = max(int(width / (font_size * CHAR_WIDTH)), 4)
    return text if len(text) <= limit else text[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def _text(x: float, y: float, text: str, **attributes: object) -> str:
    rendered = " ".join(f'{key.replace("_", "-")}="{value}"' for key, value in attributes.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" {rendered}>{escape(text)}</text>'


def _frame(
    width: float, height: float, title: str, description: str, body: list[str], kind: str
) -> str:
    chart_id = f"chart-{next(_ids)}"
    return (
        f'<svg class="chart chart-{kind}" viewBox="0 0 {width:.0f} {height:.0f}"'
        f' width="{width:.0f}" height="{height:.0f}" style="max-width:{width:.0f}px" role="img"'
        f' aria-labelledby="{chart_id}-title {chart_id}-desc"'
        f' font-size="{FONT_SIZE}" fill="{INK}">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>' + "".join(body) + "</svg>"
    )


def _legend(items: list[tuple[str, str, str]], x: float, y: float) -> list[str]:
    """Legend entries (label, colour, shape: line|dashed|box|dot|tick) in one row."""
    parts = []
    for label, colour, shape in items:
        if shape in ("line", "dashed"):
            dash = ' stroke-dasharray="5 3"' if shape == "dashed" else ""
            parts.append(
                f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 18:.1f}" y2="{y - 4:.1f}"'
                f' stroke="{colour}" stroke-width="2.5"{dash}/>'
            )
        elif shape == "dot":
            parts.append(f'<circle cx="{x + 9:.1f}" cy="{y - 4:.1f}" r="4.5" fill="{colour}"/>')
        elif shape == "tick":
            parts.append(
                f'<line x1="{x + 9:.1f}" y1="{y - 11:.1f}" x2="{x + 9:.1f}" y2="{y + 3:.1f}"'
                f' stroke="{colour}" stroke-width="2.5"/>'
            )
        else:
            parts.append(
                f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="18" height="11" rx="2"'
                f' fill="{colour}"/>'
            )
        parts.append(_text(x + 24, y, label, fill=MUTED))
        # Spaced for the larger text of the print stylesheet, so entries never overlap.
        x += 24 + len(label) * PRINT_FONT_SIZE * CHAR_WIDTH + 18
    return parts


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    description: str,
    markers: Sequence[tuple[int, str]] = (),
    marker_label: str = "",
    tick_every: int = 1,
    width: float = 1000,
    height: float = 300,
    value_format: Callable[[Number], str] = usd_short,
) -> str:
    """A line (optionally area) chart over categorical x positions, e.g. the days of a month.

    Args:
        x_labels: the label of each x position.
        series: the lines, drawn in order (the first on top of the area fills).
        title: the accessible title.
        description: the accessible description (what the chart says in words).
        markers: (x index, tooltip) of points to highlight on the first series.
        marker_label: the legend entry of the markers.
        tick_every: label every n-th x position.
        width: viewBox width.
        height: viewBox height.
        value_format: y tick labels.

    Returns:
        The SVG element.
    """
    left, right, top, bottom = 64, 16, 40, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [float(v) for s in series for v in s.values if v is not None]
    ticks = nice_ticks(max(values, default=0), 4)
    y_max = ticks[-1]
    positions = max(len(x_labels), 2)

    def x_of(index: int) -> float:
        return left + plot_w * index / (positions - 1)

    def y_of(value: Number) -> float:
        return top + plot_h * (1 - float(value) / y_max)

    body = []
    for tick in ticks:
        y = y_of(tick)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}"'
            f' stroke="{GRID if tick else MUTED}" stroke-width="1"/>'
        )
        body.append(_text(left - 8, y + 4, value_format(tick), text_anchor="end", fill=MUTED))
    for index, label in enumerate(x_labels):
        x = x_of(index)
        if index % tick_every == 0:
            body.append(
                f'<line x1="{x:.1f}" y1="{top + plot_h:.1f}" x2="{x:.1f}"'
                f' y2="{top + plot_h + 5:.1f}" stroke="{MUTED}"/>'
            )
            body.append(_text(x, top + plot_h + 19, label, text_anchor="middle", fill=MUTED))
    for line in reversed(series):
        points = [(x_of(i), y_of(v)) for i, v in enumerate(line.values) if v is not None]
        if not points:
            continue
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        if line.filled:
            base = top + plot_h
            body.append(
                f'<polygon points="{points[0][0]:.1f},{base:.1f} {path}'
                f' {points[-1][0]:.1f},{base:.1f}" fill="{line.colour}" fill-opacity="0.12"/>'
            )
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{line.colour}" stroke-width="2.5"'
            f' stroke-linejoin="round" stroke-linecap="round"{dash}/>'
        )
        if not line.dashed:
            for (x, y), value in zip(
                points, [v for v in line.values if v is not None], strict=True
            ):
                body.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{line.colour}">'
                    f"<title>{escape(line.name)}: {escape(usd(value))}</title></circle>"
                )
    first = series[0].values if series else []
    for index, tooltip in markers:
        if index < len(first) and first[index] is not None:
            body.append(
                f'<circle cx="{x_of(index):.1f}" cy="{y_of(first[index]):.1f}" r="6.5"'
                f' fill="none" stroke="{RED}" stroke-width="2.5"><title>{escape(tooltip)}'
                "</title></circle>"
            )
    legend = [(s.name, s.colour, "dashed" if s.dashed else "line") for s in series]
    if markers:
        legend.append((marker_label, RED, "dot"))
    body += _legend(legend, left, 18)
    return _frame(width, height, title, description, body, "line")


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    description: str,
    width: float = 480,
    label_width: float = 150,
    value_format: Callable[[Number], str] = usd,
    tick_format: Callable[[Number], str] = usd_short,
    total: Number | None = None,
) -> str:
    """Horizontal bars, largest first as given, each with its value (and share of `total`).

    Args:
        bars: the bars, in display order.
        title: the accessible title.
        description: the accessible description.
        width: viewBox width.
        label_width: room for the category labels on the left.
        value_format: the value printed after each bar.
        tick_format: x-axis tick labels.
        total: when given, each bar's share of it is printed too.

    Returns:
        The SVG element.
    """
    row, top, bottom, right = 28, 8, 30, 118
    left = label_width + 12
    height = top + row * max(len(bars), 1) + bottom
    plot_w = width - left - right
    ticks = nice_ticks(max((float(b.value) for b in bars), default=0), 4)
    x_max = ticks[-1]
    axis_y = top + row * max(len(bars), 1)
    body = _value_axis(ticks, left, plot_w, top, axis_y, tick_format)
    for index, bar in enumerate(bars):
        y = top + row * index
        bar_w = max(plot_w * float(bar.value) / x_max, 1.5 if bar.value else 0)
        share = f" ({float(bar.value) / float(total):.0%})" if total else ""
        shown = bar.display or f"{value_format(bar.value)}{share}"
        tooltip = f"{bar.label}: {shown}" + (f" - {bar.note}" if bar.note else "")
        body.append(
            f'<g><title>{escape(tooltip)}</title><rect x="{left}" y="{y + 5}" width="{bar_w:.1f}"'
            f' height="{row - 10}" rx="2" fill="{bar.colour}"/>'
            + _text(label_width, y + row / 2 + 4, fit(bar.label, label_width), text_anchor="end")
            + _text(left + bar_w + 6, y + row / 2 + 4, shown, fill=MUTED)
            + "</g>"
        )
    return _frame(width, height, title, description, body, "bar")


def bullet_chart(
    rows: Sequence[Bullet],
    *,
    title: str,
    description: str,
    width: float = 1000,
    label_width: float = 170,
    legend: tuple[str, str, str] = ("Spend to date", "Forecast to month end", "Budget"),
) -> str:
    """Bullet rows: a light bar to the forecast, a solid bar to date, a tick at the target.

    Args:
        rows: one per subject (team).
        title: the accessible title.
        description: the accessible description.
        width: viewBox width.
        label_width: room for the labels on the left.
        legend: names of the actual, forecast and target marks.

    Returns:
        The SVG element.
    """
    row, top, bottom, right = 30, 34, 30, 310
    left = label_width + 12
    height = top + row * max(len(rows), 1) + bottom
    plot_w = width - left - right
    largest = max(
        (max(float(r.actual), float(r.forecast), float(r.target or 0)) for r in rows), default=0
    )
    ticks = nice_ticks(largest, 5)
    x_max = ticks[-1]
    axis_y = top + row * max(len(rows), 1)

    def x_of(value: Number) -> float:
        return left + plot_w * float(value) / x_max

    body = _legend(
        [(legend[0], BLUE, "box"), (legend[1], LIGHT_BLUE, "box"), (legend[2], INK, "tick")],
        left,
        16,
    )
    body += _value_axis(ticks, left, plot_w, top, axis_y, usd_short)
    for index, bullet in enumerate(rows):
        y = top + row * index
        mid = y + row / 2
        parts = [
            f"<g><title>{escape(bullet.label)}: {escape(bullet.note)}</title>",
            f'<rect x="{left}" y="{y + 6}" width="{x_of(bullet.forecast) - left:.1f}"'
            f' height="{row - 12}" rx="2" fill="{LIGHT_BLUE}"/>',
            f'<rect x="{left}" y="{y + 10}" width="{max(x_of(bullet.actual) - left, 1):.1f}"'
            f' height="{row - 20}" rx="1" fill="{bullet.colour}"/>',
        ]
        if bullet.target is not None:
            x = x_of(bullet.target)
            parts.append(
                f'<line x1="{x:.1f}" y1="{y + 3}" x2="{x:.1f}" y2="{y + row - 3}"'
                f' stroke="{INK}" stroke-width="2.5"/>'
            )
        parts.append(_text(label_width, mid + 4, fit(bullet.label, label_width), text_anchor="end"))
        parts.append(
            _text(
                left + plot_w + 12,
                mid + 4,
                fit(bullet.note, right - 14, PRINT_FONT_SIZE),
                fill=MUTED,
            )
        )
        parts.append("</g>")
        body.append("".join(parts))
    return _frame(width, height, title, description, body, "bullet")


def _value_axis(
    ticks: Sequence[float],
    left: float,
    plot_w: float,
    top: float,
    axis_y: float,
    tick_format: Callable[[Number], str],
) -> list[str]:
    """The horizontal value axis of bar and bullet charts: gridlines, tick labels, baseline."""
    body = []
    for tick in ticks:
        x = left + plot_w * tick / ticks[-1]
        body.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{axis_y}"'
            f' stroke="{GRID if tick else MUTED}"/>'
        )
        body.append(_text(x, axis_y + 17, tick_format(tick), text_anchor="middle", fill=MUTED))
    body.append(
        f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_w:.1f}" y2="{axis_y}" stroke="{MUTED}"/>'
    )
    return body


def day_labels(days: Sequence[date], kind: str) -> tuple[list[str], int]:
    """X labels for the days of a period and how often to print them (weekly in a month)."""
    if kind == "week":
        return [f"{day:%a} {day.day}" for day in days], 1
    return [f"{day.day} {day:%b}" for day in days], 7
