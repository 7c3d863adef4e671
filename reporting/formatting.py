"""How the report writes money, shares, days and its short sentences (HTML and Markdown)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from markupsafe import Markup, escape

from reporting.figures import CostReport
from reporting.periods import DASH, Period, day_range

NOT_AVAILABLE = DASH
NO_BILL = "no billed source yet"


def fmt_usd(value: Decimal | float | None, digits: int = 2) -> str:
    """`$1,234.56`; a dash when there is no value."""
    return NOT_AVAILABLE if value is None else f"${value:,.{digits}f}"


def fmt_pct(value: Decimal | float | None, digits: int = 1) -> str:
    """`12.3%` of a ratio; a dash when there is no value."""
    return NOT_AVAILABLE if value is None else f"{float(value):.{digits}%}"


def fmt_count(value: int) -> str:
    """`12,345`."""
    return f"{value:,}"


def fmt_day(value: date) -> str:
    """`Fri 27 Nov 2026`."""
    return f"{value:%a} {value.day} {value:%b %Y}"


def fmt_short_day(value: date) -> str:
    """`Fri 27 Nov`."""
    return f"{value:%a} {value.day} {value:%b}"


def breakable(text: str) -> Markup:
    """`text` escaped for HTML, allowed to wrap before an `@` (long e-mails in narrow columns)."""
    return Markup("<wbr>@").join(escape(part) for part in text.split("@"))


def change_text(report: CostReport, *, html: bool) -> str:
    """The total's change against the comparison, e.g. `+12.3% vs 1-27 Oct ($100.00)`."""
    label = report.comparison_label
    if report.change_ratio is None:
        text = f"no spend in {label} to compare"
        return str(escape(text)) if html else text
    up = report.change_usd >= 0
    arrow = "\N{BLACK UP-POINTING TRIANGLE}" if up else "\N{BLACK DOWN-POINTING TRIANGLE}"
    figure = f"{arrow} {report.change_ratio:+.1%}"
    rest = f" vs {label} ({fmt_usd(report.comparison_usd)})"
    if not html:
        return figure + rest
    # More spend reads as a warning, less as good news.
    tone = "up" if report.change_usd > 0 else "down"
    return f'<span class="{tone}">{escape(figure)}</span>{escape(rest)}'


def coverage(report: CostReport) -> str:
    """How far the data reaches into the period, e.g. `data through 27 Nov 2026`."""
    if not report.daily:
        return "no data for the period yet"
    if report.is_complete:
        return "complete period"
    return f"data through {report.daily[-1].day.day} {report.daily[-1].day:%b %Y}"


def period_range(period: Period) -> str:
    """The period's days with the year, e.g. `1-30 Nov 2026`."""
    text = day_range(period.start, period.end)
    # Ranges across a new year already carry both years.
    return text if period.start.year != period.end.year else f"{text} {period.end.year}"


def people_note(report: CostReport) -> str:
    """How people are named under the serving file's privacy mode."""
    if report.privacy == "strict":
        return (
            "Privacy strict: people appear as keyed pseudonyms (their user_key in every mart);"
            " the serving warehouse holds no e-mails or names."
        )
    return (
        "People are named by their e-mail in the directory (dim_users), else by name or"
        " account id. Spend is the person's reported cost in the period."
    )


def anomaly_summary(report: CostReport) -> str:
    """The anomalies counted by kind, e.g. `1 person-day, 1 team-day`."""
    if not report.anomalies:
        return "none in the period"
    kinds = defaultdict(int)
    for anomaly in report.anomalies:
        kinds[anomaly.subject_kind] += 1
    parts = []
    for kind, n in sorted(kinds.items(), reverse=True):
        parts.append(f"{n} {'person' if kind == 'user' else 'team'}-day{'s' * (n != 1)}")
    return ", ".join(parts)
