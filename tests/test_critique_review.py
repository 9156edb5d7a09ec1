"""A person reviews a teacher's critique, then exports what they accepted."""

import pytest

from core import import_files
from core.auth import PermissionDenied
from core.critique import review
from core.critique.package import build_package
from core.critique.teacher import run_critique
from tests.support.people import DANA, LEE, VIC
from tests.test_critique_teacher import STUDENT, trellis_json


@pytest.fixture
def critiqued(store, tmp_path):
    path = tmp_path / "student.json"
    path.write_text(trellis_json("student", STUDENT, task="Assess the services agreement", agent="llama-3.1-8b-instruct"))
    import_files(store, [path])
    return run_critique(store, "student").annotations


def test_accept_edit_and_reject_are_recorded_with_history(store, critiqued):
    first, second = critiqued[0], critiqued[1]
    review.accept(store, first.id, DANA)
    edited = review.edit(store, second.id, DANA, severity="low", rationale="Minor: retry once.")
    assert (edited.status, edited.severity, edited.reviewer) == ("edited", "low", DANA.name)
    review.reject(store, second.id, LEE)
    history = store.annotation_history(second.id)
    assert [(e.action, e.actor) for e in history] == [
        ("proposed", "trellis/structural"), ("edited", DANA.name), ("rejected", LEE.name)]
    assert history[1].changes == {"severity": "low", "rationale": "Minor: retry once."}


def test_a_review_needs_a_reviewer_and_a_valid_edit(store, critiqued):
    with pytest.raises(PermissionDenied, match=r"vic@example.com \(viewer\) may not review annotations"):
        review.accept(store, critiqued[0].id, VIC)
    with pytest.raises(review.ReviewError, match="severity"):
        review.edit(store, critiqued[0].id, DANA, severity="apocalyptic")
    with pytest.raises(review.ReviewError, match="cannot edit status"):
        review.edit(store, critiqued[0].id, DANA, status="accepted")
    assert store.get_annotation(critiqued[0].id).status == "proposed"


def test_bulk_accept_takes_only_proposed_annotations(store, critiqued):
    review.reject(store, critiqued[0].id, DANA)
    assert review.accept_all_proposed(store, "student", DANA) == len(critiqued) - 1
    assert store.get_annotation(critiqued[0].id).status == "rejected"


def test_transfer_package_holds_only_reviewed_critique_and_a_prompt(store, critiqued):
    review.accept(store, critiqued[0].id, DANA)
    review.reject(store, critiqued[1].id, DANA)
    package = build_package(store.load_trace("student"), store.list_annotations("student"))
    assert [a["node_id"] for a in package["annotations"]] == [critiqued[0].node_id]
    assert package["student"]["agent"] == "llama-3.1-8b-instruct"
    assert package["prompt"].startswith("A reviewer checked how you decomposed this task last time:")
    assert critiqued[0].rationale in package["prompt"]


@pytest.fixture
def thousands(store, tmp_path, monkeypatch):
    """A generated 10,000-node student with every finding of the structural critic kept apart: 7,689 annotations."""
    import sys

    from core.critique import structural
    from core.critique.models import CritiqueRun
    from tests.conftest import ROOT, SAMPLES

    sys.path.insert(0, str(ROOT / "bench"))
    from generate import write_jsonl

    path = tmp_path / "big.jsonl"
    write_jsonl(path, 10_000, trace_id="big")
    import_files(store, [path, SAMPLES / "legal-msa-teacher-70b.json"])
    monkeypatch.setattr(structural, "GROUPS_PER_CHECK", 10**9)  # as a critic that does not group its findings
    findings = structural.critique(store.load_trace("big"), store.load_trace("legal-msa-teacher-70b"))
    from datetime import datetime, timezone

    from core.critique.models import Annotation
    now = datetime.now(timezone.utc)
    run = CritiqueRun(id="raw", trace_id="big", reference_id=None, teacher="raw", started_at=now, duration_s=0,
                      finding_count=len(findings))
    store.add_critique(run, [Annotation(**f.model_dump(), id=f"a{i}", trace_id="big", run_id="raw", author="raw",
                                        created_at=now) for i, f in enumerate(findings)], DANA)
    return store.list_annotations("big")


def test_thousands_of_findings_come_in_a_handful_of_groups_by_category_and_pattern(thousands):
    groups = review.groups(thousands)
    assert len(thousands) == 7_689 and len(groups) == 8
    assert sum(len(g.annotations) for g in groups) == len(thousands)
    largest = max(groups, key=lambda g: len(g.annotations))
    assert (largest.category, largest.pattern, len(largest.annotations)) == (
        "redundant_subproblem", "'…' repeats the sub-problem of node ….", 6_293)
    assert [g.key for g in review.groups(thousands)] == [g.key for g in groups], "a group keeps its name"


def test_a_group_of_thousands_is_rejected_in_one_action_with_an_event_for_each_annotation(store, thousands):
    group = max(review.groups(thousands), key=lambda g: len(g.annotations))
    first, second = group.annotations[0].id, group.annotations[1].id
    review.accept(store, first, LEE)  # decided before the group: kept as decided
    assert review.decide_group(store, group.proposed, "rejected", DANA) == 6_292
    members = {a.id for a in group.annotations}
    statuses = {a.id: a.status for a in store.list_annotations("big") if a.id in members}
    assert statuses[first] == "accepted" and set(statuses.values()) == {"accepted", "rejected"}
    assert [(e.action, e.actor) for e in store.annotation_history(second)] == [("proposed", "raw"), ("rejected", DANA.name)]
    with pytest.raises(PermissionDenied):
        review.decide_group(store, [first], "rejected", VIC)
    with pytest.raises(review.ReviewError, match="accepted or rejected"):
        review.decide_group(store, [first], "edited", DANA)


def test_an_edited_annotation_stays_in_the_group_its_critic_raised_it_in(store, critiqued):
    before = {g.key: [a.id for a in g.annotations] for g in review.groups(*as_proposed(store))}
    review.edit(store, critiqued[0].id, DANA, rationale="In my words: this call failed; retry it once.", category="other")
    after = {g.key: [a.id for a in g.annotations] for g in review.groups(*as_proposed(store))}
    assert after == before


def as_proposed(store):
    stored = store.annotations_as_proposed("student")
    return [a for a, _ in stored], {a.id: finding for a, finding in stored}
