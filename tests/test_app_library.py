"""The Library page's filters, replacing upload and confirmed delete, live traces, and traces changed by another
process, run by Streamlit's AppTest against a real DuckDB file."""

import json
from datetime import date

import pytest

from core import Store
from core.auth import local_actor
from core.cli import main
from core.ingest.wire import JSON, read_spans, rebuild
from core.models import LIVE_WINDOW
from tests.conftest import SAMPLES, trellis_json
from tests.support.explorer_library import open_page
from tests.support.otlp_request import export_request

STUDENT, TEACHER = "legal-msa-student-8b", "legal-msa-teacher-70b"


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "library.duckdb"
    monkeypatch.setenv("TRELLIS_STORE", str(path))
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



def nodes_shown(at) -> str:
    return next(m.value for m in at.metric if m.label == "Nodes")


def test_a_trace_replaced_from_the_command_line_is_shown_as_it_now_is(db, small_tree, tmp_path, capsys):
    trace_file = tmp_path / "t.json"
    trace_file.write_text(trellis_json("t", small_tree, title="first"))
    assert main(["import", str(trace_file), "--db", str(db)]) == 0
    at = open_page("trace", trace="t")
    assert (at.title[0].value, nodes_shown(at)) == ("first", "4")  # loaded once, kept in the shared cache

    grown = [*small_tree, {"id": "s3", "parent_id": "root", "order": 3, "kind": "leaf", "subproblem": "Section 3"}]
    trace_file.write_text(trellis_json("t", grown, title="second"))
    assert main(["import", str(trace_file), "--replace", "--db", str(db)]) == 0
    at.run()
    assert (at.title[0].value, nodes_shown(at)) == ("second", "5")


def test_a_trace_receiving_spans_is_marked_live_and_comes_first(critiqued):
    request = export_request("5b8efff798038103d269b633813fc60c", [("eee19b7ec3c1b174", None, "refund <b>q</b>")])
    spans = read_spans(request, JSON, None, 1 << 20)
    with Store(critiqued) as store:  # as `trellis collect` stores what it receives
        store.receive_spans(spans, rebuild, actor=local_actor())
        [collected] = [s for s in store.list_traces() if s.last_span_at]
    at = open_page("library")
    table = at.dataframe[0].value
    assert list(table["title"])[0] == "● live · refund <b>q</b>"  # as text, never markup
    assert not any(title.startswith("● live") for title in list(table["title"])[1:])  # imported whole: never live
    [count] = [c.value for c in at.caption if " traces · " in c.value]
    assert count == "3 of 3 traces · 1 ● live (a span in the last 30 s) · click a row to open its trace"
    assert not collected.live(now=collected.last_span_at + LIVE_WINDOW)  # quiet for the whole window: no longer live
