"""The Runs page in real headless Chromium: start a batch with a student model, open a run's trace; cancel a batch
and resume it."""

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
            expect(page.get_by_text("2 of 2 nodes listed", exact=False)).to_be_visible()
            expect(page.get_by_role("button", name="Root")).to_be_visible()  # the inspector, drawn too
            expect(page.get_by_text("The Supplier's total liability is capped", exact=False).first).to_be_visible()
            wait_until_idle(page)
            screenshot(page, "run-trace")
    assert len(student.requests) == 2


def test_cancel_a_running_batch_then_start_it_again_to_resume_it(page, tmp_path):
    db = tmp_path / "trellis.duckdb"
    build_library(db, tmp_path / "traces")
    with Listener(TASK_ANSWER, delay=3) as student:  # a slow student: each task takes 3 s, time to press Cancel
        env = {"TRELLIS_MODELS": str(write_models(tmp_path / "models.toml", student.url)),
               "TRELLIS_TASKS": str(write_tasks(tmp_path / "tasks", count=3))}
        with serve(db, env=env) as url:
            open_app(page, f"{url}/runs")
            page.get_by_role("button", name="Start").click()
            expect(page.get_by_text("[1/3] cap-1 (repeat 1): score 1.00")).to_be_visible(timeout=30_000)
            page.get_by_role("button", name="Cancel").click()  # while cap-2 waits for its answer

            # cap-2's answer comes in and is stored; the page stops before cap-3 is asked
            cancelled = page.get_by_text(re.compile(r"^Cancelled batch \w+: 2 of 3 runs finished and kept\. "
                                                    r"Start the same batch again to resume it\.$"))
            expect(cancelled).to_be_visible(timeout=30_000)
            wait_until_idle(page)
            expect(page.get_by_test_id("stMetricValue").first).to_have_text("2")  # the batch's runs, listed below
            expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
            screenshot(page, "runs-cancelled")
            assert len(student.requests) == 2

            page.get_by_role("button", name="Start").click()
            resumed = page.get_by_text(re.compile(r"^Batch \w+: 1 runs, 0 failed, 2 already done$"))
            expect(resumed).to_be_visible(timeout=60_000)
            wait_until_idle(page)
            expect(page.get_by_test_id("stMetricValue").first).to_have_text("3")
            expect(cancelled).to_have_count(0)
            screenshot(page, "runs-resumed")
    assert len(student.requests) == 3  # cap-3 only: the runs kept were not asked again
