"""The Compare page, and the frame every page shares (sidebar, layout), in real headless Chromium, used the way a
person uses them. Screenshots land in tests/artifacts/compare-*.png and layout-*.png."""

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser_support import choose, cut_texts, drawn_text_sizes, open_app, screenshot, wait_until_idle

pytestmark = pytest.mark.browser

LEFT, RIGHT = "Left (usually the teacher)", "Right (usually the student)"
CENTRE = "Centre both trees on a matched pair"
WIDTHS = (1440, 1280, 1024)


def option(*words: str) -> re.Pattern:
    """A picker option naming all these words, in whatever order its label puts them."""
    return re.compile("".join(f"(?=.*{re.escape(w)})" for w in words))


def pick(page, picker: str, wanted: re.Pattern) -> None:
    choose(page, page.get_by_role("combobox", name=picker, exact=True), wanted)


def expect_no_failure(page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stMetric").first).to_be_visible()


def table_rows(page) -> list[list[str]]:
    """The cells of the first table's rows as the browser's accessibility table has them (the grid is a canvas)."""
    table = page.get_by_test_id("stDataFrame").first
    table.locator("table tr").nth(2).wait_for(state="attached")
    return table.locator("table tr").evaluate_all(
        "rows => rows.map(r => [...r.children].map(c => c.innerText.replace(/\\u2003/g, ' ').trim()))")


def test_the_traces_and_the_centred_pair_can_be_changed_in_any_order(page, app_url):
    open_app(page, f"{app_url}/compare")
    pick(page, LEFT, option("MSA-2024-0117", "teacher"))
    expect_no_failure(page)
    pick(page, RIGHT, option("Parcelwise", "student"))  # once failed: KeyError '#1 · Find the root cause…'
    expect_no_failure(page)
    pick(page, RIGHT, option("MSA-2024-0117", "student"))
    pick(page, CENTRE, re.compile(r"^#3 · "))
    expect_no_failure(page)
    expect(page).to_have_url(re.compile("focus="))
    pick(page, LEFT, option("ledgerline", "student"))
    pick(page, CENTRE, re.compile(r"^#2 · "))
    pick(page, RIGHT, option("FY2024 guidance", "teacher"))
    expect_no_failure(page)
    expect(page.locator("[data-testid=stGraphVizChart] svg")).to_have_count(2)
    assert page.dialogs == []


def test_a_left_trace_brings_the_trace_of_its_class_and_other_classes_are_warned_about(page, app_url):
    open_app(page, f"{app_url}/compare?left=legal-msa-student-8b")
    right = page.get_by_role("combobox", name=RIGHT, exact=True)
    expect(right).to_have_value(option("MSA-2024-0117", "teacher"))  # the teacher of the student's class
    expect_no_failure(page)
    expect(page.get_by_text("different task classes")).to_have_count(0)

    pick(page, LEFT, option("Parcelwise", "teacher"))
    expect(right).to_have_value(option("Parcelwise", "student"))  # the right follows a new left
    expect(page.get_by_text("different task classes")).to_have_count(0)

    pick(page, RIGHT, option("MSA-2024-0117", "teacher"))  # a person may still compare across classes...
    warning = page.get_by_test_id("stAlertContentWarning")
    expect(warning).to_contain_text("different task classes")  # ...and is told what that means
    expect(warning).to_contain_text("long-log-incident-analysis")
    expect(warning).to_contain_text("legal-contract-review")


def test_matched_pairs_share_a_row_and_the_trees_are_drawn_readable(page, app_url):
    page.set_viewport_size({"width": 1024, "height": 1400})
    open_app(page, f"{app_url}/compare?left=legal-msa-teacher-70b&right=legal-msa-student-8b")
    rows = table_rows(page)
    header, body = rows[0], rows[1:]
    assert header[:3] == ["match", "left sub-problem", "right sub-problem"]
    second_pair = next(r for r in body if r[0] == "#2")  # one row, both sides
    assert second_pair[1] == second_pair[2] == "Split the MSA into numbered sections and schedules"
    only_left = next(r for r in body if r[0] == "only left")
    assert only_left[1] and not only_left[2]
    page.locator("[data-testid=stGraphVizChart] svg").nth(1).wait_for()
    assert min(drawn_text_sizes(page)) >= 12  # no 5-9 px text at the narrowest width either
    screenshot(page, "compare-1024")


def test_compare_and_home_fit_at_1440_1280_and_1024_px(page, app_url):
    for path in ("compare?left=legal-msa-teacher-70b&right=legal-msa-student-8b", ""):
        open_app(page, f"{app_url}/{path}")
        expect(page.get_by_test_id("stMetric").first).to_be_visible()
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 1400})
            page.wait_for_timeout(500)
            assert cut_texts(page) == [], f"cut at {width} px on /{path}"
            screenshot(page, f"layout-{path.split('?')[0] or 'home'}-{width}")


def test_the_sidebars_trace_entry_reopens_the_trace_and_node_last_open(page, app_url):
    open_app(page, f"{app_url}/trace?trace=legal-msa-teacher-70b&node=t-legal-3.3")
    expect(page.get_by_text("Review Section 4 (Term and Termination)").first).to_be_visible()
    acting = page.get_by_test_id("stSidebar").get_by_text("acting as")
    name = acting.inner_text()

    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Compare").click()
    wait_until_idle(page)
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Trace").click()
    page.wait_for_url(re.compile(r"/trace\?.*trace=legal-msa-teacher-70b"))
    assert "node=t-legal-3.3" in page.url
    wait_until_idle(page)
    expect(page.get_by_text("Review Section 4 (Term and Termination)").first).to_be_visible()

    page.reload()  # who is acting survives a reload
    wait_until_idle(page)
    expect(page.get_by_test_id("stSidebar").get_by_text("acting as")).to_have_text(name)
