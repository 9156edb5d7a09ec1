"""The app and other processes on one store at once, in real headless Chromium: the app serves a folder store (a
DuckLake, which many processes may open together) while `trellis import` and `trellis collect` write into it, and
the Library shows each new trace without anyone reloading the page; the one receiving spans is marked live.
"""

import re
import subprocess

import pytest
from playwright.sync_api import expect

from core.cli import main
from tests.conftest import ROOT, SAMPLES
from tests.support.browser_support import open_app, screenshot, serve
from tests.support.collector import JSON, TRELLIS, collecting, post
from tests.support.otlp_request import export_request

pytestmark = pytest.mark.browser

STUDENT, TEACHER, OTHER_TEACHER = "legal-msa-student-8b", "legal-msa-teacher-70b", "bugtriage-proration-teacher-32b"
TEACHER_TITLE = "MSA-2024-0117 risk review (Corvane / Halden), teacher run"
STUDENT_TITLE = "MSA-2024-0117 risk review (Corvane / Halden), student run"
SEEN_WITHIN = 60_000  # ms: the page looks every few seconds, on a machine that may be busy


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("shared") / "shared.lake"
    files = [str(SAMPLES / f"{trace_id}.json") for trace_id in (STUDENT, OTHER_TEACHER)]
    assert main(["import", *files, "--db", str(store)]) == 0
    return store


@pytest.fixture(scope="module")
def shared_app(shared_store):
    with serve(shared_store) as url:
        yield url


def table_text(page):
    """The traces table's cells, as the browser offers them to assistive technology (the grid is drawn on a canvas)."""
    return page.locator("[data-testid=stDataFrame] table").first


def test_a_trace_imported_in_the_terminal_appears_in_the_open_library(page, shared_app, shared_store):
    open_app(page, f"{shared_app}/library")
    page.get_by_test_id("stMultiSelect").filter(has_text="Role").get_by_role("combobox").click()
    page.get_by_role("option", name="teacher").click()
    page.keyboard.press("Escape")
    expect(page.get_by_text("1 of 2 traces · click a row to open its trace")).to_be_visible()

    imported = subprocess.run([TRELLIS, "import", str(SAMPLES / f"{TEACHER}.json"), "--db", str(shared_store)],
                              capture_output=True, text=True, cwd=ROOT)
    assert imported.returncode == 0, imported.stderr

    # No reload, no click: the page finds the new trace itself, and keeps the person's filter.
    expect(page.get_by_text("2 of 3 traces · click a row to open its trace")).to_be_visible(timeout=SEEN_WITHIN)
    expect(table_text(page)).to_contain_text(TEACHER_TITLE)
    expect(table_text(page)).not_to_contain_text(STUDENT_TITLE)


@pytest.fixture
def collector(shared_store):
    """The address of `trellis collect` writing into the store the app serves."""
    with collecting(shared_store) as running:
        yield running.url


def test_spans_sent_to_the_collector_appear_as_a_live_trace(page, shared_app, collector):
    open_app(page, f"{shared_app}/library")
    expect(page.get_by_text(re.compile(r"^\d+ of \d+ traces · click a row to open its trace$"))).to_be_visible()

    spans = [("eee19b7ec3c1b174", None, "answer the refund question"), ("eee19b7ec3c1b175", "eee19b7ec3c1b174", "look up")]
    assert post(collector, export_request("5b8efff798038103d269b633813fc60c", spans), JSON)[0] == 200

    expect(page.get_by_text(re.compile(r"^\d+ of \d+ traces · 1 ● live \(a span in the last 30 s\) · click a row"))
           ).to_be_visible(timeout=SEEN_WITHIN)
    expect(table_text(page)).to_contain_text("● live · answer the refund question")
    screenshot(page, "library-live")
