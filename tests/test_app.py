"""Every page of the app, run by Streamlit's AppTest against a real DuckDB file holding the library."""

import importlib

import pytest
from streamlit.testing.v1 import AppTest

from pages import PAGES
from tests.support.explorer_library import ROOT, open_page


def texts(at: AppTest) -> str:
    """Everything the page shows as text or code, to look for what a person would read."""
    parts = [e.value for e in [*at.code, *at.caption, *at.markdown, *at.title, *at.subheader]]
    return "\n".join(str(p) for p in parts)


def inspected_node(at: AppTest) -> str:
    return at.code[0].value  # the inspector shows the node id first


def test_the_registry_lists_every_page_of_the_folder():
    modules = {p.stem for p in (ROOT / "pages").glob("*.py")} - {"__init__", "ui"}
    assert set(PAGES) == modules
    assert all(callable(importlib.import_module(f"pages.{name}").page) for name in PAGES)


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "pages").glob("*.py") if p.name != "__init__.py"))
def test_every_module_of_pages_run_as_a_script_runs_the_app(library, script):
    """What Streamlit's legacy pages/ mode does for the first request of a fresh server (and AppTest for each
    run): it runs pages/NAME.py as a script. The module runs the app, which serves its page in the frame, or
    the home page for a module that is not a page."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page(f"pages/{script}")
    at.run()
    assert not at.exception
    assert any(c.value.startswith("**Local single-user mode**") for c in at.sidebar.caption)  # the frame
    name = script.removesuffix(".py")
    assert at.title[0].value == (PAGES[name].title if name in PAGES and name != "home" else "Trellis")


def test_home_shows_the_library_size_and_the_demo(library):
    at = open_page("home")
    assert not at.exception
    assert at.metric[0].value == str(len(library))
    assert "Strategy transfer" in texts(at) and "Scaffold transfer" in texts(at)


def test_library_lists_every_trace_and_filters_them(library):
    at = open_page("library")
    assert not at.exception
    table = at.dataframe[0].value
    assert set(table["id"]) == set(library)
    at.multiselect[1].select("teacher").run()  # role
    assert set(at.dataframe[0].value["role"]) == {"teacher"}


def test_library_search_finds_traces_and_nodes(library):
    at = open_page("library")
    at.text_input[0].input("<script>alert(1)</script>").run()
    assert not at.exception
    assert list(at.dataframe[0].value["id"]) == ["hostile"]
    nodes = at.dataframe[1].value
    assert "root" in set(nodes["node"])
    assert any("<script>alert(1)</script>" in text for text in nodes["text"])


def test_trace_page_without_a_trace_offers_a_picker(library):
    at = open_page("trace", trace="no-such-trace")
    assert not at.exception
    assert "No trace" in at.warning[0].value
    assert at.selectbox(key="trace_picker").options


def a_sample_trace(library) -> str:
    return next(i for i in library if i != "hostile")


def test_trace_page_selects_a_child_and_shows_it_in_the_inspector(library):
    trace_id = a_sample_trace(library)
    at = open_page("trace", trace=trace_id)
    assert not at.exception
    root = inspected_node(at)
    next(s for s in at.selectbox if s.label.startswith("Go to one of")).select_index(0).run()
    assert not at.exception
    assert at.query_params["node"] == inspected_node(at) != root
    assert "Sub-problem" in texts(at)
    next(b for b in at.button if b.label == "Parent").click().run()
    assert inspected_node(at) == root


def test_trace_page_opens_the_node_named_in_the_address(library):
    trace_id = a_sample_trace(library)
    at = open_page("trace", trace=trace_id)
    child = next(s for s in at.selectbox if s.label.startswith("Go to one of"))
    child.select_index(0).run()
    node_id = inspected_node(at)
    shared = open_page("trace", trace=trace_id, node=node_id)
    assert inspected_node(shared) == node_id
    assert not shared.exception


def test_searching_a_trace_jumps_to_a_match(library):
    at = open_page("trace", trace="hostile")
    at.text_input(key="search:hostile").input("onerror").run()
    matches = next(s for s in at.selectbox if "matching nodes" in s.label)
    assert len(matches.options) == 2
    next(b for b in at.button if b.help == "Next match").click().run()
    assert inspected_node(at) == "img"


def test_hostile_trace_text_is_shown_exactly_as_written(library):
    at = open_page("trace", trace="hostile", node="link")
    assert not at.exception
    shown = texts(at)
    assert "[x](javascript:alert(1)) follow the link" in shown  # the sub-problem, verbatim in a code block
    assert "<script>alert('error')</script> failed **loudly**" in shown
    # Where Streamlit renders Markdown (the title), every marker is escaped.
    assert at.title[0].value.startswith("\\<script\\>alert\\(1\\)\\<")


def test_only_the_open_tab_is_drawn_and_each_renders(library):
    trace_id = a_sample_trace(library)
    at = open_page("trace", trace=trace_id)
    assert not at.exception
    assert len(at.get("graphviz_chart")) == 1 and not at.get("plotly_chart")  # "Around this node" only
    at = open_page("trace", trace=trace_id, trace_tab="Overview")
    assert len(at.get("plotly_chart")) == 1 and not at.get("graphviz_chart")
    for size_by in ("cost", "nodes"):
        at.button_group(key="size_by").set_value(size_by).run()
        assert not at.exception
    at = open_page("trace", trace=trace_id, trace_tab="Timeline")
    assert not at.exception
    assert " from the first call" in at.get("plotly_chart")[0].proto.spec
    at = open_page("trace", trace=trace_id, trace_tab="Statistics")
    assert not at.exception
    assert "Depth-limit hits" in texts(at)


def address(at: AppTest, name: str) -> str | None:
    value = at.query_params.get(name)
    return value[0] if isinstance(value, list) else value


def test_compare_page_aligns_the_demo_pair_row_by_row(library):
    at = open_page("compare")
    assert not at.exception
    assert int(at.metric[0].value.replace(",", "")) >= 1  # matched sub-problems, at least the roots
    rows = at.dataframe[0].value
    assert list(rows["match"])[:1] == ["#1"]  # the roots, in one row
    assert {"only left", "only right"} & set(rows["match"])  # a node of one side only has a row of its own


def test_compare_centres_both_trees_on_the_pair_picked_and_forgets_it_for_other_traces(library):
    at = open_page("compare", left="legal-msa-teacher-70b", right="legal-msa-student-8b")
    at.selectbox(key="focus:legal-msa-teacher-70b:legal-msa-student-8b").set_value("t-legal-1").run()
    assert not at.exception
    assert address(at, "focus") == "t-legal-1"
    at.selectbox(key="pick_right").set_value("incident-checkout-student-3b").run()
    assert not at.exception
    assert address(at, "focus") is None  # another pair of traces opens on its roots
    assert at.selectbox(key="focus:legal-msa-teacher-70b:incident-checkout-student-3b").value == "t-legal"


def test_compare_page_takes_both_traces_from_the_address(library):
    left, right = library[0], library[1]
    at = open_page("compare", left=left, right=right)
    assert not at.exception
    assert (at.selectbox(key="pick_left").value, at.selectbox(key="pick_right").value) == (left, right)


def test_compare_picks_the_trace_of_the_same_class_and_warns_when_the_classes_differ(library):
    at = open_page("compare", left="legal-msa-student-8b")
    assert at.selectbox(key="pick_right").value == "legal-msa-teacher-70b"  # the teacher of the student's class
    assert not at.warning
    at.selectbox(key="pick_left").set_value("incident-checkout-teacher-405b").run()
    assert at.selectbox(key="pick_right").value == "incident-checkout-student-3b"  # the right follows the left
    assert not at.warning
    at.selectbox(key="pick_right").set_value("legal-msa-teacher-70b").run()
    assert at.selectbox(key="pick_right").value == "legal-msa-teacher-70b"  # a person's pick stays
    assert "different task classes" in at.warning[0].value
    assert (address(at, "left"), address(at, "right")) == ("incident-checkout-teacher-405b", "legal-msa-teacher-70b")


def test_the_trace_page_reopens_the_trace_and_node_last_open_when_reached_without_an_address(library):
    at = open_page("trace", trace="legal-msa-teacher-70b", node="t-legal-3.3")
    at.query_params.clear()  # as the sidebar's Trace entry opens the page: with no address
    at.run()
    assert not at.exception
    assert (address(at, "trace"), address(at, "node")) == ("legal-msa-teacher-70b", "t-legal-3.3")
    assert inspected_node(at) == "t-legal-3.3"


def test_a_huge_field_is_shown_as_a_head_with_the_rest_as_a_download(tmp_path, monkeypatch):
    from core import Store, import_files
    from core.text import SHOWN_CHARS
    from tests.conftest import trellis_json

    huge = "word " * 12_000  # 60,000 characters
    path = tmp_path / "huge.json"
    path.write_text(trellis_json("huge", [
        {"id": "root", "kind": "decompose", "subproblem": "Read the report"},
        {"id": "big", "parent_id": "root", "kind": "leaf", "subproblem": huge, "output": huge, "context": huge,
         "name": "n" * 100_000, "model": "m" * 100_000, "status": "error", "error": huge},
    ], title="t" * 100_000))
    db = tmp_path / "huge.duckdb"
    with Store(db) as store:
        import_files(store, [path])
    monkeypatch.setenv("TRELLIS_STORE", str(db))

    at = open_page("trace", trace="huge", node="big")
    assert not at.exception
    assert max(len(c.value) for c in at.code) <= SHOWN_CHARS
    assert max(element_sizes(at.main) + element_sizes(at.sidebar)) < SHOWN_CHARS + 1000  # every element, tables and charts too
    cut = [c.value for c in at.caption if c.value.startswith("Showing the first")]
    assert cut[:4] == [f"Showing the first {SHOWN_CHARS:,} of {len(huge):,} characters."] * 4
    downloads = at.get("download_button")
    assert len(downloads) == 5  # error, sub-problem, context, output, raw JSON
    assert all(d.proto.ByteSize() < 2000 for d in downloads)  # a button, not the text


def element_sizes(node) -> list[int]:
    """The size of every element message in an AppTest tree."""
    sizes = [node.proto.ByteSize()] if hasattr(getattr(node, "proto", None), "ByteSize") else []
    for child in getattr(node, "children", {}).values():
        sizes += element_sizes(child)
    return sizes


def test_a_session_lets_go_of_the_traces_it_has_left(tmp_path, monkeypatch, request):
    """Streamlit keeps every widget's metadata, callbacks and labels included, for the whole session; a trace
    the cache has let go must not live on in a session that showed it, whatever the person did there."""
    import gc
    import weakref

    import streamlit as st

    from core import Store, import_files
    from core.traceview import TraceView
    from tests.conftest import trellis_json

    names = ["one", "two", "three"]
    for trace_id in names:
        nodes = [{"id": "root", "kind": "decompose", "subproblem": f"Review {trace_id}"}] + [
            {"id": f"n{i}", "parent_id": "root", "order": i, "kind": "leaf", "subproblem": f"Section {i} of {trace_id}"}
            for i in range(3)
        ]
        (tmp_path / f"{trace_id}.json").write_text(trellis_json(trace_id, nodes))
    db = tmp_path / "three.duckdb"
    with Store(db) as store:
        import_files(store, [tmp_path / f"{trace_id}.json" for trace_id in names])
    monkeypatch.setenv("TRELLIS_STORE", str(db))
    monkeypatch.setenv("TRELLIS_CACHE_MB", "0")  # nothing is kept: only sessions could hold views
    st.cache_resource.clear()  # the process's trace cache is made again, with that budget
    request.addfinalizer(st.cache_resource.clear)  # and again after, with the usual one
    built, build = [], TraceView.build

    def build_and_watch(cls, loaded):
        view = build(loaded)
        built.append(weakref.ref(view))
        return view

    monkeypatch.setattr(TraceView, "build", classmethod(build_and_watch))

    def click(at: AppTest, **attributes) -> None:
        next(b for b in at.button if all(getattr(b, k) == v for k, v in attributes.items())).click().run()

    at = open_page("trace", trace=names[0])
    for trace_id in names:  # every widget that takes a callback or a format function, on each trace
        at.query_params.clear()
        at.query_params["trace"] = trace_id
        at.run()
        next(s for s in at.selectbox if s.label.startswith("Go to one of")).select_index(0).run()
        click(at, label="Root")
        at.text_input(key=f"search:{trace_id}").input("Section").run()
        next(s for s in at.selectbox if "matching nodes" in s.label).select_index(1).run()
        click(at, help="Next match")
        click(at, label="Root")
        at.query_params["trace_tab"] = "Overview"
        at.run()
        at.button_group(key="size_by").set_value("nodes").run()
        at.query_params["trace_tab"] = "Around this node"
        at.run()
        assert not at.exception
        assert inspected_node(at) == "root"
    at.run()  # a second run on the last trace: nothing of the others is drawn any more
    gc.collect()
    alive = {ref().trace.id for ref in built if ref() is not None}
    assert alive <= {names[-1]}, f"the session still holds {sorted(alive - {names[-1]})}"
