"""Bare URLs, www. hosts and e-mail addresses in trace text stay inert text in real Chromium.

Streamlit's Markdown (GFM) turns them into links even when every Markdown character is escaped.
"""

import pytest

from core import Store, import_files
from tests.conftest import trellis_json
from tests.support.browser_support import open_app, screenshot, serve, wait_until_idle

pytestmark = pytest.mark.browser

URL, HOST, MAIL = "https://evil.example/login", "www.evil.example", "admin@evil.example"
LINKS = 'a[href*="evil.example"], a[href^="mailto:"]'


def nodes(prefix: str, *, broken: bool) -> list[dict]:
    return [
        {"id": f"{prefix}-root", "kind": "decompose", "subproblem": f"Check {URL} and {HOST} for {MAIL}"},
        {"id": f"{prefix}-open", "parent_id": f"{prefix}-root", "order": 0, "kind": "leaf",
         "subproblem": f"Open {URL} and sign in as {MAIL}",
         **({"status": "error", "error": f"refused by {HOST}"} if broken else {"output": "Signed in."})},
        {"id": f"{prefix}-mail", "parent_id": f"{prefix}-root", "order": 1, "kind": "leaf",
         "subproblem": f"Write to {MAIL} about {HOST}", "output": "Sent."},
    ]


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    """A server over a teacher and a student whose title, agent, task class and sub-problems hold links."""
    folder = tmp_path_factory.mktemp("autolinks")
    paths = []
    for role in ("teacher", "student"):
        path = folder / f"{role}.json"
        path.write_text(trellis_json(
            f"links-{role}", nodes(role[0], broken=role == "student"), title=f"{role} run on {URL} ({HOST})",
            role=role, agent=MAIL, task_class=f"review {HOST}",
        ))
        paths.append(path)
    with Store(folder / "trellis.duckdb") as store:
        import_files(store, paths)
    with serve(folder / "trellis.duckdb") as server:
        yield server


def assert_inert(page, name: str) -> None:
    wait_until_idle(page)
    screenshot(page, name)
    assert page.get_by_text("evil.example/login").count() >= 1, "the text is shown"
    links = page.locator(LINKS).evaluate_all("links => links.map(a => a.outerHTML)")
    assert links == []


def test_home_trace_and_compare_show_urls_as_text(page, url):
    open_app(page, url)
    assert_inert(page, "autolinks_home")
    open_app(page, f"{url}/trace?trace=links-student&node=s-open")
    page.wait_for_selector("[data-testid=stGraphVizChart] svg")
    assert_inert(page, "autolinks_trace")
    open_app(page, f"{url}/compare?left=links-teacher&right=links-student")
    page.wait_for_selector("[data-testid=stGraphVizChart] svg")
    assert_inert(page, "autolinks_compare")


def test_critique_annotations_show_urls_as_text(page, url):
    open_app(page, f"{url}/critique?trace=links-student")
    page.get_by_role("button", name="Run critique").click()
    page.locator("[class*=st-key-annotation-]").first.wait_for()
    assert_inert(page, "autolinks_critique")
