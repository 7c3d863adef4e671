"""The inline SVG charts: well-formed, labelled, accessible, with sensible axes."""

import xml.etree.ElementTree as ElementTree
from decimal import Decimal

import pytest

from reporting import charts

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ElementTree.Element:
    # Inline SVG in HTML carries no namespace; add it to parse as XML.
    return ElementTree.fromstring(
        svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    )


def _texts(root: ElementTree.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        pytest.param(0, [0.0, 1.0], id="nothing"),
        pytest.param(18.7, [0, 5, 10, 15, 20], id="dollars"),
        pytest.param(138.32, [0, 50, 100, 150], id="hundreds"),
        pytest.param(0.42, [0, 0.1, 0.2, 0.3, 0.4, 0.5], id="cents"),
        pytest.param(Decimal("1200"), [0, 500, 1000, 1500], id="decimal"),
    ],
)
def test_ticks_are_round_and_cover_the_maximum(maximum, ticks) -> None:
    assert charts.nice_ticks(maximum, 4 if maximum != 0.42 else 5) == pytest.approx(ticks)


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "$0"), (2.5, "$2.5"), (40, "$40"), (1250, "$1.25k"), (3_000_000, "$3M"), (0.25, "$0.25")],
)
def test_axis_money_is_compact(value, text) -> None:
    assert charts.usd_short(value) == text


def test_a_line_chart_has_axes_a_legend_markers_and_a_title() -> None:
    svg = charts.line_chart(
        ["1 Nov", "2 Nov", "3 Nov", "4 Nov"],
        [
            charts.Series("November", [1, 4, None, None], filled=True),
            charts.Series("October", [2, 2, 3, 1], charts.GREY, dashed=True),
        ],
        title="Daily <spend>",
        description="Two lines & a marker",
        markers=[(1, "Anomaly: someone +$3.00")],
        marker_label="Day with an anomaly",
        tick_every=2,
    )
    root = _parse(svg)
    assert root.get("role") == "img" and "chart" in root.get("class")
    assert root.find(f"{SVG}title").text == "Daily <spend>"  # escaped, then parsed back
    texts = _texts(root)
    assert {"November", "October", "Day with an anomaly"} <= set(texts)
    assert {"1 Nov", "3 Nov"} <= set(texts) and "2 Nov" not in texts  # every second tick
    assert "$4" in texts and "$0" in texts  # y axis from zero past the maximum
    assert len(root.findall(f"{SVG}polyline")) == 2
    assert len(root.findall(f"{SVG}polygon")) == 1  # the filled area
    tooltips = [title.text for title in root.iter(f"{SVG}title")]
    assert "Anomaly: someone +$3.00" in tooltips


def test_bar_charts_label_values_shares_and_shorten_long_labels() -> None:
    bars = [
        charts.Bar("A very long team name that cannot fit", Decimal("75")),
        charts.Bar("Legal", Decimal("25")),
        charts.Bar("Billed", 0, display="no billed source yet"),
    ]
    root = _parse(charts.bar_chart(bars, title="By team", description="d", total=100))
    texts = _texts(root)
    assert "$75.00 (75%)" in texts and "$25.00 (25%)" in texts
    assert "no billed source yet" in texts
    assert any(text.endswith("\N{HORIZONTAL ELLIPSIS}") for text in texts)
    tooltips = [title.text for title in root.iter(f"{SVG}title")]
    assert any("A very long team name that cannot fit" in (tip or "") for tip in tooltips)


def test_a_bullet_chart_draws_actual_forecast_and_target() -> None:
    root = _parse(
        charts.bullet_chart(
            [
                charts.Bullet("Legal", 45, 49, 24, charts.RED, "forecast $49 · breach 20 Nov"),
                charts.Bullet("Sales", 7, 8, None, note="no budget · forecast $8"),
            ],
            title="Budgets",
            description="d",
        )
    )
    texts = _texts(root)
    assert {"Spend to date", "Forecast to month end", "Budget", "Legal", "Sales"} <= set(texts)
    targets = [line for line in root.iter(f"{SVG}line") if line.get("stroke-width") == "2.5"]
    assert len(targets) == 2  # the legend's tick and Legal's budget; Sales has none


def test_empty_charts_still_draw_their_axes() -> None:
    for svg in (
        charts.bar_chart([], title="t", description="d"),
        charts.line_chart([], [], title="t", description="d"),
        charts.bullet_chart([], title="t", description="d"),
    ):
        # Regression: this asserted the iterator itself, which is always true.
        assert list(_parse(svg).iter(f"{SVG}line"))
