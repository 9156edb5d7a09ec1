"""The explorer in real headless Chromium against `streamlit run app.py`, the way a person uses it.

Screenshots of each page land in tests/artifacts/ for a person to look at.
"""

import pytest
from playwright.sync_api import expect

from pages import PAGES
from tests.support.browser_support import open_app, screenshot, serve, upload, wait_until_idle
from tests.support.explorer_library import build_library

pytestmark = pytest.mark.browser


def inspected_node(page) -> str:
    return page.locator("[data-testid=stCode]").first.inner_text().strip()


def test_library_lists_the_traces(page, app_url):
    open_app(page, f"{app_url}/library")
    page.wait_for_selector("[data-testid=stDataFrame]")
    assert page.get_by_text("traces · click a row").count() == 1
    screenshot(page, "library")


def test_open_a_trace_from_the_demo_and_select_a_node_in_the_overview(page, app_url):
    open_app(page, app_url)
    screenshot(page, "home")
    page.get_by_role("link", name="Open the teacher's trace").click()
    page.wait_for_url("**/trace?trace=*")
    wait_until_idle(page)
    root = inspected_node(page)

    page.get_by_role("tab", name="Overview").click()
    segments = page.locator("[data-testid=stPlotlyChart] g.slice path.surface")
    segments.nth(1).wait_for(state="attached")
    page.wait_for_timeout(500)
    boxes = segments.evaluate_all("paths => paths.map(p => { const r = p.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })")
    # The largest segment below the root (the first box) is a node one level down; click its middle.
    x, y, width, height = max(boxes[1:], key=lambda b: b[2] * b[3])
    page.mouse.click(x + width / 2, y + height / 2)
    page.wait_for_url("**node=*")
    wait_until_idle(page)
    assert inspected_node(page) != root
    assert page.get_by_text("Sub-problem").count() >= 1
    screenshot(page, "trace")


def test_compare_draws_both_trees(page, app_url):
    open_app(page, f"{app_url}/compare")
    expect(page.locator("[data-testid=stGraphVizChart] svg")).to_have_count(2)
    expect(page.locator("[data-testid=stMetric]").first).to_be_visible()
    wait_until_idle(page)
    screenshot(page, "compare")


def test_uploading_a_bad_file_shows_the_importer_error(page, app_url):
    open_app(page, f"{app_url}/library")
    upload(page, ("broken.json", b'{"format": "trellis", "version": 1,\n'))
    error = page.locator("[data-testid=stAlertContentError]")
    error.wait_for()
    assert "broken.json: not valid JSON" in error.inner_text()  # the importer's message, naming the file
    screenshot(page, "upload_error")


def test_the_hostile_trace_renders_as_inert_text(page, app_url):
    open_app(page, f"{app_url}/trace?trace=hostile&node=link")
    page.wait_for_selector("[data-testid=stGraphVizChart] svg")
    assert page.get_by_text("<script>alert(1)</script> hostile trace [x](javascript:alert(1))").count() == 1
    assert page.get_by_text("[x](javascript:alert(1)) follow the link").count() >= 1
    for tab in ("Overview", "Timeline", "Statistics", "Around this node"):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(500)
        page.mouse.move(500, 900)  # hover over whatever chart is there
    open_app(page, f"{app_url}/trace?trace=hostile&node=long")
    page.get_by_text("Raw JSON").click()
    page.wait_for_timeout(500)
    main = page.locator("[data-testid=stMain]")
    overflow = main.evaluate("m => m.scrollWidth - m.clientWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than the window"
    assert page.locator("img[src=x], iframe, svg[onload]").count() == 0
    assert page.dialogs == []
    screenshot(page, "hostile")


def test_a_shared_link_is_the_first_request_of_a_fresh_server(page, tmp_path):
    # Streamlit's legacy pages/-folder mode runs pages/trace.py as a script for the first request of a fresh
    # server: the module runs the app (pages.run), so the link gets its trace and node, the navigation and the frame.
    db = tmp_path / "fresh.duckdb"
    build_library(db, tmp_path / "traces")
    with serve(db) as url:
        page.goto(f"{url}/trace?trace=legal-msa-teacher-70b&node=t-legal-2.1")
        expect(page.get_by_role("heading", name="MSA-2024-0117 risk review (Corvane / Halden), teacher run")).to_be_visible()
        expect(page.locator("[data-testid=stCode]").first).to_have_text("t-legal-2.1")
        nav = page.get_by_test_id("stSidebarNav")
        for entry in PAGES.values():
            expect(nav).to_contain_text(entry.title)
        expect(nav).not_to_contain_text("app")
        expect(page.get_by_text("Local single-user mode")).to_be_visible()
        assert page.url.endswith("/trace?trace=legal-msa-teacher-70b&node=t-legal-2.1")
        assert page.get_by_role("dialog").count() == 0  # no "page not found"
