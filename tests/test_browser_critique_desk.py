"""The Critique page as a review desk, in real headless Chromium: a re-run keeps each point once, a student that
never aggregates is told so, thousands of findings come grouped with one decision per group, a failed critique
says why in the open, each finding links to its node, and the layout holds from 1440 down to 1024 px.

The tests change data, so the module serves its own copy of the library (never the shared one other tests read).
"""

import json
import re
import sys
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

from core import Store, import_files
from core.auth import local_actor
from core.critique import structural
from core.critique.models import Annotation, CritiqueRun
from tests.support.browser_support import ARTIFACTS, choose, cut_texts, open_app, serve, wait_until_idle
from tests.support.explorer_library import ROOT, SAMPLES, build_library
from tests.support.http_listener import Listener

pytestmark = pytest.mark.browser

TEACHER = "legal-msa-teacher-70b"
NO_AGGREGATION = "legal-msa-teacher-70b-without-aggregation"
BIG = "big"
OFF_SCHEMA = "I have reviewed the trace and it looks fine to me!"  # what a small model answers instead of JSON


def copy_without_the_aggregation(folder):
    """The legal teacher trace as a student, with its final aggregation step ('Assemble the risk assessment') removed."""
    doc = json.loads((SAMPLES / f"{TEACHER}.json").read_text())
    doc["trace"] |= {"id": NO_AGGREGATION, "role": "student", "title": "Legal teacher copy without its aggregation"}
    doc["nodes"] = [n for n in doc["nodes"] if n["id"] != "t-legal-7"]
    path = folder / f"{NO_AGGREGATION}.json"
    path.write_text(json.dumps(doc))
    return path


def with_thousands_of_findings(store, folder):
    """A generated 10,000-node trace carrying every finding the structural critic makes on it, ungrouped (7,689),
    as a critic that does not group its findings proposes them."""
    sys.path.insert(0, str(ROOT / "bench"))
    from generate import write_jsonl

    path = folder / "big.jsonl"
    write_jsonl(path, 10_000, trace_id=BIG)
    import_files(store, [path])
    grouping, structural.GROUPS_PER_CHECK = structural.GROUPS_PER_CHECK, 10**9
    try:
        findings = structural.critique(store.load_trace(BIG), store.load_trace(TEACHER))
    finally:
        structural.GROUPS_PER_CHECK = grouping
    now = datetime.now(timezone.utc)
    run = CritiqueRun(id="ungrouped", trace_id=BIG, reference_id=TEACHER, teacher="ungrouped", started_at=now,
                      duration_s=0, finding_count=len(findings))
    store.add_critique(run, [Annotation(**f.model_dump(), id=f"f{i}", trace_id=BIG, run_id=run.id, author="ungrouped",
                                        created_at=now) for i, f in enumerate(findings)], local_actor())


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    folder = tmp_path_factory.mktemp("critique-desk")
    db = folder / "trellis.duckdb"
    build_library(db, folder / "traces")
    with Store(db) as store:
        import_files(store, [copy_without_the_aggregation(folder)])
        with_thousands_of_findings(store, folder)
    with Listener(OFF_SCHEMA, lifetime=1800) as teacher:
        models = folder / "trellis-models.toml"
        models.write_text(f'[models.small-teacher]\nmodel = "openai/small-teacher"\napi_base = "{teacher.url}"\n')
        with serve(db, env={"TRELLIS_MODELS": str(models)}) as url:
            yield url


def run_critique(page):
    page.get_by_role("button", name="Run critique").click()
    expect(page.get_by_text(re.compile(r"^\d+ (new )?proposed annotations|^Critique failed"))).to_be_visible(timeout=60_000)
    wait_until_idle(page)


def shown_caption(page):
    return page.get_by_text(re.compile(r"^[\d,]+ of [\d,]+ annotations shown"))


def test_running_the_critic_again_does_not_duplicate_the_notes(page, desk):
    open_app(page, f"{desk}/critique?trace=legal-msa-student-8b")
    run_critique(page)
    expect(shown_caption(page)).to_have_text(re.compile(r"^13 of 13 annotations shown"))
    page.locator("[class*=st-key-annotation-]").first.get_by_role("button", name="Accept").click()
    wait_until_idle(page)

    run_critique(page)

    expect(shown_caption(page)).to_have_text(re.compile(r"^13 of 13 annotations shown.* 12 awaiting review$"))  # not 26
    expect(page.get_by_text("0 new finding(s) added; 13 were already there and keep their review.")).to_be_visible()
    expect(page.locator("[class*=st-key-annotation-]").first.get_by_role("emphasis")).to_have_text("accepted")


def test_a_copy_of_the_teacher_without_its_aggregation_is_told_it_never_aggregates(page, desk):
    open_app(page, f"{desk}/critique?trace={NO_AGGREGATION}")
    run_critique(page)
    card = page.locator("[class*=st-key-annotation-]").filter(has_text="no aggregation step")
    expect(card).to_have_count(1)
    expect(card.get_by_text(re.compile(r"^aggregation loss$"))).to_be_visible()
    expect(card.get_by_text(re.compile("splits into 6 sub-problem\\(s\\) but has no aggregation step"))).to_be_visible()
    expect(card.get_by_text(re.compile("^Add an aggregation step after its sub-problems"))).to_be_visible()


def test_thousands_of_findings_are_grouped_capped_and_decided_a_group_at_a_time(page, desk):
    open_app(page, f"{desk}/critique?trace={BIG}")
    expect(shown_caption(page)).to_have_text(
        "7,689 of 7,689 annotations shown, in 8 group(s) by category and pattern · 7,689 awaiting review")
    assert page.locator("[class*=st-key-annotation-]").count() <= 8 * 5, "a few examples per group, not 7,689 cards"
    repeats = page.locator("[class*=st-key-group-]").filter(has_text="repeats the sub-problem of node").first
    expect(repeats.get_by_text("redundant subproblem · 6,293 annotation(s) · 6,293 awaiting review")).to_be_visible()
    expect(repeats.locator("[class*=st-key-annotation-]")).to_have_count(5)
    repeats.get_by_role("button", name="Show 20 more (6,288 not shown)").click()
    wait_until_idle(page)
    expect(repeats.locator("[class*=st-key-annotation-]")).to_have_count(25)

    repeats.get_by_role("button", name="Reject 6,293 proposed").click()
    wait_until_idle(page)
    expect(page.get_by_text("Rejected 6,293 annotation(s) of the group at once.")).to_be_visible()
    expect(shown_caption(page)).to_have_text(re.compile(r"^1,396 of 7,689 annotations shown.* 1,396 awaiting review$"))
    expect(page.locator("[class*=st-key-group-]").filter(has_text="repeats the sub-problem of node")).to_have_count(0)


def test_a_failed_critique_says_why_in_the_open_and_what_was_kept(page, desk):
    open_app(page, f"{desk}/critique?trace=incident-checkout-student-3b")
    run_critique(page)  # the structural critic first: the trace has annotations to keep
    page.get_by_text("Teacher model").click()
    wait_until_idle(page)
    choose(page, page.get_by_role("combobox", name="Teacher"), "small-teacher · openai/small-teacher")
    run_critique(page)
    reason = page.get_by_role("alert").filter(has_text="teacher openai/small-teacher gave unusable output twice: "
                                                         "Invalid JSON")
    expect(reason).to_be_visible()

    page.locator("[class*=st-key-annotation-]").first.get_by_role("button", name="Accept").click()  # work goes on
    wait_until_idle(page)
    expect(reason).to_be_visible()  # in the open until the next critique, not only inside its progress box
    expect(reason).to_contain_text("The critique failed: teacher openai/small-teacher gave unusable output twice")
    expect(reason).to_contain_text(re.compile(r"Nothing was stored; the 13 annotation\(s\) this trace had are kept"))


def test_each_finding_links_to_its_node_in_the_trace_page(page, desk):
    open_app(page, f"{desk}/critique?trace=bugtriage-proration-student-7b")
    run_critique(page)
    link = page.locator("[class*=st-key-annotation-]").first.get_by_role("link", name="open node ↗")
    href = link.get_attribute("href")
    assert re.fullmatch(r"(\./|.*/)trace\?trace=bugtriage-proration-student-7b&node=[\w.\-]+", href), href
    node_id = href.rsplit("node=", 1)[1]
    page.goto(f"{desk}/trace?trace=bugtriage-proration-student-7b&node={node_id}")
    page.wait_for_selector("[data-testid=stApp]")
    wait_until_idle(page)
    assert f"node={node_id}" in page.url
    expect(page.get_by_text(f"No node '{node_id}'")).to_have_count(0)


@pytest.mark.parametrize("width", [1440, 1280, 1024])
def test_the_critique_page_layout_holds_at_common_widths(page, desk, width):
    page.set_viewport_size({"width": width, "height": 1400})
    open_app(page, f"{desk}/critique?trace={BIG}")
    expect(page.get_by_role("button", name="Export critique package")).to_be_visible()
    expect(page.get_by_role("switch", name="Edit").first).to_be_visible()
    wait_until_idle(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"critique-desk-{width}.png", full_page=False)
    assert cut_texts(page) == [], f"cut at {width} px"  # every button's and link's text fits its box: no "Acc…"
    overflow = page.evaluate("document.querySelector('[data-testid=stMain]').scrollWidth - innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px at {width} px"
