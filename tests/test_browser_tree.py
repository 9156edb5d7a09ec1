"""The Trace page's tree, inspector and comments in real headless Chromium, the way a reviewer uses them.

One server for the module, on its own database (a comment is a change): the sample library plus a wide
trace of 10,251 nodes (a root with 250 children of 40 each), more than the tree lists at once.
"""

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from core import Store, import_files
from tests.support.browser_support import open_app, screenshot, serve, type_text, wait_until_idle
from tests.support.explorer_library import build_library

pytestmark = pytest.mark.browser

TEACHER = "legal-msa-teacher-70b"
WIDE, CHILDREN, GRANDCHILDREN = "wide", 250, 40
COMMENT = "<b>Too wide</b> <img src=x onerror=alert(1)> [link](javascript:alert(1)): split by clause"


def wide_trace() -> str:
    start = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)

    def timed(i: int) -> dict:  # a call a second, each lasting 3 s: the timeline spans minutes, not milliseconds
        return {"start_time": (start + timedelta(seconds=i)).isoformat(),
                "end_time": (start + timedelta(seconds=i + 3)).isoformat()}

    nodes = [{"id": "root", "kind": "decompose", "subproblem": "Review every clause of the agreement", **timed(0)}]
    for c in range(CHILDREN):
        nodes.append({"id": f"c{c}", "parent_id": "root", "order": c, "kind": "recurse",
                      "subproblem": f"Clause {c}", **timed(c + 1)})
        nodes += [{"id": f"c{c}.{g}", "parent_id": f"c{c}", "order": g, "kind": "leaf", "subproblem": f"Clause {c}, line {g}"}
                  for g in range(GRANDCHILDREN)]
    return json.dumps({"format": "trellis", "version": 1, "trace": {"id": WIDE, "title": "A wide trace"}, "nodes": nodes})


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tree")
    db = folder / "trellis.duckdb"
    build_library(db, folder / "traces")
    (folder / "wide.json").write_text(wide_trace())
    with Store(db) as store:
        import_files(store, [folder / "wide.json"])
    with serve(db) as url:
        yield url


def open_trace(page, url: str) -> None:
    """Open a trace page and wait for its inspector (a cold server loads the trace first: on a busy machine, a while)."""
    open_app(page, url)
    expect(page.locator("[data-testid=stCode]").first).to_be_visible(timeout=90_000)
    wait_until_idle(page)


def tree_row(page, node_id: str):
    return page.locator(f"[data-node-id='{node_id}']")


def inspected_node(page) -> str:
    return page.locator("[data-testid=stCode]").first.inner_text().strip()


def shows_node(page, node_id: str) -> None:
    expect(page.locator("[data-testid=stCode]").first).to_have_text(node_id)


def test_a_click_on_a_tree_row_shows_that_node_in_the_inspector(page, app):
    open_trace(page, f"{app}/trace?trace={TEACHER}")
    root = inspected_node(page)
    rows = page.get_by_role("treeitem")
    expect(rows.first).to_be_visible()
    child = rows.nth(1).get_attribute("data-node-id")
    rows.nth(1).click()
    shows_node(page, child)
    assert child != root
    expect(page).to_have_url(re.compile(f"node={re.escape(child)}"))  # the address names it: a link to share
    expect(page.get_by_role("treeitem", selected=True)).to_have_attribute("data-node-id", child)
    page.get_by_role("button", name="Parent").click()  # the inspector's buttons move the tree's selection too
    shows_node(page, root)
    expect(page.get_by_role("treeitem", selected=True)).to_have_attribute("data-node-id", root)


def test_the_tree_collapses_expands_and_follows_the_keyboard(page, app):
    open_trace(page, f"{app}/trace?trace={WIDE}")
    # The root is open: its first 100 children are listed, then one row for the other 150; theirs are closed.
    expect(page.get_by_text("102 of 10,251 nodes listed")).to_be_visible()
    expect(tree_row(page, "c0")).to_have_attribute("aria-expanded", "false")
    tree_row(page, "c0").get_by_text(f"+{GRANDCHILDREN} hidden").click()  # "+N hidden" opens the node in place
    expect(tree_row(page, "c0")).to_have_attribute("aria-expanded", "true")
    expect(tree_row(page, "c0.0")).to_be_visible()

    tree_row(page, "c0").click()
    shows_node(page, "c0")
    page.keyboard.press("ArrowDown")  # the first grandchild
    shows_node(page, "c0.0")
    page.keyboard.press("ArrowLeft")  # a leaf: up to its parent
    shows_node(page, "c0")
    page.keyboard.press("ArrowLeft")  # open: closes it
    expect(tree_row(page, "c0")).to_have_attribute("aria-expanded", "false")
    expect(tree_row(page, "c0.0")).to_have_count(0)
    page.keyboard.press("ArrowRight")  # closed: opens it
    page.keyboard.press("ArrowRight")  # open: down to its first child
    shows_node(page, "c0.0")

    page.get_by_role("button", name="Collapse all").click()
    expect(page.get_by_text("102 of 10,251 nodes listed")).to_be_visible()
    page.get_by_role("tree").evaluate("tree => { tree.scrollTop = tree.scrollHeight; }")
    page.get_by_text(f"+{CHILDREN - 100} hidden: show them").click()  # the rest of the root's children, in place
    expect(page.get_by_text(f"{1 + CHILDREN} of 10,251 nodes listed")).to_be_visible()
    expect(tree_row(page, "c100")).to_be_visible()
    screenshot(page, "tree_wide")


def test_a_big_tree_draws_only_the_rows_in_view_and_scrolls_to_the_end(page, app):
    open_trace(page, f"{app}/trace?trace={WIDE}")
    page.get_by_role("button", name="Expand all").click()
    expect(page.get_by_text("10,251 of 10,251 nodes listed")).to_be_visible()
    assert page.get_by_role("treeitem").count() < 100  # of 10,251 listed: virtualised
    page.get_by_role("tree").evaluate("tree => { tree.scrollTop = tree.scrollHeight; }")
    expect(tree_row(page, f"c{CHILDREN - 1}.{GRANDCHILDREN - 1}")).to_be_visible()
    tree_row(page, f"c{CHILDREN - 1}.{GRANDCHILDREN - 1}").click()
    shows_node(page, f"c{CHILDREN - 1}.{GRANDCHILDREN - 1}")


# The smallest text in the tree, and in the "around this node" picture as drawn (its font size times the
# scale the SVG is shown at): a graphviz picture stretched or squeezed to the column changes its text size.
SMALLEST_TREE_TEXT = """() => Math.min(...[...document.querySelectorAll('[data-node-id], [data-node-id] *, .bar *')]
    .filter(e => e.textContent.trim()).map(e => parseFloat(getComputedStyle(e).fontSize)))"""
SMALLEST_PICTURE_TEXT = """() => Math.min(...[...document.querySelectorAll('[data-testid=stGraphVizChart] svg text')]
    .map(t => parseFloat(t.getAttribute('font-size') || getComputedStyle(t).fontSize) * t.getScreenCTM().a))"""
# Elements whose text is cut (an ellipsis or clipping): wider inside than the box that shows them.
CUT = """selector => [...document.querySelectorAll(selector)].filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => e.innerText)"""


@pytest.mark.parametrize("width", [1280, 1024])
def test_no_text_under_12_px_and_no_figure_or_button_cut(page, app, width):
    page.set_viewport_size({"width": width, "height": 1400})
    open_trace(page, f"{app}/trace?trace={TEACHER}")
    page.locator("[data-testid=stGraphVizChart] svg text").first.wait_for()
    seen = {
        "tree text >= 12 px": page.evaluate(SMALLEST_TREE_TEXT) >= 12,
        "picture text >= 12 px": page.evaluate(SMALLEST_PICTURE_TEXT) >= 12,
        "figures cut": page.evaluate(CUT, "[data-testid=stMetricValue], [data-testid=stMetricValue] *"),
        "buttons cut": page.evaluate(CUT, "[data-testid=stMain] button, [data-testid=stMain] button *"),
    }
    assert seen == {"tree text >= 12 px": True, "picture text >= 12 px": True, "figures cut": [], "buttons cut": []}
    screenshot(page, f"trace_{width}")


def test_the_timeline_reads_in_seconds_or_minutes(page, app):
    open_trace(page, f"{app}/trace?trace={WIDE}")
    page.get_by_role("tab", name="Timeline").click(timeout=60_000)
    axis = page.locator("[data-testid=stPlotlyChart] .xtitle")
    expect(axis).to_have_text("seconds from the first call")
    ticks = page.locator("[data-testid=stPlotlyChart] .xtick text").all_text_contents()
    assert ticks and all(re.fullmatch(r"[\d.,]+ s", t) for t in ticks), ticks


def test_a_reviewer_comments_on_a_node_and_it_shows_as_plain_text(page, app):
    node_id = "t-legal-2.1"
    open_trace(page, f"{app}/trace?trace={TEACHER}&node={node_id}")
    shows_node(page, node_id)
    type_text(page, page.get_by_placeholder("what a reviewer noticed here"), COMMENT)
    page.get_by_role("button", name="Add comment").click()
    wait_until_idle(page)
    expect(page.get_by_test_id("stText").get_by_text(COMMENT, exact=True)).to_be_visible()  # shown, not just typed

    open_trace(page, f"{app}/trace?trace={TEACHER}&node={node_id}")  # a link to the node (as the Critique page makes)
    shows_node(page, node_id)
    expect(page.get_by_text(COMMENT, exact=True)).to_be_visible()  # kept, and shown as the characters typed
    expect(page.get_by_text("Comments (1)")).to_be_visible()
    assert page.locator("[data-testid=stMain] img[src=x], [data-testid=stMain] b").count() == 0
    assert page.dialogs == []
