"""The Experiments page under AppTest: define an experiment, start it, and read its arms, verdict, plots and
exports; a student model at a loopback endpoint answers."""

import os

import pytest
import streamlit as st

from pages.experiments import RUNNING_EXPERIMENT
from pages.ui import RunningWork
from tests.support.explorer_library import open_page
from tests.support.http_listener import Listener
from tests.support.run_setup import student_answer, write_models, write_tasks


@pytest.fixture
def student(tmp_path, monkeypatch, library):
    with Listener(student_answer, max_requests=100) as endpoint:
        monkeypatch.setenv("TRELLIS_MODELS", str(write_models(tmp_path / "models.toml", endpoint.url)))
        monkeypatch.setenv("TRELLIS_TASKS", str(write_tasks(tmp_path / "tasks")))
        yield endpoint


def test_before_any_experiment_the_page_says_how_to_start_one(student):
    at = open_page("experiments")
    assert not at.exception, at.exception
    assert [s.label for s in at.selectbox][:2] == ["Task set", "Student model"]
    assert at.multiselect[0].value == ["none"]  # no approved scaffold yet: only the baseline is offered
    assert any("No experiments yet" in i.value for i in at.info)


def test_start_an_experiment_and_compare_its_arms_with_intervals_plots_and_exports(student):
    from core import Store
    from tests.support.scaffold_library import approve_teacher_scaffolds

    with Store(os.environ["TRELLIS_STORE"]) as store:
        legal = approve_teacher_scaffolds(store)["legal-contract-review"]
    st.cache_resource.clear()  # the app opens the file again, after the approvals
    at = open_page("experiments")
    at.multiselect[0].set_value(["none", f"scaffold:{legal}@1"])
    at.number_input[1].set_value(1)  # repeats
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception, at.exception
    assert any("4 runs, 0 failed" in s.label for s in at.status), [s.label for s in at.status] + [e.value for e in at.error]

    arms = at.dataframe[0].value
    assert list(arms["arm"]) == ["none", f"scaffold:{legal}@1"]
    assert list(arms["score"]) == ["1.00 [1.00, 1.00]", "1.00 [1.00, 1.00]"]
    assert list(arms["Δ score"]) == ["baseline", "+0.00 [+0.00, +0.00]"]
    assert any("did not change the score measurably" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 4
    assert [b.proto.label for b in at.get("download_button")] == ["Export runs (CSV)", "Export runs (JSON)"]


def test_an_experiment_stopped_midway_says_what_it_kept_and_how_to_resume_it(student):
    at = open_page("experiments")
    at.session_state[RUNNING_EXPERIMENT] = RunningWork("exp-stopped", runs=6)
    at.run()
    assert not at.exception, at.exception
    assert any(w.value.startswith("Cancelled experiment exp-stopped: 0 of 6 runs finished and kept.")
               for w in at.warning)
