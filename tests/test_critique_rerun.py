"""Running a critic again on the same trace: each point is kept once, with its review, and only new ones are added."""

import json

import litellm
import pytest

from core import Store, import_files
from core.cli import main
from core.critique import review
from core.critique.matching import already_there, named_nodes
from core.critique.models import Finding
from core.critique.teacher import TeacherSettings, run_critique
from tests.conftest import SAMPLES
from tests.support.people import DANA

STUDENT, TEACHER = "legal-msa-student-8b", "legal-msa-teacher-70b"
NODES = {"s4", "s2", "s3", "s1", "root"}


@pytest.fixture
def legal(store):
    import_files(store, [SAMPLES / f"{STUDENT}.json", SAMPLES / f"{TEACHER}.json"])
    return store


def test_the_structural_critic_run_twice_adds_nothing_and_keeps_every_review(legal):
    first = run_critique(legal, STUDENT, TEACHER)
    assert len(first.annotations) == 13 and first.already == []
    accepted, edited, rejected = first.annotations[0], first.annotations[1], first.annotations[2]
    review.accept(legal, accepted.id, DANA)
    review.edit(legal, edited.id, DANA, category="other", rationale="The reviewer's own words for this point.")
    review.reject(legal, rejected.id, DANA)

    again = run_critique(legal, STUDENT, TEACHER)

    assert again.annotations == [] and len(again.already) == 13
    stored = {a.id: a for a in legal.list_annotations(STUDENT)}
    assert len(stored) == 13, "no note is duplicated (it was 13 -> 26)"
    assert (stored[accepted.id].status, stored[edited.id].status, stored[rejected.id].status) == (
        "accepted", "edited", "rejected")
    assert stored[edited.id].rationale == "The reviewer's own words for this point.", "an edit is not proposed again"
    assert [e.action for e in legal.annotation_history(accepted.id)] == ["proposed", "accepted"]
    latest = legal.list_critique_runs(STUDENT)[0]
    assert (latest.finding_count, latest.settings["new_findings"], latest.settings["already_there"]) == (13, 0, 13)


def test_a_new_finding_is_added_beside_the_ones_already_there(legal, tmp_path):
    run_critique(legal, STUDENT, None)  # on its own first: only what the trace shows by itself
    alone = len(legal.list_annotations(STUDENT))
    against = run_critique(legal, STUDENT, TEACHER)  # against the teacher: those again, and what the teacher shows
    assert len(against.already) == alone and len(against.annotations) == 13 - alone
    assert len(legal.list_annotations(STUDENT)) == 13


def answering(*answers):
    calls = []

    def completion(**kwargs):
        calls.append(kwargs)
        return litellm.completion(**kwargs, mock_response=json.dumps({"findings": answers[len(calls) - 1]}))

    return completion


def point(node_id, category, rationale):
    return {"node_id": node_id, "category": category, "severity": "high", "rationale": rationale}


def test_a_model_rewording_its_points_does_not_duplicate_them(legal, tmp_path, monkeypatch):
    models = tmp_path / "models.toml"
    models.write_text('[models.teacher]\nmodel = "openai/teacher"\napi_base = "http://127.0.0.1:9/v1"\n')
    monkeypatch.setenv("TRELLIS_MODELS", str(models))
    first = [
        point("s-legal-4", "aggregation_loss", "The final write-up drops what s-legal-2.5 found about Schedule B."),
        point("s-legal-2.6", "too_shallow", "Section 10 was reviewed in one call without the definitions."),
        point("s-legal", "missing_subproblem", "No step traces obligation chains across sections."),
    ]
    second = [
        point("s-legal-4", "aggregation_loss", "Aggregation loses the Schedule B point of s-legal-2.5."),  # same nodes
        point("s-legal-4", "aggregation_loss", "Aggregation also loses the cap found by s-legal-2.7."),  # another node
        point("s-legal-2.6", "too_shallow", "Indemnification answered at once; split it and carry the terms."),
        point("s-legal", "missing_subproblem", "Nothing flags asymmetric risk between the parties."),
    ]
    settings = TeacherSettings(teacher="teacher")
    made = run_critique(legal, STUDENT, TEACHER, settings, completion=answering(first))
    review.accept(legal, made.annotations[1].id, DANA)

    again = run_critique(legal, STUDENT, TEACHER, settings, completion=answering(second))

    assert [a.rationale for a in again.already] == [f["rationale"] for f in first[:2]]
    assert [a.status for a in again.already] == ["proposed", "accepted"]
    assert [a.rationale for a in again.annotations] == [second[1]["rationale"], second[3]["rationale"]], \
        "a point about another node, and one of several on the same node, are new"


def test_the_rule_for_the_same_point():
    def f(node_id, rationale, category="aggregation_loss"):
        return Finding(node_id=node_id, category=category, severity="high", rationale=rationale)

    existing = [f("s4", "Drops node s2."), f("s4", "Drops node s3."), f("s1", "Too shallow.", "too_shallow"),
                f("root", "Missing A.", "missing_subproblem")]
    new = [
        f("s4", "drops  node S2"),  # 0: the same wording, case and spacing aside
        f("s4", "The aggregation loses what node s3 found."),  # 1: re-worded, names the same node
        f("s1", "Answered at once.", "too_shallow"),  # 2: re-worded, the only one of its kind on both sides
        f("root", "Missing C.", "missing_subproblem"),  # 3: a node can miss several sub-problems: another point
        f("s4", "Drops node s2.", "too_deep"),  # 4: another category is another point
    ]
    assert already_there(new, existing, NODES) == {0: 0, 1: 1, 2: 2}
    assert named_nodes(f("s4", "Carries node root and s-legal-2.1 but not the word root."), {"root", "s-legal-2.1"}) \
        == {"root", "s-legal-2.1"}


def test_the_cli_says_how_many_were_new_and_how_many_already_there(tmp_path, capsys):
    db = str(tmp_path / "trellis.duckdb")
    with Store(db) as store:
        import_files(store, [SAMPLES / f"{STUDENT}.json", SAMPLES / f"{TEACHER}.json"])
    assert main(["critique", STUDENT, "--db", db]) == 0
    assert ": 13 new proposed, 0 already there" in capsys.readouterr().err
    assert main(["critique", STUDENT, "--db", db, "--json"]) == 0
    out, err = capsys.readouterr()
    assert ": 0 new proposed, 13 already there (kept with their review)" in err
    assert len(json.loads(out)) == 13, "every point of the run, each once, as stored"
