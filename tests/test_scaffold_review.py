"""Versions and review: every save is a new immutable version, only approvers approve what others
submitted, and two people editing the same scaffold at once never lose what either typed."""

import threading

import pytest

from core import Store
from core.auth import PermissionDenied, local_actor
from core.scaffolds import (
    ScaffoldConflict,
    ScaffoldError,
    ScaffoldStatus,
    diff_scaffolds,
    export,
    extract_scaffold,
    reapply,
    side_by_side,
    subproblem_rows,
    with_rows,
)
from tests.support.people import DANA, LEE, VIC, approve
from tests.support.scaffold_library import run

APPROVED, DRAFT, IN_REVIEW, REJECTED, DEPRECATED = (
    ScaffoldStatus.APPROVED, ScaffoldStatus.DRAFT, ScaffoldStatus.IN_REVIEW, ScaffoldStatus.REJECTED,
    ScaffoldStatus.DEPRECATED,
)


@pytest.fixture
def first(store):
    scaffold = extract_scaffold(run("t", ["Review the indemnities", "Check the liability cap", "Summarise termination"]))
    return store.save_scaffold(None, scaffold, author=DANA, comment="extracted from t")


def rewrite(version, **instructions):
    """The version's scaffold with some sub-problems' instructions rewritten, as the editor table would."""
    rows = subproblem_rows(version.content)
    for row in rows:
        row["instruction"] = instructions.get(row["id"], row["instruction"])
    return with_rows(version.content, rows)


# ------------------------------------------------------------------ versions


def test_every_save_is_a_new_version_and_old_versions_never_change(store, first):
    second = store.save_scaffold(first.scaffold_id, rewrite(first, s1="Review both parties' indemnities"),
                                 author=LEE, comment="both sides", based_on=1)
    approve(store, first.scaffold_id, 1)

    history = store.scaffold_history(first.scaffold_id)
    assert [(v.version, v.author, v.comment, v.based_on) for v in history] == [
        (1, DANA.name, "extracted from t", None), (2, LEE.name, "both sides", 1)]
    assert history[0].content == first.content and history[0].created_at == first.created_at
    assert history[1].content.subproblems[0].instruction == "Review both parties' indemnities"
    assert second.status == DRAFT


def test_the_history_records_who_did_what(store, first):
    store.set_scaffold_status(first.scaffold_id, 1, IN_REVIEW, actor=DANA, comment="please look")
    store.set_scaffold_status(first.scaffold_id, 1, REJECTED, actor=LEE, comment="cap step is vague")
    events = store.scaffold_events(first.scaffold_id)
    assert [(e.version, e.status, e.actor, e.comment) for e in events] == [
        (1, DRAFT, DANA.name, "extracted from t"), (1, IN_REVIEW, DANA.name, "please look"),
        (1, REJECTED, LEE.name, "cap step is vague")]
    rejected = store.get_scaffold(first.scaffold_id, 1)
    assert (rejected.reviewer, rejected.review_comment) == (LEE.name, "cap step is vague")
    assert [(e.actor, e.action, e.target) for e in store.audit_log()] == [
        (LEE.name, "scaffold rejected", f"{first.scaffold_id} v1"),
        (DANA.name, "scaffold in_review", f"{first.scaffold_id} v1"),
        (DANA.name, "save scaffold", f"{first.scaffold_id} v1")]


# -------------------------------------------------------------------- review


@pytest.mark.parametrize("decision", [IN_REVIEW, APPROVED, REJECTED])
def test_a_viewer_cannot_submit_approve_or_reject(store, first, decision):
    store.set_scaffold_status(first.scaffold_id, 1, IN_REVIEW, actor=DANA) if decision == APPROVED else None
    before = store.get_scaffold(first.scaffold_id).status
    with pytest.raises(PermissionDenied, match=r"vic@example.com \(viewer\) may not"):
        store.set_scaffold_status(first.scaffold_id, 1, decision, actor=VIC)
    assert store.get_scaffold(first.scaffold_id).status == before


@pytest.mark.parametrize("decision", [APPROVED, REJECTED])
def test_a_reviewer_cannot_decide(store, first, decision):
    store.set_scaffold_status(first.scaffold_id, 1, IN_REVIEW, actor=DANA)
    with pytest.raises(PermissionDenied, match="may not approve, reject or deprecate scaffolds: that needs the approver role"):
        store.set_scaffold_status(first.scaffold_id, 1, decision, actor=DANA)


def test_a_viewer_cannot_save_an_edit(store, first):
    with pytest.raises(PermissionDenied, match="may not edit scaffolds"):
        store.save_scaffold(first.scaffold_id, rewrite(first, s1="x"), author=VIC, based_on=1)
    assert len(store.scaffold_history(first.scaffold_id)) == 1


def test_approval_needs_a_version_submitted_for_review(store, first):
    with pytest.raises(ScaffoldError, match="v1 is draft; it can move to in_review, rejected, not approved"):
        store.set_scaffold_status(first.scaffold_id, 1, APPROVED, actor=LEE)


def test_an_approver_cannot_approve_their_own_edit(store, first):
    second = store.save_scaffold(first.scaffold_id, rewrite(first, s1="Review both sides"), author=LEE, based_on=1)
    store.set_scaffold_status(first.scaffold_id, 2, IN_REVIEW, actor=LEE)
    with pytest.raises(PermissionDenied, match=f"lee@example.com saved {second.label}; another approver has to approve it"):
        store.set_scaffold_status(first.scaffold_id, 2, APPROVED, actor=LEE)
    assert approve(store, first.scaffold_id, 1).status == APPROVED  # Dana's version: Lee may approve it


def test_in_local_single_user_mode_the_one_person_approves_their_own_work(store):
    me = local_actor()
    mine = store.save_scaffold(None, extract_scaffold(run("t", ["Review"])), author=me)
    store.set_scaffold_status(mine.scaffold_id, 1, IN_REVIEW, actor=me)
    assert store.set_scaffold_status(mine.scaffold_id, 1, APPROVED, actor=me).reviewer == me.name


def test_only_approved_versions_are_offered_for_reuse(store, first):
    with pytest.raises(ScaffoldError, match="has no approved version"):
        store.reusable_scaffold(first.scaffold_id)
    with pytest.raises(ScaffoldError, match="v1 is draft; only approved versions are offered for reuse"):
        store.reusable_scaffold(first.scaffold_id, 1)
    approve(store, first.scaffold_id, 1, comment="good")
    assert store.reusable_scaffold(first.scaffold_id).version == 1


def test_an_edit_after_approval_is_a_new_draft_and_the_approved_version_stays_reusable(store, first):
    approve(store, first.scaffold_id, 1)
    store.save_scaffold(first.scaffold_id, rewrite(first, s2="Check the cap and its exclusions"), author=DANA, based_on=1)

    assert store.get_scaffold(first.scaffold_id).status == DRAFT
    reusable = store.reusable_scaffold(first.scaffold_id)
    assert reusable.version == 1 and reusable.content == first.content
    assert "Check the liability cap" in export(reusable, "prompt")
    [summary] = store.list_scaffolds()
    assert (summary.latest_version, summary.latest_status, summary.approved_version) == (2, DRAFT, 1)


def test_approving_a_newer_version_makes_it_the_one_reused(store, first):
    approve(store, first.scaffold_id, 1)
    store.save_scaffold(first.scaffold_id, rewrite(first, s2="Check the cap"), author=DANA, based_on=1)
    approve(store, first.scaffold_id, 2)
    assert store.reusable_scaffold(first.scaffold_id).version == 2
    store.set_scaffold_status(first.scaffold_id, 2, DEPRECATED, actor=LEE, comment="cap step too loose")
    assert store.reusable_scaffold(first.scaffold_id).version == 1


@pytest.mark.parametrize(("path", "refused"), [
    ([IN_REVIEW, APPROVED], REJECTED),
    ([IN_REVIEW, APPROVED], IN_REVIEW),
    ([REJECTED], APPROVED),
    ([IN_REVIEW, APPROVED, DEPRECATED], APPROVED),
    ([IN_REVIEW], IN_REVIEW),
    ([], DEPRECATED),
    ([], APPROVED),
])
def test_a_version_moves_only_along_the_review_path(store, first, path, refused):
    for status in path:
        store.set_scaffold_status(first.scaffold_id, 1, status, actor=LEE)
    with pytest.raises(ScaffoldError, match=f"is {path[-1] if path else 'draft'}.*not {refused}"):
        store.set_scaffold_status(first.scaffold_id, 1, refused, actor=LEE)


def test_list_filters_by_a_status_any_version_has(store, first):
    other = store.save_scaffold(None, extract_scaffold(run("u", ["Review"])), author=DANA)
    approve(store, first.scaffold_id, 1)
    store.save_scaffold(first.scaffold_id, rewrite(first, s1="x step"), author=DANA, based_on=1)
    assert [s.scaffold_id for s in store.list_scaffolds(APPROVED)] == [first.scaffold_id]
    assert {s.scaffold_id for s in store.list_scaffolds(DRAFT)} == {first.scaffold_id, other.scaffold_id}
    assert store.list_scaffolds(REJECTED) == []


# ----------------------------------------------------------------- editing


def test_rows_from_the_editor_add_remove_reorder_and_rewrite_sub_problems(first):
    rows = subproblem_rows(first.content)
    rows[0]["instruction"] = "Review both parties' indemnities"  # rewrite
    rows[2]["position"] = 0.5  # move "Summarise termination" first
    del rows[1]  # remove the cap step
    rows.append({"position": None, "id": None, "parent_id": "s1", "instruction": "List each indemnity's triggers"})
    rows.append({"position": 9, "id": "", "instruction": "  "})  # an empty new row is ignored

    edited = with_rows(first.content, rows, aggregation="rank by severity")
    assert [(n, s.id, s.instruction) for n, s in edited.outline()] == [
        ("1", "s3", "Summarise termination"),
        ("2", "s1", "Review both parties' indemnities"),
        ("2.1", "s4", "List each indemnity's triggers"),
    ]
    assert edited.aggregation == "rank by severity"
    assert all(a.subproblem_id != "s2" for a in edited.anchors)  # its anchor went with it
    kinds = {(c.kind, c.what) for c in diff_scaffolds(first.content, edited)}
    assert ("removed", "sub-problem 2 (s2)") in kinds and ("added", "sub-problem 2.1 (s4)") in kinds
    assert ("changed", "sub-problem 2 (s1) instruction") in kinds and ("changed", "aggregation") in kinds


def test_an_edit_that_breaks_the_tree_is_refused_with_the_reason(first):
    rows = subproblem_rows(first.content)
    rows[0]["parent_id"] = "s9"
    with pytest.raises(ScaffoldError, match="parent 's9' is not a sub-problem"):
        with_rows(first.content, rows)
    rows[0]["parent_id"], rows[1]["parent_id"] = "s2", "s1"
    with pytest.raises(ScaffoldError, match="its own ancestor"):
        with_rows(first.content, rows)


def test_side_by_side_marks_the_lines_that_differ(first):
    left, right = side_by_side(first.content, rewrite(first, s2="Check the cap and its exclusions"))
    assert "- 2. Check the liability cap" in left.splitlines()
    assert "+ 2. Check the cap and its exclusions" in right.splitlines()
    assert "  1. Review the indemnities" in left.splitlines()


# --------------------------------------------------------------- concurrency


def test_a_save_against_an_out_of_date_version_is_refused_and_carries_the_latest(store, first):
    lees_edit = rewrite(first, s1="Review both parties' indemnities")
    danas_edit = rewrite(first, s3="Summarise termination and renewal rights")
    store.save_scaffold(first.scaffold_id, lees_edit, author=LEE, based_on=1)

    with pytest.raises(ScaffoldConflict) as refused:
        store.save_scaffold(first.scaffold_id, danas_edit, author=DANA, based_on=1)
    assert "you started from version 1, but lee@example.com saved version 2" in str(refused.value)
    assert refused.value.latest.version == 2 and refused.value.latest.content == lees_edit
    assert len(store.scaffold_history(first.scaffold_id)) == 2

    merged, notes = reapply(first.content, danas_edit, refused.value.latest.content)
    third = store.save_scaffold(first.scaffold_id, merged, author=DANA, based_on=2)
    assert [s.instruction for s in third.content.subproblems] == [
        "Review both parties' indemnities", "Check the liability cap", "Summarise termination and renewal rights"]
    assert notes == []


def test_two_people_saving_at_the_same_moment_get_one_version_and_one_refusal(tmp_path):
    db = tmp_path / "shared.duckdb"
    with Store(db) as setup:
        first = setup.save_scaffold(None, extract_scaffold(run("t", ["Review", "Check"])), author=DANA)
    # Two Store objects on one file: two connections, as two app sessions or processes' threads would use.
    people = {"dana": Store(db), "lee": Store(db)}
    actors = {"dana": DANA, "lee": LEE}
    try:
        for round_number in range(1, 6):
            start, outcomes = threading.Barrier(2), {}

            def save(name, round_number=round_number, start=start, outcomes=outcomes):
                edit = first.content.model_copy(update={"title": f"{name} {round_number}"})
                start.wait()
                try:
                    outcomes[name] = people[name].save_scaffold(first.scaffold_id, edit, author=actors[name], based_on=round_number).version
                except ScaffoldConflict as exc:
                    outcomes[name] = exc

            threads = [threading.Thread(target=save, args=(name,)) for name in people]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            saved = [v for v in outcomes.values() if isinstance(v, int)]
            refused = [v for v in outcomes.values() if isinstance(v, ScaffoldConflict)]
            assert saved == [round_number + 1] and len(refused) == 1
            assert refused[0].latest.version == round_number + 1
    finally:
        for person in people.values():
            person.close()


def test_re_applying_keeps_both_edits_and_says_where_they_collided(first):
    base = first.content
    theirs = with_rows(base, [*subproblem_rows(base), {"instruction": "Their new step"}], title="their title")
    mine_rows = subproblem_rows(base)
    mine_rows[1]["instruction"] = "My rewrite of the cap step"
    mine = with_rows(base, [*mine_rows, {"instruction": "My new step"}], title="my title")

    merged, notes = reapply(base, mine, theirs)
    assert merged.title == "my title"
    assert [s.instruction for s in merged.subproblems] == [
        "Review the indemnities", "My rewrite of the cap step", "Summarise termination", "My new step", "Their new step"]
    assert len({s.id for s in merged.subproblems}) == 5
    assert notes == ["both changed the title; yours was kept", "your new s4 is now s5: they added a s4 too"]


def test_re_applying_keeps_my_reordering_and_my_removals(first):
    base = first.content
    rows = subproblem_rows(base)
    rows[2]["position"] = 0
    mine = with_rows(base, [r for r in rows if r["id"] != "s2"])
    their_rows = subproblem_rows(base)
    their_rows[0]["instruction"] = "Their rewrite of the indemnity step"
    theirs = with_rows(base, their_rows)

    merged, notes = reapply(base, mine, theirs)
    assert [s.instruction for s in merged.subproblems] == ["Summarise termination", "Their rewrite of the indemnity step"]
    assert notes == []
