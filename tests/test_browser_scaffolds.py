"""The Scaffolds page in real headless Chromium: extract a draft, edit a sub-problem in the table,
compare the versions, approve. Screenshots land in tests/artifacts/scaffolds-*.png."""

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.support.browser_support import (
    choose,
    cut_texts,
    drawn_text_sizes,
    open_app,
    screenshot,
    type_text,
    wait_until_idle,
)

pytestmark = pytest.mark.browser

NEW_STEP = "Split the contract by heading; review the schedules on their own"


def visible_code(page):
    return page.locator("[data-testid=stCode]:visible")


def version_picker(page):
    return page.get_by_role("combobox", name="Version", exact=True)


def test_edit_compare_and_approve_a_scaffold(page, app_url):
    open_app(page, app_url)
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Scaffolds").click()
    wait_until_idle(page)

    expect(page.get_by_text("New scaffold from traces")).to_be_visible()
    if not page.get_by_role("button", name="Extract a draft").is_visible():
        page.get_by_text("New scaffold from traces").click()
        wait_until_idle(page)
    choose(page, page.get_by_role("combobox", name="Trace"), re.compile(r"MSA-2024-0117 .* teacher"))
    page.get_by_role("button", name="Extract a draft").click()
    wait_until_idle(page)
    saved = page.get_by_text(re.compile(r"Saved legal-contract-review-\w+ v1 as a draft. Compression: .*6 of 6 first-level"))
    expect(saved).to_be_visible()
    scaffold_id = re.search(r"legal-contract-review-\w+", saved.inner_text()).group(0)

    page.get_by_role("tab", name="Edit").click()
    wait_until_idle(page)
    table = page.get_by_role("tabpanel", name="Edit").locator("[data-testid=stDataFrame]").first
    cell_editor = page.locator("textarea.gdg-input")  # the grid's overlay editor
    for _ in range(3):  # a grid still drawing (a loaded machine) takes no double-click: try again once it has
        box = table.bounding_box()
        page.mouse.dblclick(box["x"] + 330, box["y"] + 35 + 17)  # first row of the instruction column
        try:
            cell_editor.wait_for(timeout=5000)
            break
        except PlaywrightTimeout:
            wait_until_idle(page)
    cell_editor.fill(NEW_STEP)
    cell_editor.press("Enter")
    wait_until_idle(page)
    expect(visible_code(page).filter(has_text=f"1. {NEW_STEP}")).to_have_count(1)  # the live preview
    type_text(page, page.get_by_role("textbox", name="What changed and why"), "schedules need their own pass")
    page.get_by_role("button", name="Save as a new version").click()
    wait_until_idle(page)
    expect(page.get_by_text(f"Saved {scaffold_id} v2 as a draft.")).to_be_visible()

    page.get_by_role("tab", name="Compare").click()
    wait_until_idle(page)
    expect(visible_code(page).filter(has_text="- 1. Split the MSA into numbered sections and schedules")).to_have_count(1)
    expect(visible_code(page).filter(has_text=f"+ 1. {NEW_STEP}")).to_have_count(1)
    screenshot(page, "scaffolds-diff")

    page.get_by_role("tab", name="Review").click()
    expect(page.get_by_role("button", name="Submit for review")).to_be_visible()
    for width in (1440, 1280, 1024):  # the review buttons keep their whole labels
        page.set_viewport_size({"width": width, "height": 1800})
        page.wait_for_timeout(500)
        assert cut_texts(page) == [], f"cut at {width} px"
        screenshot(page, f"scaffolds-review-{width}")
    page.set_viewport_size({"width": 1400, "height": 1800})
    page.get_by_role("button", name="Submit for review").click()
    wait_until_idle(page)
    # Statuses in people's words, in the message, the version picker and the review line alike.
    expect(page.get_by_text(f"{scaffold_id} v2 is now in review.")).to_be_visible()
    expect(version_picker(page)).to_have_value(re.compile("^v2 · in review"))
    type_text(page, page.get_by_role("textbox", name="Review comment"), "ready for the 8B student")
    page.get_by_role("button", name="Approve").click()
    wait_until_idle(page)
    expect(page.get_by_text(f"{scaffold_id} v2 is now approved.")).to_be_visible()
    expect(version_picker(page)).to_have_value(re.compile("^v2 · approved"))  # the new status, right after the decision
    expect(page.get_by_role("tabpanel", name="Review")).to_contain_text(re.compile(r"Version 2 is approved by \S"))
    assert "in_review" not in page.get_by_test_id("stMain").inner_text()
    page.set_viewport_size({"width": 1440, "height": 1800})
    page.get_by_role("tab", name="Outline").click()
    wait_until_idle(page)
    page.locator("[data-testid=stGraphVizChart] svg:visible").first.wait_for()
    # Drawn at its own size, not squeezed into a column (narrower windows still shrink it: core/scaffolds/render.py
    # draws it wider than 1024 px leave).
    assert min(drawn_text_sizes(page)) >= 12

    page.get_by_role("tab", name="Export").click()
    expect(visible_code(page).filter(has_text=f"=== SCAFFOLD {scaffold_id} v2")).to_have_count(1)
    screenshot(page, "scaffolds-approved")
    assert page.dialogs == []
