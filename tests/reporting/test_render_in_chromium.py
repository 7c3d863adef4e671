"""The report's HTML in a real browser: headless Chromium (Debian's package) draws every chart.

`make test` installs Chromium when it is missing (as root; otherwise it says how). Playwright
drives the system Chromium: it never downloads a browser of its own. The page is opened from
a file with the network unused: any request besides the file itself, a failed request, a
console error or a script error fails the test. Each chart's region of the screenshot must
hold several colours (a blank or one-colour box means it did not draw). The time to load the
page and take the screenshot is printed (run with -s to see it); a copy of the screenshot is
kept at /tmp/cost-report.png.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reporting.files import write_cost_report
from reporting.periods import parse_period
from tests.support.organisations import BuiltOrganisation

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAPTOP = {"width": 1366, "height": 768}
SCREENSHOT_COPY = Path("/tmp/cost-report.png")
CHARTS = 6  # daily trend, team, model, product, reconciliation, budgets


def _chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if found:
        return found
    message = (
        "Chromium is not installed: `make test` installs it as root, or run"
        " `sudo apt-get install --no-install-recommends chromium`."
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _distinct_colours(image, box: dict[str, float]) -> tuple[int, float]:
    """Distinct colours in a page region and the share of its most common colour."""
    left, top = int(box["x"]), int(box["y"])
    region = image.crop((left, top, left + int(box["width"]), top + int(box["height"])))
    counts = region.getcolors(maxcolors=region.width * region.height)
    return len(counts), max(counts)[0] / sum(count for count, _ in counts)


def test_the_report_renders_in_chromium_with_every_chart_drawn(
    planted_org: BuiltOrganisation, tmp_path: Path
) -> None:
    from PIL import Image
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    _, files = write_cost_report(
        planted_org.serving_database,
        tmp_path,
        parse_period("2026-03"),
        now=datetime(2026, 3, 19, 6, tzinfo=UTC),
    )
    console, page_errors, failed, requests = [], [], [], []
    screenshot = tmp_path / "cost-report.png"
    started = time.perf_counter()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=LAPTOP, device_scale_factor=1)
            page.on("console", lambda message: console.append((message.type, message.text)))
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.on("request", lambda request: requests.append(request.url))
            launched = time.perf_counter()
            page.goto(files.html.as_uri(), wait_until="load")
            page.screenshot(path=str(screenshot), full_page=True)
            rendered = time.perf_counter()
            boxes = [chart.bounding_box() for chart in page.locator("svg.chart").all()]
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            # The print stylesheet lays the page out on A4.
            page.emulate_media(media="print")
            pdf = page.pdf(format="A4", print_background=True)
        finally:
            browser.close()
    print(
        f"\nreport rendered in Chromium: load + full-page screenshot {rendered - launched:.2f} s"
        f" (with browser start {rendered - started:.2f} s), page"
        f" {Image.open(screenshot).size[0]}x{Image.open(screenshot).size[1]} px,"
        f" {len(boxes)} charts, {len(pdf) / 1024:.0f} KiB PDF"
    )
    shutil.copyfile(screenshot, SCREENSHOT_COPY)

    assert [message for message in console if message[0] in ("error", "warning")] == []
    assert page_errors == [] and failed == []
    assert requests == [files.html.as_uri()]  # nothing fetched but the page itself
    assert overflow <= 0  # nothing wider than a laptop screen
    assert len(boxes) == CHARTS
    image = Image.open(screenshot).convert("RGB")
    for box in boxes:
        assert box is not None and box["width"] > 200 and box["height"] > 60, box
        colours, dominant = _distinct_colours(image, box)
        assert colours >= 8 and dominant < 0.95, (box, colours, dominant)
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert 2 <= pages <= 8
