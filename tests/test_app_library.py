"""The Library page's filters, replacing upload and confirmed delete, run by Streamlit's AppTest against a real
DuckDB file."""

import json
from datetime import date

import pytest

from core import Store
from core.auth import local_actor
from core.cli import main
from tests.conftest import SAMPLES, trellis_json
from tests.support.explorer_library import open_page

STUDENT, TEACHER = "legal-msa-student-8b", "legal-msa-teacher-70b"


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "library.duckdb"
    monkeypatch.setenv("TRELLIS_DB", str(path))
    return path


@pytest.fixture
def critiqued(db, capsys):
    """The legal student (critiqued: 13 annotations) and its teacher."""
    assert main(["import", str(SAMPLES / f"{STUDENT}.json"), str(SAMPLES / f"{TEACHER}.json"), "--db", str(db)]) == 0
    assert main(["critique", STUDENT, "--db", str(db)]) == 0
    capsys.readouterr()
    return db


def shown_ids(at) -> list[str]:
    return list(at.dataframe[0].value["id"])


def test_tags_and_dates_filter_the_table(critiqued):
    with Store(critiqued) as store:
        store.change_tags(TEACHER, local_actor(), add=["reference"])
        started = {s.id: s.created_at.date() for s in store.list_traces()}
    at = open_page("library")
    at.multiselect(key="library-tags").select("reference").run()
    assert shown_ids(at) == [TEACHER]
    at.multiselect(key="library-tags").unselect("reference").run()
    assert sorted(shown_ids(at)) == [STUDENT, TEACHER]
    day = started[STUDENT]
    at.date_input(key="library-started").set_value((day, day)).run()
    assert shown_ids(at) == [s for s, d in started.items() if d == day]
    at.date_input(key="library-started").set_value((date(2025, 1, 1), date(2025, 12, 31))).run()
    assert shown_ids(at) == []
    assert not at.exception


def test_deleting_asks_first_and_says_what_goes_with_the_trace(critiqued):
    at = open_page("library")
    at.selectbox(key="library-manage").select(STUDENT).run()
    [delete] = [b for b in at.button if b.label == "Delete…"]
    at = delete.click().run()
    [warning] = [w.value.replace("\\", "") for w in at.warning]
    assert warning == (f"Delete {STUDENT} for good? It has 13 annotations and 1 critique run: they are deleted with it.")
    assert STUDENT in shown_ids(at)  # nothing deleted yet
    [confirm] = [b for b in at.button if b.label == "Delete for good"]
    at = confirm.click().run()
    assert shown_ids(at) == [TEACHER]
    assert [s.value.replace("\\", "") for s in at.success] == [
        f"Deleted {STUDENT} with 13 annotations and 1 critique run."]
    with Store(critiqued) as store:
        assert store.list_annotations(STUDENT) == []
        assert store.audit_log(1)[0].action == "delete trace"


def test_cancelling_a_delete_keeps_the_trace(critiqued):
    at = open_page("library")
    at.selectbox(key="library-manage").select(TEACHER).run()
    at = next(b for b in at.button if b.label == "Delete…").click().run()
    at = next(b for b in at.button if b.label == "Cancel").click().run()
    assert not at.warning and sorted(shown_ids(at)) == [STUDENT, TEACHER]


def upload(at, name: str, text: str, *, replace: bool = False):
    at.file_uploader[0].set_value((name, text.encode(), "application/json"))
    at.checkbox[0].set_value(replace)
    return at.button[0].click().run()


def test_an_upload_replaces_a_stored_trace_only_when_asked_and_keeps_its_tags(db, small_tree):
    at = upload(open_page("library"), "t.json", trellis_json("t", small_tree, title="first"))
    with Store(db) as store:
        store.change_tags("t", local_actor(), add=["kept"])
    at = upload(at, "t.json", trellis_json("t", small_tree, title="second"))
    [error] = [e.value.replace("\\", "") for e in at.error]
    assert error.startswith("trace 't' is already in")
    assert error.endswith("; delete it first, or replace it (tick Replace traces already stored under the same id)")
    at = upload(at, "t.json", trellis_json("t", small_tree, title="second"), replace=True)
    assert not at.error
    table = at.dataframe[0].value
    assert (list(table["title"]), [list(tags) for tags in table["tags"]]) == (["second"], [["kept"]])


def test_an_unknown_format_says_what_to_choose_in_the_app(db):
    at = upload(open_page("library"), "odd.json", json.dumps({"spans": [], "hello": 1}))
    [error] = [e.value.replace("\\", "") for e in at.error]
    assert error == ("odd.json: unknown trace format: not Trellis JSON, an RLM log, OTLP/JSON or a LangSmith run tree; "
                     "choose its format in the Format list and import it again")
