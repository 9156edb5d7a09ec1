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
