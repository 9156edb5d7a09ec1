"""A page that cannot open the database, or fails in any other way, shows people one sentence, never a
traceback; the details go to the server log. tests/test_browser_errors.py checks both through app.py in Chromium."""

import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from core import Store, import_files
from pages import ui
from tests.conftest import SAMPLES
from tests.support.explorer_library import open_page

TRACE = "legal-msa-teacher-70b"
# Another process holding the file read-write, as `trellis import` does while it runs.
HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('holding', flush=True); time.sleep(300)"


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "trellis.duckdb"
    with Store(path) as store:
        import_files(store, [SAMPLES / f"{TRACE}.json"])
    monkeypatch.setenv("TRELLIS_STORE", str(path))
    return path


@pytest.fixture
def held(db):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        yield db
    finally:
        holder.kill()
        holder.wait()


def shown(at) -> str:
    """Everything a person reads on the page."""
    elements = [*at.error, *at.exception, *at.warning, *at.info, *at.markdown, *at.caption, *at.code, *at.title]
    return "\n".join(str(e.value) for e in elements) + "\n".join(line for e in at.exception for line in e.stack_trace)


def assert_no_details(text: str, *secrets: str) -> None:
    for detail in ("Traceback", 'File "', ".py", *secrets):
        assert detail not in text, detail


@pytest.mark.parametrize("page", ["trace", "scaffolds"])
def test_a_database_held_by_another_process_is_one_sentence(held, caplog, page):
    at = open_page(page, trace=TRACE)
    assert not at.exception
    assert [e.value for e in at.error] == [ui.STORE_UNAVAILABLE]
    assert_no_details(shown(at), str(held), "duckdb", "IOException")
    assert "in use by another process" in caplog.text and str(held) in caplog.text, "the details are in the log"


def test_any_other_failure_on_a_page_shows_no_details(db, monkeypatch):
    # AppTest runs the page inside the app's frame (pages.run), whose handler shows the one sentence.
    def broken(*args, **kwargs):
        raise RuntimeError("secret detail from /srv/trellis/core/explore.py")

    monkeypatch.setattr("pages.trace.neighbourhood", broken)  # the page module's own name for it
    at = open_page("trace", trace=TRACE)
    assert at.exception, "the failure is still reported"
    assert [e.value for e in at.exception] == [ui.PAGE_FAILED]
    assert_no_details(shown(at), "secret", "RuntimeError")


def test_the_one_sentence_handler_logs_what_it_hides(caplog):
    def script():
        from pages import ui

        try:
            raise RuntimeError("secret detail")
        except RuntimeError as exc:
            ui.show_failure(exc)

    at = AppTest.from_function(script).run()
    assert [e.value for e in at.exception] == [ui.PAGE_FAILED] and not at.exception[0].stack_trace
    assert "secret detail" in caplog.text and "Traceback" in caplog.text
