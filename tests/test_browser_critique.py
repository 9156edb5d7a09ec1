"""Reviewing a critique in real headless Chromium: run it, accept, edit, reject, export."""

import json
import re

import pytest
from playwright.sync_api import expect

from core.auth import os_account
from tests.support.browser_support import open_app, screenshot, type_text, wait_until_idle

pytestmark = pytest.mark.browser


def annotation_cards(page):
    return page.locator("[class*=st-key-annotation-]")


def test_review_a_critique_and_export_the_accepted_points(page, app_url):
    open_app(page, f"{app_url}/critique?trace=legal-msa-student-8b")
    expect(page.get_by_text("Local single-user mode")).to_be_visible()
    page.get_by_role("button", name="Run critique").click()
    expect(page.get_by_text(re.compile(r"^\d+ proposed annotations$"))).to_be_visible()
    wait_until_idle(page)
    expect(annotation_cards(page).first).to_be_visible()
    assert annotation_cards(page).count() >= 3

    annotation_cards(page).nth(0).get_by_role("button", name="Accept").click()
    wait_until_idle(page)
    expect(annotation_cards(page).nth(0).get_by_role("emphasis")).to_have_text("accepted")

    rejected = re.search(r"st-key-annotation-\w+", annotation_cards(page).nth(1).get_attribute("class")).group()
    annotation_cards(page).nth(1).get_by_role("button", name="Reject").click()
    wait_until_idle(page)
    expect(page.locator(f".{rejected}")).to_have_count(0)  # rejected ones are filtered out by default

    card = annotation_cards(page).nth(1)
    card.get_by_text("Edit").click()
    wait_until_idle(page)
    type_text(page, card.get_by_label("Rationale"), "Edited by Ada: review the definitions before Section 10.")
    card.get_by_role("button", name="Save edit").click()
    wait_until_idle(page)
    expect(card.get_by_text("Edited by Ada: review the definitions before Section 10.", exact=True)).to_be_visible()
    screenshot(page, "critique")

    with page.expect_download() as download:
        page.get_by_role("button", name="Export critique package").click()
    package = json.loads(open(download.value.path()).read())
    assert package["format"] == "trellis-critique"
    statuses = {a["reviewed_by"] for a in package["annotations"]}
    assert statuses == {os_account()} and len(package["annotations"]) >= 2
    assert "Edited by Ada" in package["prompt"]
    assert page.dialogs == []
