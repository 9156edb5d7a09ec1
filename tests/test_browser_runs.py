"""The Runs page in real headless Chromium: start a batch with a student model, then open a run's trace."""

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser_support import open_app, screenshot, serve, wait_until_idle
from tests.support.explorer_library import build_library
from tests.support.http_listener import Listener
from tests.support.run_setup import TASK_ANSWER, write_models, write_tasks

pytestmark = pytest.mark.browser


def test_start_a_batch_then_open_a_run_as_a_trace(page, tmp_path):
    db = tmp_path / "trellis.duckdb"
    build_library(db, tmp_path / "traces")
    with Listener(TASK_ANSWER) as student:
        env = {"TRELLIS_MODELS": str(write_models(tmp_path / "models.toml", student.url)),
               "TRELLIS_TASKS": str(write_tasks(tmp_path / "tasks"))}
        with serve(db, env=env) as url:
            open_app(page, f"{url}/runs")
            expect(page.get_by_text("No runs yet")).to_be_visible()
            page.get_by_role("button", name="Start").click()
            done = page.get_by_text(re.compile(r"^Batch \w+: 2 runs, 0 failed$"))
            expect(done).to_be_visible(timeout=60_000)
            wait_until_idle(page)
            expect(page.get_by_test_id("stMetricValue").nth(1)).to_have_text("1.00")  # mean score
            expect(page.get_by_test_id("stDataFrame").locator("canvas").first).to_be_visible()
            wait_until_idle(page)
            screenshot(page, "runs")
            batch = re.match(r"Batch (\w+):", done.inner_text()).group(1)

            open_app(page, f"{url}/trace?trace=run-{batch}-cap-1-1")
            expect(page.get_by_text("Contract 1: what is the liability cap", exact=False).first).to_be_visible()
            wait_until_idle(page)
            expect(page.get_by_text("2 of 2 nodes drawn", exact=False)).to_be_visible()
            screenshot(page, "run-trace")
    assert len(student.requests) == 2
