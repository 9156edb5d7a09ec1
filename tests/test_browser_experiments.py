"""The Experiments page in real headless Chromium: an experiment's arms with intervals, its verdict, its four plots,
and its runs exported as CSV."""

import csv
import io

import pytest
from playwright.sync_api import expect

from core import Store
from core.auth import local_actor
from core.experiments.run import define_experiment, run_experiment
from core.model_catalog import ModelEntry
from core.tasks.load import load_task_files
from tests.support.browser_support import open_app, screenshot, serve, wait_until_idle
from tests.support.explorer_library import build_library
from tests.support.run_setup import STEP_FINDING, answering, write_tasks
from tests.support.scaffold_library import approve_teacher_scaffolds

pytestmark = pytest.mark.browser
STUDENT = ModelEntry(name="mock-student", model="openai/mock-student", api_base="http://127.0.0.1:9/v1")


def test_an_experiments_arms_verdict_plots_and_csv_export(page, tmp_path):
    db = tmp_path / "trellis.duckdb"
    build_library(db, tmp_path / "traces")
    tasks = load_task_files([write_tasks(tmp_path / "tasks", count=4)])

    def the_scaffold_gets_one_task_wrong(prompt: str) -> str:  # its aggregation answers 75 on contract 3
        if "Your step (" in prompt:
            return STEP_FINDING
        return "75" if "How to combine" in prompt and "Contract 3" in prompt else "150"

    with Store(db) as store:
        legal = approve_teacher_scaffolds(store)["legal-contract-review"]
        experiment = define_experiment(store, tasks, "mock-student", ["none", f"scaffold:{legal}"],
                                       actor=local_actor(), repeats=2, experiment_id="legal-demo")
        run_experiment(store, experiment, tasks, STUDENT, actor=local_actor(),
                       completion=answering(the_scaffold_gets_one_task_wrong))

    with serve(db) as url:
        open_app(page, f"{url}/experiments")
        verdict = page.get_by_text(f"scaffold {legal}@1 did not change the score measurably: -0.25", exact=False)
        expect(verdict).to_be_visible(timeout=30_000)
        expect(page.get_by_text("it helped on no task and hurt on 1 task", exact=False)).to_be_visible()
        expect(page.get_by_test_id("stDataFrame").first.locator("canvas").first).to_be_visible()
        expect(page.locator(".js-plotly-plot").first).to_be_visible()  # the first tab's plot
        expect(page.get_by_text("Score against tokens (95% intervals over tasks)")).to_be_visible()
        for tab, title in [("Per task", "Score change per task against no scaffold"),
                           ("Adherence vs score", "Adherence against score"), ("Competence", "Competence curve")]:
            page.get_by_role("tab", name=tab).click()
            expect(page.get_by_text(title, exact=False).first).to_be_visible()
        page.get_by_role("tab", name="Score vs tokens").click()
        wait_until_idle(page)
        screenshot(page, "experiments")

        with page.expect_download() as download:
            page.get_by_role("button", name="Export runs (CSV)").click()
        rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert len(rows) == 16  # 4 tasks × 2 repeats × 2 arms
    assert {(row["arm"], row["task_id"], row["score"]) for row in rows if row["score"] != "1.0"} == {
        (f"scaffold:{legal}@1", "cap-3", "0.0")}
