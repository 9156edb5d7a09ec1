"""The explorer's logic without a browser: which nodes are drawn, stats, in-trace search, and the drawings."""

import functools
import json
import re
import subprocess
import sys

import pytest

from core import Store, import_files
from core.dot import dot_string, tree_dot
from core.explore import neighbourhood, trace_stats, tree_rows, tree_window
from core.figures import TIMELINE_CALLS, duration_text, overview_figure, time_unit, timeline_figure
from core.models import LoadedTrace, Node, Trace
from core.search import search_trace
from core.traceview import TraceView
from tests.conftest import ROOT, trellis_json
from tests.support.explorer_library import HOSTILE

sys.path.insert(0, str(ROOT / "bench"))
from generate import node_records  # noqa: E402


def view_of(nodes: list[dict], **trace_fields) -> TraceView:
    return TraceView.build(LoadedTrace(Trace(id="t", **trace_fields), [Node.model_validate(n) for n in nodes]))


@functools.cache
def generated(count: int, fanout: int = 6) -> TraceView:
    """A bushy generated trace; built once per size, as tests only read it."""
    return view_of(list(node_records(count, fanout=fanout, trace_id="g")))


def chain(length: int) -> TraceView:
    return view_of([{"id": f"n{i}", "parent_id": f"n{i - 1}" if i else None, "kind": "recurse"} for i in range(length)])


def star(children: int) -> TraceView:
    return view_of([{"id": "root", "kind": "decompose"}] + [
        {"id": f"c{i}", "parent_id": "root", "order": i, "kind": "leaf", "subproblem": f"part {i}"} for i in range(children)
    ])


def accounted_for(view: TraceView, window) -> int:
    """Every node is drawn, counted as hidden below a drawn node, or stood in for: never twice, never lost."""
    return sum(1 for e in window if e.is_node) + sum(e.hidden for e in window)


# ------------------------------------------------------------ tree window


def test_window_around_the_root_shows_two_levels_and_counts_the_rest():
    view = generated(1_000)
    window = tree_window(view, view.root, depth=2)
    drawn = {e.node_id for e in window if e.is_node}
    assert {view.tree.depth[n] for n in drawn} == {0, 1, 2}
    assert accounted_for(view, window) == 1_000


@pytest.mark.parametrize("count", [10_000, 100_000])
def test_window_never_sends_more_than_the_budget(count):
    view = generated(count)
    deep = view.preorder[-1]
    for selected in (view.root, deep, view.preorder[count // 2]):
        window = tree_window(view, selected, depth=5, expanded=view.preorder[:50])
        assert len(window) <= 300
        assert selected in {e.node_id for e in window}
        assert accounted_for(view, window) == count


def test_a_very_deep_selection_elides_the_middle_of_its_path():
    view = chain(10_000)
    window = tree_window(view, "n9999")
    [elision] = [e for e in window if not e.is_node]
    assert elision.note == "… 9,961 levels, 9,961 nodes …"
    assert len(window) == 40  # max_path: 3 at the top, the stand-in, 36 down to the selection
    assert accounted_for(view, window) == 10_000


def test_a_wide_node_shows_siblings_around_the_selection_and_stands_in_for_the_rest():
    view = star(5_000)
    window = tree_window(view, "c2500")
    drawn = [e.node_id for e in window if e.is_node]
    assert "c2500" in drawn and len(drawn) <= 12
    notes = [e.note for e in window if not e.is_node]
    assert notes == ["+2,495 more", "+2,495 more"]  # the siblings before and after the shown ones


def test_collapsed_nodes_hide_their_children_and_expanded_ones_show_them():
    view = generated(200)
    child = view.children(view.root)[0]
    collapsed = tree_window(view, view.root, depth=2, collapsed=[child])
    [entry] = [e for e in collapsed if e.node_id == child]
    assert entry.hidden == view.subtree_size[child] - 1
    grandchild = view.children(child)[0]
    expanded = tree_window(view, view.root, depth=1, expanded=[child])
    assert grandchild in {e.node_id for e in expanded}


# ---------------------------------------------------------------- stats


def test_stats_count_kinds_levels_failures_and_depth_limit():
    view = view_of(
        [
            {"id": "r", "kind": "decompose", "tokens_in": 10},
            {"id": "a", "parent_id": "r", "kind": "recurse", "tokens_in": 5, "tokens_out": 5},
            {"id": "b", "parent_id": "r", "kind": "leaf", "status": "error", "error": "timeout"},
            {"id": "a1", "parent_id": "a", "kind": "leaf", "tokens_out": 3, "metadata": {"depth_limit_hit": True}},
        ]
    )
    stats = trace_stats(view)
    assert (stats.nodes, stats.depth, stats.leaves, stats.max_branching) == (4, 2, 2, 2)
    assert stats.nodes_per_kind == {"leaf": 2, "decompose": 1, "recurse": 1}
    assert stats.tokens_per_level == [10, 10, 3]
    assert stats.failed == ["b"]
    assert (stats.depth_limit_hits, stats.depth_limit_rule) == (
        1, "nodes marked depth_limit_hit or whose error says they hit a depth limit")


def test_depth_limit_hits_count_nodes_that_hit_a_limit_never_the_deepest_level():
    nodes = [{"id": "r"}, {"id": "a", "parent_id": "r"}, {"id": "b", "parent_id": "a"}, {"id": "c", "parent_id": "a"}]
    stats = trace_stats(view_of(nodes))
    assert stats.depth_limit_hits == 0  # b and c are the deepest level, and hit nothing
    assert "no node" in stats.depth_limit_rule
    error = "RecursionError: maximum recursion depth exceeded"
    failed = [*nodes, {"id": "d", "parent_id": "c", "status": "error", "error": error}]
    assert trace_stats(view_of(failed)).depth_limit_hits == 1
    assert trace_stats(view_of(nodes, metadata={"max_depth": 1})).depth_limit_hits == 3  # the limit the trace records


# ---------------------------------------------------------------- search


def test_search_finds_nodes_in_tree_order_on_their_first_matching_field():
    view = view_of(
        [
            {"id": "r", "subproblem": "Review the contract"},
            {"id": "x", "parent_id": "r", "order": 1, "output": "the INDEMNITY clause is one-sided"},
            {"id": "y", "parent_id": "r", "order": 0, "subproblem": "indemnity", "context": "indemnity again"},
        ]
    )
    matches, count = search_trace(view, "Indemnity")
    assert count == 2
    assert [(m.node_id, m.field) for m in matches] == [("y", "subproblem"), ("x", "output")]
    assert matches[1].snippet == "the INDEMNITY clause is one-sided"
    assert search_trace(view, "  ") == ([], 0)


def test_search_of_a_large_trace_reports_all_matches_but_returns_a_page():
    view = generated(10_000)
    matches, count = search_trace(view, "termination", limit=50)
    assert len(matches) == 50 and count > 1_000


# ---------------------------------------------------------------- drawing


def test_trace_text_cannot_break_out_of_a_dot_string():
    assert dot_string('say "hi"\\N\n\x00') == '"say \\"hi\\"\\\\N  "'


def test_tree_dot_of_the_hostile_trace_quotes_every_label(tmp_path):
    with Store(":memory:") as store:
        import_files(store, [HOSTILE])
        view = TraceView.build(store.load_trace("hostile"))
    dot = tree_dot(view, tree_window(view, view.root), view.root, highlighted={"img"})
    # Each statement line holds only our ids; trace text lives inside label="..." with quotes escaped.
    for line in dot.splitlines()[4:-1]:
        unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)
        assert re.fullmatch(r'\s*n\d+( -> n\d+)?( \[[a-z]+=[^,\]]*(, [a-z]+=[^,\]]*)*\])?;', unquoted), line
    assert "injected" not in dot  # contexts are not drawn; sub-problems are, and stay inside their strings


def test_graphviz_reads_the_hostile_labels_back_as_written():
    with Store(":memory:") as store:
        import_files(store, [HOSTILE])
        view = TraceView.build(store.load_trace("hostile"))
    window = tree_window(view, view.root)
    drawn = json.loads(
        subprocess.run(["dot", "-Tjson"], input=tree_dot(view, window), capture_output=True, text=True, check=True).stdout
    )
    assert (len(drawn["objects"]), len(drawn["edges"])) == (5, 4)  # nothing injected
    labels = [o["label"].split("\\n") for o in drawn["objects"]]
    assert "".join(labels[0][1:3]) == "<script>alert(1)</script> split the task"  # wrapped, every character kept
    assert labels[1][0] == 'recurse · <a href="javasc…'


def test_overview_of_100_000_nodes_stays_small_and_consistent():
    view = generated(100_000)
    overview = overview_figure(view, "tokens", "kind")
    [icicle] = overview.figure.data
    assert len(icicle.ids) <= 3_000
    assert len(overview.figure.to_json()) < 1_000_000
    values = dict(zip(icicle.ids, icicle.values))
    children_sum: dict[str, float] = {}
    for segment, parent in zip(icicle.ids, icicle.parents):
        if parent:
            children_sum[parent] = children_sum.get(parent, 0) + values[segment]
    assert all(values[p] >= total for p, total in children_sum.items())  # branchvalues="total" holds
    assert values["0"] == sum(n.tokens for n in view.nodes.values())
    assert "summed into their ancestors" in overview.note


def test_overview_of_a_very_wide_node_keeps_the_largest_children():
    view = star(10_000)
    overview = overview_figure(view, "nodes", "status")
    assert 1 < len(overview.segment_nodes) <= 3_000
    assert overview.segment_nodes[-1] is None  # the "+N more" segment


def test_overview_falls_back_to_node_count_when_nothing_has_tokens():
    view = chain(5)
    assert overview_figure(view, "tokens").note.startswith("no node records tokens")


def test_plotly_labels_escape_html():
    view = view_of([{"id": "r", "subproblem": "<a href='javascript:alert(1)'>x</a>"}])
    figure = json.loads(overview_figure(view, "nodes").figure.to_json())
    assert "<a " not in figure["data"][0]["labels"][0]
    assert "&lt;a href" in figure["data"][0]["labels"][0]


def test_drawings_do_not_grow_with_the_size_of_a_field():
    def drawn(text: str) -> list[int]:
        view = view_of([
            {"id": "r", "kind": "decompose", "subproblem": "root", "start_time": "2026-03-01T09:00:00Z"},
            {"id": "c", "parent_id": "r", "name": text, "subproblem": text, "output": text, "context": text,
             "status": "error", "error": text, "start_time": "2026-03-01T09:00:01Z", "end_time": "2026-03-01T09:00:02Z"},
        ])
        hits, _ = search_trace(view, "x")
        return [len(tree_dot(view, tree_window(view, "c"), "c")), len(overview_figure(view, "nodes").figure.to_json()),
                len(timeline_figure(view).to_json()), len(hits[0].snippet)]

    assert drawn("x" * 1_000_000) == drawn("x" * 1_000)


def test_timeline_shows_timed_calls_under_the_selection():
    view = generated(1_000)
    figure = timeline_figure(view, view.root)
    assert sum(len(bar.y) for bar in figure.data) == TIMELINE_CALLS
    assert timeline_figure(chain(3)) is None


def test_the_timeline_axis_reads_in_a_unit_that_fits_its_span():
    view = view_of([  # calls over 200,000 ms: the axis reads 0 to 3.3 min
        {"id": "r", "start_time": "2026-03-01T09:00:00Z", "end_time": "2026-03-01T09:03:20Z"},
        {"id": "a", "parent_id": "r", "start_time": "2026-03-01T09:00:05Z", "end_time": "2026-03-01T09:01:00Z"},
    ])
    figure = timeline_figure(view)
    assert figure.layout.xaxis.title.text == "minutes from the first call"
    assert figure.layout.xaxis.ticksuffix == " min"
    assert max(b + x for bar in figure.data for b, x in zip(bar.base, bar.x)) == pytest.approx(200 / 60)
    assert [time_unit(s)[0] for s in (0.5, 30, 200, 7200, 20_000)] == ["milliseconds", "seconds", "minutes", "minutes", "hours"]
    assert [duration_text(s) for s in (0.85, 12.44, 200, 7300)] == ["850 ms", "12.4 s", "3 min 20 s", "2 h 1 min"]


def test_the_tree_rows_are_every_node_flat_in_tree_order():
    view = view_of([
        {"id": "r", "kind": "decompose", "subproblem": "Review"},
        {"id": "b", "parent_id": "r", "order": 1, "kind": "leaf", "subproblem": "<img src=x onerror=alert(1)>"},
        {"id": "a", "parent_id": "r", "order": 0, "kind": "recurse", "status": "error", "error": "boom"},
        {"id": "a1", "parent_id": "a", "kind": "leaf"},
    ])
    rows = json.loads(tree_rows(view))
    assert rows["ids"] == ["r", "a", "a1", "b"]
    assert rows["parent"] == [-1, 0, 1, 0] and rows["depth"] == [0, 1, 2, 1]
    assert [rows["kinds"][k] for k in rows["kind"]] == ["decompose", "recurse", "leaf", "leaf"]
    assert rows["status"] == [0, 1, 0, 0]
    assert rows["label"][3] == "<img src=x onerror=alert(1)>"  # as written: the browser sets it as text
    assert tree_rows(view) is tree_rows(view)  # built once per trace


def test_the_picture_around_a_node_is_small_whatever_the_tree():
    view = star(500)
    window = neighbourhood(view, "c250", depth=1)
    drawn = [e.node_id for e in window if e.is_node]
    assert drawn[0] == "root" and "c250" in drawn and len(drawn) == 1 + 9  # the parent, the node and 4 siblings a side
    assert [e.note for e in window if not e.is_node] == ["+246 more", "+245 more"]
    below = neighbourhood(generated(10_000), "g-1", depth=2)
    assert sum(e.is_node for e in below) <= 1 + 9 + 6 + 36


def test_trace_view_loads_from_the_store(tmp_path, small_tree):
    path = tmp_path / "t.json"
    path.write_text(trellis_json("t", small_tree))
    with Store(":memory:") as store:
        import_files(store, [path])
        view = TraceView.build(store.load_trace("t"))
    assert view.children("root") == ["s1", "s2", "agg"]
    assert view.subtree("root") == ["root", "s1", "s2", "agg"]
    assert (view.neighbour("s2", -1), view.neighbour("s2", 1), view.neighbour("agg", 1)) == ("s1", "agg", None)


def test_library_search_finds_nodes_across_traces_and_counts_them(tmp_path, small_tree):
    (tmp_path / "a.json").write_text(trellis_json("a", small_tree))
    (tmp_path / "b.json").write_text(trellis_json("b", [{"id": "r", "output": "Section 1 looks fine", "model": "m1"}]))
    with Store(":memory:") as store:
        import_files(store, [tmp_path])
        hits, counts = store.search_nodes("SECTION 1")
        models = store.node_models()
    assert counts == {"a": 1, "b": 1}
    assert [(h.trace_id, h.node_id, h.field, h.snippet) for h in hits] == [
        ("a", "s1", "subproblem", "Section 1"),
        ("b", "r", "output", "Section 1 looks fine"),
    ]
    assert models == {"b": ["m1"]}
