"""The Library page in real headless Chromium: the table fits the window and a row click opens its trace;
an upload links each new trace and says what to choose in the app when a file's format is unknown; a trace is
renamed, tagged, filtered by its tag and deleted after a confirmation.

Tests that change the library use their own server on their own copy of it (`own_library`), so the shared
library the other browser tests read stays as it was.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import trellis_json
from tests.support.browser_support import choose, open_app, screenshot, serve, type_text, upload, wait_until_idle
from tests.support.explorer_library import build_library

pytestmark = pytest.mark.browser

HEADER, ROW = 35, 35  # the height in pixels of the table's header and of each of its rows


def table_overflow(page) -> int:
    """How many pixels of the traces table lie beyond its right edge (columns one has to scroll to)."""
    scroller = page.locator("[data-testid=stDataFrame] .dvn-scroller").first
    return scroller.evaluate("s => s.scrollWidth - s.clientWidth")


def click_row(page, row: int, x: int = 60) -> None:
    """Click a cell of the traces table's row ``row`` (0 is the first row below the header)."""
    box = page.locator("[data-testid=stDataFrame]").first.bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + HEADER + ROW * row + ROW / 2)


@pytest.mark.parametrize("width", [1440, 1280, 1024])
def test_every_column_of_the_table_is_in_view(page, app_url, width):
    page.set_viewport_size({"width": width, "height": 1000})
    open_app(page, f"{app_url}/library")
    page.wait_for_selector("[data-testid=stDataFrame] .dvn-scroller")
    page.wait_for_timeout(500)
    assert table_overflow(page) <= 1, f"columns are off-screen at {width}px"
    screenshot(page, f"library-{width}")


def test_clicking_a_row_opens_its_trace(page, app_url):
    open_app(page, f"{app_url}/library")
    page.wait_for_selector("[data-testid=stDataFrame] canvas")
    page.wait_for_timeout(500)
    click_row(page, 1)  # the sample library's second row: rows are sorted by task class, role and id
    page.wait_for_url("**/trace?trace=bugtriage-proration-student-7b*")
    expect(page.get_by_role("heading", name="ledgerline: failing DST proration test, student run")).to_be_visible()
    page.get_by_test_id("stSidebarNav").get_by_text("Library").click()
    page.wait_for_url("**/library")  # a busy server may take a while to start the page
    wait_until_idle(page)
    page.wait_for_timeout(1000)
    assert page.url.endswith("/library")  # and it stays: the old click opens nothing again
    expect(page.get_by_role("heading", name="Library")).to_be_visible()


@pytest.fixture(scope="module")
def own_library(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own-library")
    build_library(folder / "trellis.duckdb", folder / "traces")
    with serve(folder / "trellis.duckdb") as url:
        yield url


def test_an_imported_trace_is_one_click_away(page, own_library, small_tree):
    open_app(page, f"{own_library}/library")
    upload(page, ("fresh.json", trellis_json("fresh-upload", small_tree, title="A freshly uploaded trace").encode()))
    expect(page.get_by_text("fresh.json: imported fresh-upload (4 nodes)")).to_be_visible()
    page.get_by_role("link", name="Open A freshly uploaded trace").click()
    page.wait_for_url("**/trace?trace=fresh-upload*")
    expect(page.get_by_role("heading", name="A freshly uploaded trace")).to_be_visible()


def test_a_file_of_unknown_format_is_told_what_to_choose_in_the_app(page, own_library):
    open_app(page, f"{own_library}/library")
    upload(page, ("odd.json", b'{"spans": [], "hello": 1}'))
    error = page.locator("[data-testid=stAlertContentError]")
    expect(error).to_contain_text("odd.json: unknown trace format")
    expect(error).to_contain_text("choose its format in the Format list and import it again")
    assert "--format" not in error.inner_text()


def test_rename_tag_filter_and_delete_a_trace_with_a_confirmation(page, own_library):
    open_app(page, f"{own_library}/library")
    page.get_by_text("Rename, tag or delete a trace").click()
    manage = page.get_by_test_id("stExpander").filter(has_text="Rename, tag or delete a trace")
    choose(page, manage.get_by_test_id("stSelectbox").get_by_role("combobox"), "legal-msa-student-8b")

    type_text(page, manage.get_by_label("Title"), "MSA student, first pass")
    manage.get_by_test_id("stMultiSelect").get_by_role("combobox").click()
    page.keyboard.type("needs-review")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    manage.get_by_role("button", name="Save", exact=True).click()
    wait_until_idle(page)
    expect(page.get_by_text("Saved legal-msa-student-8b.")).to_be_visible()

    page.get_by_test_id("stMultiSelect").filter(has_text="Tags").first.get_by_role("combobox").click()
    page.get_by_role("option", name="needs-review").click()
    page.keyboard.press("Escape")
    wait_until_idle(page)
    expect(page.get_by_text(re.compile(r"^1 of \d+ traces · click a row to open its trace$"))).to_be_visible()
    screenshot(page, "library-tag-filter")

    manage.get_by_role("button", name="Delete…").click()
    wait_until_idle(page)
    expect(manage.get_by_text("Delete legal-msa-student-8b for good? Nothing else is deleted with it.")).to_be_visible()
    manage.get_by_role("button", name="Delete for good").click()
    wait_until_idle(page)
    expect(page.get_by_text("Deleted legal-msa-student-8b.")).to_be_visible()
    assert page.get_by_role("option", name="legal-msa-student-8b").count() == 0
    manage.get_by_test_id("stSelectbox").get_by_role("combobox").click()
    expect(page.get_by_role("option", name="legal-msa-teacher-70b")).to_be_visible()
    assert page.get_by_role("option", name="legal-msa-student-8b").count() == 0  # gone from the library
