"""The Runs page under AppTest: a student model (a loopback endpoint) runs a task set; the runs are listed."""

import os

import pytest
import streamlit as st

from pages.runs import RUNNING_BATCH
from pages.ui import RunningWork
from tests.support.explorer_library import open_page
from tests.support.http_listener import Listener
from tests.support.run_setup import student_answer, write_models, write_tasks


@pytest.fixture
def student(tmp_path, monkeypatch, library):
    with Listener(student_answer) as endpoint:
        monkeypatch.setenv("TRELLIS_MODELS", str(write_models(tmp_path / "models.toml", endpoint.url)))
        monkeypatch.setenv("TRELLIS_TASKS", str(write_tasks(tmp_path / "tasks")))
        yield endpoint


def test_start_a_batch_and_see_its_runs_scored_with_links_to_their_traces(student):
    at = open_page("runs")
    assert not at.exception, at.exception
    assert [s.label for s in at.selectbox][:3] == ["Task set", "Student model", "Scaffold"]
    assert at.selectbox[1].options == ["test-student"]  # the operator's models, never the structural critic
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception, at.exception
    assert any(s.label.startswith("Batch ") and "2 runs, 0 failed" in s.label for s in at.status)
    assert len(student.requests) == 2  # one direct answer per short task
    [table] = at.dataframe
    assert list(table.value["score"]) == [1.0, 1.0]
    assert all(link.startswith("./trace?trace=run-") for link in table.value["open"])


def test_runs_with_a_scaffold_are_listed_on_that_scaffolds_page(student):
    from core import Store
    from tests.support.scaffold_library import approve_teacher_scaffolds

    with Store(os.environ["TRELLIS_STORE"]) as store:
        legal = approve_teacher_scaffolds(store)["legal-contract-review"]
    st.cache_resource.clear()  # the app opens the file again, after the approvals
    at = open_page("runs")
    at.selectbox[2].select(legal)  # a form sends its fields with the submit
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception, at.exception
    assert any("2 runs, 0 failed" in s.label for s in at.status), [s.label for s in at.status] + [e.value for e in at.error]

    at = open_page("scaffolds", scaffold=legal, tab="Runs")
    assert not at.exception, at.exception
    per_version, runs = at.dataframe[-2:]
    assert per_version.value.to_dict("records")[0] | {"mean_score": 1.0} == {
        "version": 1, "runs": 2, "mean_score": 1.0, "fell_back": 0, "failed": 0}
    assert list(runs.value["task"]) == ["cap-1", "cap-2"]


def test_a_batch_stopped_midway_says_what_it_kept_and_how_to_resume_it(student):
    at = open_page("runs")
    at.number_input[0].set_value(1)  # the first of the 2 tasks: as far as a stopped batch got
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception, at.exception
    batch = at.selectbox[-1].value
    assert not at.warning  # a batch that ran to its end leaves nothing to report on the next run
    assert not at.run().warning

    # what a script stopped midway through the 2-run batch (by Cancel) leaves behind: its marker, never cleared
    at.session_state[RUNNING_BATCH] = RunningWork(batch, runs=2)
    at.run()
    assert [w.value for w in at.warning] == [
        f"Cancelled batch {batch}: 1 of 2 runs finished and kept. Start the same batch again to resume it."]
    assert at.selectbox[-1].value == batch
    assert not at.run().warning  # said once
