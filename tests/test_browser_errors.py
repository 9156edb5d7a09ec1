"""In real Chromium against `streamlit run app.py` (which reads .streamlit/config.toml): a database held by
another process, or a page that fails, is one sentence on the page, never a traceback."""

import subprocess
import sys

import pytest
from playwright.sync_api import expect

from core import Store, import_files
from pages import ui
from tests.conftest import SAMPLES
from tests.support.browser_support import open_app, screenshot, serve

pytestmark = pytest.mark.browser

TRACE = "legal-msa-teacher-70b"
HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('holding', flush=True); time.sleep(300)"
# Loaded by the server's Python at start-up: a page that raises with details nobody should see.
FAULT = '''import core.explore

def broken(*args, **kwargs):
    raise RuntimeError("secret detail from /srv/trellis/core/explore.py")

core.explore.neighbourhood = broken
'''


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "trellis.duckdb"
    with Store(path) as store:
        import_files(store, [SAMPLES / f"{TRACE}.json"])
    return path


def assert_no_details(page, *secrets: str) -> None:
    text = page.locator("[data-testid=stMain]").inner_text()
    for detail in ("Traceback", 'File "', ".py", "Ask Google", *secrets):
        assert detail not in text, detail


def test_a_database_held_by_another_process_is_one_sentence(page, db):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with serve(db) as url:
            for name in ("trace", "scaffolds"):
                open_app(page, f"{url}/{name}?trace={TRACE}")
                expect(page.locator("[data-testid=stAlertContentError] p")).to_have_text(ui.STORE_UNAVAILABLE)
                assert page.locator("[data-testid=stException]").count() == 0
                assert_no_details(page, str(db), "duckdb", "StoreError")
                screenshot(page, f"database_in_use_{name}")
    finally:
        holder.kill()
        holder.wait()


def test_a_page_that_fails_is_one_sentence(page, db, tmp_path):
    faults = tmp_path / "faults"
    faults.mkdir()
    (faults / "sitecustomize.py").write_text(FAULT)
    with serve(db, env={"PYTHONPATH": str(faults)}) as url:
        open_app(page, f"{url}/trace?trace={TRACE}")
        expect(page.locator("[data-testid=stException]")).to_have_text(ui.PAGE_FAILED)
        assert_no_details(page, "secret", "RuntimeError")
        screenshot(page, "page_failed")
