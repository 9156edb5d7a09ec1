"""Trace: every node of a trace in a tree to click, the node's inspector, and views of the whole trace.

The address holds the view (?trace=ID&node=ID&trace_tab=Overview), so it can be shared.

Only what changed is redrawn: the header runs when the page opens; the explorer (search, tree, inspector and
the open tab) is a fragment that a click in it reruns; each tab is a fragment of its own for its own controls,
and only the open tab is computed. The tree's rows go to the browser once (pages/components/tree).
"""

import json
from functools import partial

import pandas as pd
import streamlit as st

import pages
from core.auth import Action
from core.dot import KIND_STYLE, tree_dot
from core.errors import TrellisError
from core.explore import neighbourhood
from core.figures import TIMELINE_CALLS, duration_text, timeline_figure
from core.search import search_trace
from core.store.comments import MAX_COMMENT_CHARS
from core.text import short_number, shorten
from core.traceview import MEASURES, TraceView
from pages import ui
from pages.components.tree import trace_tree

# Widget callbacks are module functions given plain ids (see pages/ui.py). The pickers keep one key each,
# whatever the trace or node: Streamlit keeps a widget's options and labels for the whole session, so a key
# per node would keep a list of labels for every node a person has visited.
CHILD_PICKER, MATCH_PICKER = "child_picker", "match_picker"
SEGMENTS = "overview_segments"  # the node of each segment of the overview last drawn
PICKED_IN_OVERVIEW = "picked_in_overview"  # a node was clicked in the overview: the whole explorer follows
TABS = ["Around this node", "Overview", "Timeline", "Statistics"]
TREE_HEIGHT = 560  # px of tree rows; the inspector beside it scrolls within the same height


def select_node(node_id: str | None) -> None:
    if node_id:
        st.query_params["node"] = node_id
        pages.remember_trace()  # a fragment's rerun does not pass the frame, which records it otherwise


def select_picked(key: str) -> None:
    select_node(st.session_state[key])


def select_trace() -> None:
    st.query_params.clear()
    st.query_params["trace"] = st.session_state.trace_picker


def select_clicked_segment(key: str) -> None:
    points = st.session_state[key]["selection"]["points"]
    if points and "id" in points[0]:
        select_node(st.session_state[SEGMENTS][int(points[0]["id"])])
        st.session_state[PICKED_IN_OVERVIEW] = True


def add_comment(trace_id: str, node_id: str, key: str) -> None:
    try:
        ui.store().add_comment(trace_id, node_id, st.session_state[key], ui.actor())
    except TrellisError as error:  # a one-line reason (no text, no right to comment), shown under the box
        st.session_state[f"{key}:error"] = str(error)
    else:
        st.session_state[key] = ""


def selected_node(view: TraceView) -> str:
    """The node the address names, else the root (saying so when the address names a node not in the trace)."""
    node_id = st.query_params.get("node")
    if node_id in view.nodes:
        return node_id
    if node_id:
        st.warning(ui.plain(f"No node {node_id!r} in this trace; showing the root."))
    return view.root


def page() -> None:
    store = ui.store()
    summaries = {s.id: s for s in store.list_traces()}
    if not summaries:
        st.title("Trace")
        st.info("The library is empty: import traces on the Library page first.")
        st.stop()

    trace_id = st.query_params.get("trace")
    if trace_id not in summaries:
        st.title("Trace")
        if trace_id:
            st.warning(ui.plain(f"No trace {trace_id!r} in this library; pick one below."))
        labels = {i: f"{shorten(s.title or i, 120)} · {s.role} · {i}" for i, s in summaries.items()}
        st.selectbox("Trace", list(labels), index=None, key="trace_picker", on_change=select_trace, format_func=labels.__getitem__)
        st.stop()

    header(ui.trace_view(trace_id))
    explorer(trace_id)


def header(view: TraceView) -> None:
    stats = ui.stats(view)
    trace = view.trace
    st.title(ui.plain(shorten(trace.title or trace.id, 200)))
    st.caption(ui.plain(" · ".join(shorten(str(v), 100) for v in (trace.id, trace.role, trace.agent, trace.task_class, trace.source_format) if v)))
    # Sized to their content and wrapping to a second row on a narrow window, so no figure is ever cut ("10...").
    with st.container(horizontal=True, gap="large"):
        st.metric("Nodes", short_number(stats.nodes), help=f"{stats.nodes:,} nodes", width="content")
        st.metric("Depth", stats.depth, width="content")
        st.metric("Tokens", short_number(stats.tokens), help=f"{stats.tokens:,} tokens in and out", width="content")
        st.metric("Cost", "—" if stats.cost is None else f"${stats.cost:,.{2 if stats.cost >= 1 else 4}f}", width="content")
        st.metric("Failed calls", len(stats.failed), width="content")
        st.metric("Depth-limit hits", short_number(stats.depth_limit_hits), width="content",
                  help=f"{stats.depth_limit_hits:,} {stats.depth_limit_rule}")


@ui.fragment
def explorer(trace_id: str) -> None:
    """Search, the tree, the inspector and the open tab: what a click on a node changes."""
    view = ui.trace_view(trace_id)
    node_id = selected_node(view)

    search_col, match_col = st.columns([2, 3], vertical_alignment="bottom")
    query = search_col.text_input("Search this trace", key=f"search:{trace_id}", placeholder="text in any node")
    matches, match_count = search_trace(view, query) if query.strip() else ([], 0)
    matched = [m.node_id for m in matches]
    if query.strip():
        with match_col.container(horizontal=True, vertical_alignment="bottom"):
            labels = {m.node_id: f"{view.nodes[m.node_id].kind} · {m.field}: {m.snippet}" for m in matches}
            st.session_state[MATCH_PICKER] = node_id if node_id in labels else None  # the selected node, if it matches
            st.selectbox(
                f"{match_count:,} matching nodes" + (f" (first {len(matches)})" if match_count > len(matches) else ""),
                list(labels), index=None, format_func=labels.__getitem__, key=MATCH_PICKER, placeholder="jump to a match",
                on_change=select_picked, args=(MATCH_PICKER,),
            )
            here = view.position[node_id]
            earlier = [i for i in matched if view.position[i] < here]
            later = [i for i in matched if view.position[i] > here]
            st.button("◀", help="Previous match", disabled=not earlier, on_click=select_node,
                      args=(earlier[-1] if earlier else None,), width="content")
            st.button("▶", help="Next match", disabled=not later, on_click=select_node,
                      args=(later[0] if later else None,), width="content")

    tree_col, node_col = st.columns([11, 9], gap="medium")
    with tree_col:
        trace_tree(view, node_id, key=f"tree:{trace_id}", on_select=select_node, matched=matched, height=TREE_HEIGHT)
    with node_col, st.container(height=TREE_HEIGHT + 44, border=False):  # as tall as the tree; the tabs follow
        inspector(view, node_id)

    around_tab, overview_tab, timeline_tab, stats_tab = st.tabs(TABS, key="trace_tab", bind="query-params")
    with around_tab:
        if around_tab.open:
            around(trace_id, node_id, query)
    with overview_tab:
        if overview_tab.open:
            overview(trace_id)
    with timeline_tab:
        if timeline_tab.open:
            timeline(trace_id, node_id)
    with stats_tab:
        if stats_tab.open:
            statistics(trace_id)


# ------------------------------------------------------------------ the tabs


@ui.fragment
def around(trace_id: str, node_id: str, query: str) -> None:
    view = ui.trace_view(trace_id)
    depth = st.segmented_control("Levels below the selected node", [1, 2, 3], default=1, key="around_depth") or 1
    window = neighbourhood(view, node_id, depth=depth)
    matched = {m.node_id for m in search_trace(view, query)[0]} if query.strip() else set()
    # Drawn at its own size (width "content"): stretched to the column, a wide picture's text shrank to 5-9 px.
    st.graphviz_chart(
        tree_dot(view, window, node_id, highlighted=matched, annotation_counts=ui.annotation_counts(trace_id)),
        width="content",
    )
    drawn = sum(1 for e in window if e.is_node)
    st.caption(
        f"{drawn:,} nodes around the selection (its parent, nearby siblings, its children); the tree lists them all. "
        "Shapes: " + ", ".join(f"{kind} {shape}" for kind, (shape, _) in KIND_STYLE.items())
        + ". Blue border: selected; red: failed; yellow: search match."
    )


@ui.fragment
def overview(trace_id: str) -> None:
    if st.session_state.pop(PICKED_IN_OVERVIEW, False):
        st.rerun()  # the node clicked here is the explorer's new selection: the tree and inspector follow it
    view = ui.trace_view(trace_id)
    size_col, colour_col = st.columns(2)
    size_by = size_col.segmented_control("Size by", MEASURES, default="tokens", key="size_by") or "tokens"
    colour_by = colour_col.segmented_control("Colour by", ["kind", "status"], default="kind", key="colour_by") or "kind"
    drawn = ui.overview(view, size_by, colour_by)
    st.session_state[SEGMENTS] = drawn.segment_nodes  # for a click on this chart, in the next run
    chart = f"overview:{trace_id}"
    st.plotly_chart(
        drawn.figure, key=chart, on_select=partial(select_clicked_segment, chart), selection_mode="points",
        config={"displaylogo": False},
    )
    st.caption(
        "Click a segment to select that node (clicking also zooms in; click the top bar to zoom out)."
        + (f" {drawn.note.capitalize()}." if drawn.note else "")
    )


@ui.fragment
def timeline(trace_id: str, node_id: str) -> None:
    view = ui.trace_view(trace_id)
    figure = timeline_figure(view, node_id)
    if figure is None:
        st.info("No call under the selected node records its start time.")
    else:
        st.caption(f"Calls under the selected node, in tree order (at most {TIMELINE_CALLS}).")
        st.plotly_chart(figure, key="timeline", config={"displaylogo": False})


@ui.fragment
def statistics(trace_id: str) -> None:
    view = ui.trace_view(trace_id)
    stats = ui.stats(view)
    with st.container(horizontal=True, gap="large"):
        st.metric("Leaves", short_number(stats.leaves), help=f"{stats.leaves:,} nodes without children", width="content")
        st.metric("Mean branching", f"{stats.mean_branching:.2f}", help="Children per node that has children", width="content")
        st.metric("Most children", f"{stats.max_branching:,}", help="Children of the widest node", width="content")
        if stats.started and stats.ended:
            st.metric("Wall time", duration_text((stats.ended - stats.started).total_seconds()), width="content")
    st.caption(f"Depth-limit hits: {stats.depth_limit_hits:,}, counted as {stats.depth_limit_rule}.")
    kinds_col, levels_col = st.columns(2)
    kinds_col.caption("Nodes per kind")
    kinds_col.bar_chart(pd.Series(stats.nodes_per_kind, name="nodes"), horizontal=True, height=220)
    levels_col.caption("Tokens per level (0 is the root)")
    levels_col.bar_chart(pd.Series(stats.tokens_per_level, name="tokens"), height=220)
    if stats.failed:
        st.caption("Failed calls")
        st.dataframe(
            pd.DataFrame(
                {
                    "node": stats.failed,
                    "kind": [view.nodes[i].kind for i in stats.failed],
                    "sub-problem": [view.label(i, 120) for i in stats.failed],
                    "error": [shorten(view.nodes[i].error or "", 200) for i in stats.failed],
                }
            ),
            hide_index=True,
            width="stretch",
        )


# ---------------------------------------------------------------- inspector


def inspector(view: TraceView, node_id: str) -> None:
    node = view.nodes[node_id]
    st.subheader("Node")
    ancestors = view.tree.ancestors(node_id)
    if ancestors:
        path = [view.label(a, 30) for a in ancestors[-3:]]
        st.caption(ui.plain(("… › " if len(ancestors) > 3 else "") + " › ".join(path)))
    st.code(node_id, language=None, wrap_lines=True)

    parent = view.tree.parent[node_id]
    previous, following = view.neighbour(node_id, -1), view.neighbour(node_id, 1)
    with st.container(horizontal=True, gap="small"):  # buttons as wide as their words: never "◀ P..."
        st.button("Root", on_click=select_node, args=(view.root,), disabled=node_id == view.root, width="content")
        st.button("Parent", on_click=select_node, args=(parent,), disabled=parent is None, width="content")
        st.button("◀ Prev", on_click=select_node, args=(previous,), disabled=previous is None, width="content",
                  help="Previous sibling")
        st.button("Next ▶", on_click=select_node, args=(following,), disabled=following is None, width="content",
                  help="Next sibling")

    children = view.children(node_id)
    if children:
        labels = {i: f"{view.nodes[i].kind} · {view.label(i, 90)}" for i in children[:1000]}
        st.session_state[CHILD_PICKER] = None  # a place to go from here, never where the person already is
        st.selectbox(
            f"Go to one of {len(children):,} children" + (" (the first 1,000; search finds the rest)" if len(children) > 1000 else ""),
            list(labels), index=None, placeholder="pick a child", key=CHILD_PICKER, format_func=labels.__getitem__,
            on_change=select_picked, args=(CHILD_PICKER,),
        )

    facts = {
        "kind": node.kind,
        "status": node.status,
        "model": shorten(node.model, 100) if node.model else "—",
        "tokens in / out": f"{node.tokens_in or 0:,} / {node.tokens_out or 0:,}",
        "cost": "—" if node.cost is None else f"${node.cost:,.6f}",
        "subtree": f"{view.subtree_size[node_id]:,} nodes",
    }
    if node.start_time:
        facts["started"] = f"{node.start_time:%Y-%m-%d %H:%M:%S.%f}"[:-3]
    if node.start_time and node.end_time:
        facts["duration"] = duration_text((node.end_time - node.start_time).total_seconds())
    st.dataframe(pd.DataFrame({"": list(facts), "value": list(facts.values())}), hide_index=True, width="stretch")

    if node.status == "error" or node.error:
        st.error("This call failed.", icon=":material/error:")
        ui.show_text("Error", node.error, file_name=f"{node_id}-error.txt")
    ui.show_text("Sub-problem", node.subproblem or node.name, height=200, file_name=f"{node_id}-subproblem.txt")
    comments(view.trace.id, node_id)
    size = [f"{len(node.context or ''):,} characters recorded"]
    if node.context_chars is not None:
        size.append(f"{node.context_chars:,} characters in full")
    if node.context_tokens is not None:
        size.append(f"{node.context_tokens:,} tokens")
    ui.show_text(f"Context carried forward ({', '.join(size)})", node.context, height=300, file_name=f"{node_id}-context.txt")
    ui.show_text("Output", node.output, height=300, file_name=f"{node_id}-output.txt")
    if node.aggregation or node.kind == "aggregate":
        ui.show_text("Aggregation rule", node.aggregation, file_name=f"{node_id}-aggregation.txt")

    def raw_json() -> str:
        return json.dumps(node.model_dump(mode="json"), indent=2, ensure_ascii=False)

    with st.expander("Raw JSON"):
        ui.show_text("The node as Trellis JSON", raw_json(), language="json", height=400, file_name=f"{node_id}.json", full=raw_json)


@ui.fragment
def comments(trace_id: str, node_id: str) -> None:
    """Reviewers' comments on this node, as plain text, and a box to add one (reviewers and above)."""
    notes = ui.store().list_comments(trace_id, node_id)
    st.caption(f"Comments ({len(notes)})" if notes else "Comments")
    for note in notes:
        with st.container(border=True):
            st.caption(ui.plain(f"{note.author} · {note.created_at:%Y-%m-%d %H:%M}"))
            st.text(note.body)  # st.text: never Markdown, never HTML
    if not ui.actor().can(Action.REVIEW):
        st.caption("Reviewers and above can add a comment here.")
        return
    key = f"comment:{trace_id}:{node_id}"
    st.text_area("Add a comment on this node", key=key, max_chars=MAX_COMMENT_CHARS, height=80,
                 placeholder="what a reviewer noticed here", label_visibility="collapsed")
    st.button("Add comment", on_click=add_comment, args=(trace_id, node_id, key), key=f"{key}:add")
    if error := st.session_state.pop(f"{key}:error", None):
        st.error(ui.plain(error))


if __name__ == "__main__":  # run as a script, as every module here may be: see pages/__init__.py
    pages.run()
