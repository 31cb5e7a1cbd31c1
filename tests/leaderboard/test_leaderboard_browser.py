"""The leaderboard page in a real headless Chromium, opened from file:// with the network watched."""
from __future__ import annotations

from pathlib import Path

import pytest
from browser import CHROMIUM_ARGS, chromium
from leaderboard_fixtures import EVIL_NAME, EVIL_SOURCE, write_fixture_runs

from deepfake_zoo.leaderboard.render import write_leaderboard

pytestmark = pytest.mark.browser

ARTIFACT = Path(__file__).resolve().parents[1] / "artifacts" / "leaderboard.png"


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    """The fixture leaderboard loaded once in Chromium, with every request, console message and dialog recorded."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium()
    root = tmp_path_factory.mktemp("leaderboard")
    metrics = write_fixture_runs(root / "runs")
    out = write_leaderboard(root / "runs", root / "index.html")
    events: dict[str, list] = {"requests": [], "errors": [], "dialogs": []}
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda request: events["requests"].append(request.url))
            page.on("console", lambda msg: msg.type == "error" and events["errors"].append(msg.text))
            page.on("pageerror", lambda err: events["errors"].append(str(err)))
            page.on("dialog", lambda dialog: (events["dialogs"].append(dialog.message), dialog.dismiss()))
            page.goto(out.as_uri(), wait_until="load")
            page.wait_for_function("document.querySelectorAll('.plot').length > 0 && Array.from("
                                   "document.querySelectorAll('.plot')).every(d => d.querySelector('.main-svg'))",
                                   timeout=90_000)
            ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACT), full_page=True)
            yield page, events, metrics, out
        finally:
            browser.close()


def _row_models(page) -> list[str]:
    return page.eval_on_selector_all("#leaderboard tbody tr", "rows => rows.map(r => r.dataset.model)")


def test_loads_offline_with_no_errors_and_no_requests(browser_page):
    page, events, _, out = browser_page
    assert events["errors"] == []
    assert events["requests"], "the page itself was never requested"
    assert all(url == out.as_uri() or url.startswith("data:") for url in events["requests"]), events["requests"]
    assert ARTIFACT.is_file() and ARTIFACT.stat().st_size > 50_000


def test_every_plot_rendered(browser_page):
    page, *_ = browser_page
    drawn = page.eval_on_selector_all(".plot", "divs => divs.map(d => [d.id, d.querySelectorAll('.main-svg').length,"
                                               " d.getBoundingClientRect().height])")
    # comparison views (accuracy, ROC, cross-dataset, Pareto, four robustness curves) + eight plots for each complete
    # run + the calibrated run's reliability diagram
    assert len(drawn) == 4 + 4 + 3 * 8 + 1
    assert all(svgs >= 1 and height > 100 for _, svgs, height in drawn), drawn


def test_hostile_names_render_as_text_and_run_nothing(browser_page):
    page, events, *_ = browser_page
    assert events["dialogs"] == []
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("document.querySelectorAll('main script').length") == 0
    link = page.locator("#leaderboard tbody tr td.model a", has_text=EVIL_NAME)
    assert link.count() == 1 and link.is_visible() and link.inner_text() == EVIL_NAME
    # Plotly drew the same names literally in its tick labels and legend.
    svg_text = page.evaluate("Array.from(document.querySelectorAll('.main-svg')).map(s => s.textContent).join(' ')")
    assert EVIL_NAME in svg_text and EVIL_SOURCE in svg_text


def test_table_rows_sort_and_link_to_sections(browser_page):
    page, _, metrics, _ = browser_page
    by_auc = sorted(metrics, key=lambda m: -metrics[m]["roc_auc"])
    assert _row_models(page) == by_auc

    page.click("#leaderboard th[data-key=eer] button")
    assert _row_models(page) == sorted(metrics, key=lambda m: metrics[m]["eer"])
    page.click("#leaderboard th[data-key=eer] button")
    assert _row_models(page) == sorted(metrics, key=lambda m: -metrics[m]["eer"])
    page.click("#leaderboard th[data-key=wall_time_s] button")
    assert _row_models(page) == sorted(metrics, key=lambda m: metrics[m]["wall_time_s"])
    assert page.get_attribute("#leaderboard th[data-key=wall_time_s]", "aria-sort") == "ascending"
    page.click("#leaderboard th[data-key=model] button")
    assert _row_models(page) == sorted(metrics)
    page.click("#leaderboard th[data-key=rank] button")
    page.click("#leaderboard th[data-key=rank] button")
    assert _row_models(page) == by_auc

    page.locator("#leaderboard td.model a", has_text="cnn").click()
    section = page.evaluate("location.hash").lstrip("#")
    assert page.locator(f"section#{section} h2").inner_text().startswith("cnn")
    top = page.evaluate(f"document.getElementById('{section}').getBoundingClientRect().top")
    assert abs(top) < 5


def test_generalization_matrix_and_a_robustness_plot_are_visible(browser_page):
    page, *_ = browser_page
    matrix = page.locator("#generalization")
    assert matrix.is_visible()
    headers = page.eval_on_selector_all("#generalization thead th", "ths => ths.map(t => t.innerText.trim())")
    assert headers[-1] == "mean not in-domain" and any("gan-faces" in h for h in headers)
    cell = page.locator("#generalization tr[data-model=mobilenet_v2_frozen] td").nth(1)
    assert cell.inner_text().split() == ["0.550", "n", "=", "80"]
    colour = cell.evaluate("td => getComputedStyle(td).backgroundColor")
    assert colour not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")
    jpeg = page.locator("#fig-robustness-1-jpeg")
    jpeg.scroll_into_view_if_needed()
    assert jpeg.is_visible() and jpeg.bounding_box()["height"] > 200
    lines = jpeg.evaluate("d => d.querySelectorAll('.scatterlayer .trace').length")
    assert lines == 2
    legend = jpeg.evaluate("d => d.querySelector('.legend').textContent")
    assert "mobilenet_v2_frozen (n = 60)" in legend and "cnn (n = 50)" in legend
    # The page's toggle to rank by the mean over the sets that are not in-domain: its column header.
    page.click("#leaderboard th[data-key=cross_mean_roc_auc] button")
    assert _row_models(page)[0] == "mobilenet_v2_frozen"
    assert page.get_attribute("#leaderboard th[data-key=cross_mean_roc_auc]", "aria-sort") == "descending"
    caption = page.locator("#fig-robustness-1-jpeg + p.caption").inner_text()
    assert caption.startswith("Measured on the test split (n = 50, 60 images per model)")
