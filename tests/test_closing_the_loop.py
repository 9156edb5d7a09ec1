"""Closing the loop, as a team runs it: an experiment's runs of a scaffold fail at a step, the structural critic says
so, a person accepts the point, the accepted critique becomes the scaffold's next version, a person approves it, and
the next experiment shows on the version history line whether it did better; against litellm's mock_response."""

import json
import os
from unittest import mock

import pytest
from streamlit.testing.v1 import AppTest

import pages
from core import Store, import_files
from core.auth import local_actor
from core.cli import main
from core.critique import review
from core.critique.teacher import run_critique
from core.errors import TrellisError
from core.experiments.history import version_history
from core.experiments.revise import revise_from_experiment
from core.experiments.run import define_experiment, run_experiment
from core.model_catalog import ModelEntry
from core.tasks.load import load_task_files
from pages import PAGES
from tests.conftest import ROOT
from tests.support.people import DANA, approve
from tests.support.run_setup import STEP_FINDING, TASK_ANSWER, answering, write_tasks
from tests.support.scaffold_library import approve_teacher_scaffolds, sample_files

STUDENT = ModelEntry(name="mock-student", model="openai/mock-student", api_base="http://127.0.0.1:9/v1")


@pytest.fixture
def library(tmp_path):
    with Store(str(tmp_path / "trellis.duckdb")) as store:
        import_files(store, sample_files())
        approved = approve_teacher_scaffolds(store)
        yield store, approved["legal-contract-review"], load_task_files([write_tasks(tmp_path / "tasks", count=3)])


def first_step_too_short(prompt: str) -> str:
    """A student that answers its first scaffold step in one word, until the step says what to return."""
    if "Your step (1 of" in prompt and "what to return" not in prompt:
        return "Yes."
    return STEP_FINDING if "Your step (" in prompt else TASK_ANSWER


def run(store, tasks, arms):
    experiment = define_experiment(store, tasks, "mock-student", arms, actor=local_actor())
    run_experiment(store, experiment, tasks, STUDENT, actor=local_actor(), completion=answering(first_step_too_short))
    return experiment


def test_the_accepted_critique_of_failed_runs_becomes_the_next_version_and_the_next_experiment_compares_them(library):
    store, legal, tasks = library
    first = run(store, tasks, ["none", f"scaffold:{legal}"])
    failed = [r for r in store.list_runs(experiment_id=first.id) if r.fell_back]
    assert len(failed) == 3 and all("returned 1 word where the step asks for" in r.fallback_reason for r in failed)

    # The structural critic names the step the runner could not use; a person accepts that point on one run.
    found = run_critique(store, failed[0].id, None).annotations
    step_point = next(a for a in found if a.category == "failed_step" and "could not use its result" in a.rationale)
    review.accept(store, step_point.id, DANA)

    revision = revise_from_experiment(store, legal, first.id, author=DANA)
    assert (revision.version.version, revision.version.status, revision.version.based_on) == (2, "draft", 1)
    assert (revision.runs, revision.critiqued) == (3, 1)
    assert revision.edits == [next(e for e in revision.edits if e.startswith("added a note to sub-problem s1"))]
    assert "what to return" in revision.version.content.subproblems[0].instruction
    assert "experiment" in revision.version.comment and "1 of its 3 runs" in revision.version.comment

    with pytest.raises(TrellisError, match=f"{legal} has v2, saved after the runs of {legal} v1: review it"):
        revise_from_experiment(store, legal, first.id, author=DANA)  # twice: the second would hide the first
    approve(store, legal, 2)  # a person's decision: nothing a critic proposed reaches a student before it
    second = run(store, tasks, ["none", f"scaffold:{legal}@1", f"scaffold:{legal}@2"])
    points = version_history(store.scaffold_history(legal), store.scaffold_events(legal),
                             store.list_runs(scaffold_id=legal))
    assert [(p.version, p.approved_by, p.runs) for p in points] == [(1, "lee@example.com", 6), (2, "lee@example.com", 3)]
    fell_back = {v: sum(r.fell_back for r in store.list_runs(experiment_id=second.id) if r.scaffold_version == v)
                 for v in (1, 2)}
    assert fell_back == {1: 3, 2: 0}  # v2's step says what to return, and the student no longer fails it


def test_a_revision_needs_accepted_critique_and_names_the_version_when_runs_followed_several(library):
    store, legal, tasks = library
    first = run(store, tasks, ["none", f"scaffold:{legal}"])
    with pytest.raises(TrellisError, match=r"none of the 3 runs of .* v1 in experiment .* has accepted critique: critique them"):
        revise_from_experiment(store, legal, first.id, author=DANA)

    failed = next(r for r in store.list_runs(experiment_id=first.id) if r.fell_back)
    for point in run_critique(store, failed.id, None).annotations:
        review.reject(store, point.id, DANA)  # rejected points change nothing
    with pytest.raises(TrellisError, match="has accepted critique"):
        revise_from_experiment(store, legal, first.id, author=DANA)
    with pytest.raises(TrellisError, match=f"no run of experiment {first.id} followed scaffold {legal}@7"):
        revise_from_experiment(store, legal, first.id, author=DANA, version=7)
    assert [v.version for v in store.scaffold_history(legal)] == [1]  # nothing was saved

    approve(store, legal, store.save_scaffold(legal, store.get_scaffold(legal, 1).content, author=DANA, based_on=1).version)
    both = run(store, tasks, ["none", f"scaffold:{legal}@1", f"scaffold:{legal}@2"])
    with pytest.raises(TrellisError, match=f"followed v1, v2 of {legal}; say which to revise with --version"):
        revise_from_experiment(store, legal, both.id, author=DANA)


def test_trellis_scaffold_revise_saves_the_draft_or_says_in_one_line_what_is_missing(library, tmp_path, capsys):
    store, legal, tasks = library
    first = run(store, tasks, ["none", f"scaffold:{legal}"])
    failed = next(r for r in store.list_runs(experiment_id=first.id) if r.fell_back)
    db = str(store.path)
    store.close()  # the command opens the file itself

    assert main(["scaffold", "revise", legal, "--from-experiment", first.id, "--db", db]) == 1
    assert "has accepted critique: critique them (`trellis critique RUN_ID`)" in capsys.readouterr().err

    assert main(["critique", failed.id, "--no-reference", "--json", "--db", db]) == 0
    point = next(a for a in json.loads(capsys.readouterr().out) if a["category"] == "failed_step")
    assert main(["review", "accept", point["id"], "--db", db]) == 0
    assert capsys.readouterr().out == f"{point['id']}\taccepted\tfailed_step\t{point['node_id']}\n"
    assert main(["scaffold", "revise", legal, "--from-experiment", first.id, "--db", db]) == 0
    out, err = capsys.readouterr()
    assert out == f"{legal}\tversion 2\tdraft\n"
    assert "edit: added a note to sub-problem s1" in err and "from v1: the accepted critique of 1 of its 3 runs" in err


def test_the_scaffold_page_saves_the_revision_only_when_a_person_asks(library):
    store, legal, tasks = library
    first = run(store, tasks, ["none", f"scaffold:{legal}"])
    followed = [r for r in store.list_runs(experiment_id=first.id) if r.scaffold_id]
    point = next(a for a in run_critique(store, followed[0].id, None).annotations if a.category == "failed_step")
    review.accept(store, point.id, DANA)
    db = str(store.path)
    store.close()

    with mock.patch.dict(os.environ, {"TRELLIS_STORE": db}):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.query_params.update(scaffold=legal, tab="Runs")
        at.switch_page(str(PAGES["scaffolds"].file))
        at.run()
        assert not at.exception
        runs = next(t.value for t in at.dataframe if "critique" in t.value.columns)
        assert list(runs["critique"]) == [pages.url("critique", trace=r.id) for r in followed]
        with Store(db) as look:
            assert [v.version for v in look.scaffold_history(legal)] == [1]  # showing it saved nothing

        next(b for b in at.button if b.label.startswith("Save a new version from the accepted critique of 1 of "
                                                        "these 3 runs")).click().run()
        assert not at.exception
        flashes = [s.value.replace("\\", "") for s in at.success]  # shown as plain text: Markdown escaped
        assert any(f"Saved {legal} v2 as a draft: added a note to sub-problem s1" in f for f in flashes)
    with Store(db) as look:
        assert look.get_scaffold(legal).version == 2 and look.get_scaffold(legal).status == "draft"
