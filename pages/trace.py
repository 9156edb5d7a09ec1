"""Trace: the decomposition tree around a selected node, an overview, a timeline, stats and a node inspector.

The address holds the view (?trace=ID&node=ID), so it can be shared.
"""

import json
from functools import partial

import pandas as pd
import streamlit as st

import pages
from core.dot import KIND_STYLE, tree_dot
from core.explore import tree_window
from core.figures import TIMELINE_CALLS, timeline_figure
from core.search import search_trace
from core.text import short_number, shorten
from core.traceview import MEASURES
from pages import ui

# Widget callbacks are module functions given plain ids (see pages/ui.py). The pickers keep one key each,
# whatever the trace or node: Streamlit keeps a widget's options and labels for the whole session, so a key
# per node would keep a list of labels for every node a person has visited.
CHILD_PICKER, MATCH_PICKER = "child_picker", "match_picker"
SEGMENTS = "overview_segments"  # the node of each segment of the overview last drawn


def select_node(node_id: str | None) -> None:
    if node_id:
        st.query_params["node"] = node_id


def select_picked(key: str) -> None:
    select_node(st.session_state[key])


def select_trace() -> None:
    st.query_params.clear()
    st.query_params["trace"] = st.session_state.trace_picker


def select_clicked_segment(key: str) -> None:
    points = st.session_state[key]["selection"]["points"]
    if points and "id" in points[0]:
        select_node(st.session_state[SEGMENTS][int(points[0]["id"])])


def show_below(trace_id: str, node_id: str, shown: bool) -> None:
    """Expand (shown) or collapse a node's subtree in the tree drawing."""
    expanded, collapsed = st.session_state[f"expanded:{trace_id}"], st.session_state[f"collapsed:{trace_id}"]
    (expanded if shown else collapsed).add(node_id)
    (collapsed if shown else expanded).discard(node_id)


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

    view = ui.trace_view(trace_id)
    stats = ui.stats(view)
    node_id = st.query_params.get("node")
    if node_id not in view.nodes:
        if node_id:
            st.warning(ui.plain(f"No node {node_id!r} in this trace; showing the root."))
        node_id = view.root
    node = view.nodes[node_id]
    expanded = st.session_state.setdefault(f"expanded:{trace_id}", set())
    collapsed = st.session_state.setdefault(f"collapsed:{trace_id}", set())

    # ------------------------------------------------------------------ header

    trace = view.trace
    st.title(ui.plain(shorten(trace.title or trace.id, 200)))
    st.caption(ui.plain(" · ".join(shorten(str(v), 100) for v in (trace.id, trace.role, trace.agent, trace.task_class, trace.source_format) if v)))
    columns = st.columns(6)
    columns[0].metric("Nodes", short_number(stats.nodes), help=f"{stats.nodes:,} nodes")
    columns[1].metric("Depth", stats.depth)
    columns[2].metric("Tokens", short_number(stats.tokens), help=f"{stats.tokens:,} tokens in and out")
    columns[3].metric("Cost", "—" if stats.cost is None else f"${stats.cost:,.{2 if stats.cost >= 1 else 4}f}")
    columns[4].metric("Failed calls", len(stats.failed))
    columns[5].metric("Depth-limit hits", short_number(stats.depth_limit_hits), help=f"{stats.depth_limit_hits:,}: {stats.depth_limit_rule}")

    # ------------------------------------------------------------------ search

    search_col, match_col, previous_col, next_col = st.columns([3, 5, 1, 1], vertical_alignment="bottom")
    query = search_col.text_input("Search this trace", key=f"search:{trace_id}", placeholder="text in any node")
    matches, match_count = search_trace(view, query) if query.strip() else ([], 0)
    matched = {m.node_id for m in matches}
    if query.strip():
        labels = {m.node_id: f"{view.nodes[m.node_id].kind} · {m.field}: {m.snippet}" for m in matches}
        st.session_state[MATCH_PICKER] = node_id if node_id in labels else None  # the selected node, if it matches
        match_col.selectbox(
            f"{match_count:,} matching nodes" + (f" (first {len(matches)})" if match_count > len(matches) else ""),
            list(labels), index=None, format_func=labels.__getitem__, key=MATCH_PICKER, placeholder="jump to a match",
            on_change=select_picked, args=(MATCH_PICKER,),
        )
        order = [m.node_id for m in matches]
        here = view.position[node_id]
        earlier = [i for i in order if view.position[i] < here]
        later = [i for i in order if view.position[i] > here]
        previous_col.button("◀", help="Previous match", disabled=not earlier, on_click=select_node, args=(earlier[-1] if earlier else None,))
        next_col.button("▶", help="Next match", disabled=not later, on_click=select_node, args=(later[0] if later else None,))

    # -------------------------------------------------------------------- views

    left, right = st.columns([3, 2], gap="large")

    with left:
        tree_tab, overview_tab, timeline_tab, stats_tab = st.tabs(["Tree", "Overview", "Timeline", "Statistics"])

    with tree_tab:
        depth = st.slider("Levels shown below the selected node", 0, 5, 2, key="window_depth")
        window = tree_window(view, node_id, depth=depth, expanded=expanded, collapsed=collapsed)
        st.graphviz_chart(
            tree_dot(view, window, node_id, highlighted=matched, annotation_counts=ui.annotation_counts(trace_id)),
            width="stretch",
        )
        drawn = sum(1 for e in window if e.is_node)
        st.caption(
            f"{drawn:,} of {stats.nodes:,} nodes drawn around the selection. Shapes: "
            + ", ".join(f"{kind} {shape}" for kind, (shape, _) in KIND_STYLE.items())
            + ". Blue border: selected; red: failed; yellow: search match."
        )

    with overview_tab:
        size_col, colour_col = st.columns(2)
        size_by = size_col.segmented_control("Size by", MEASURES, default="tokens", key="size_by") or "tokens"
        colour_by = colour_col.segmented_control("Colour by", ["kind", "status"], default="kind", key="colour_by") or "kind"
        overview = ui.overview(view, size_by, colour_by)
        st.session_state[SEGMENTS] = overview.segment_nodes  # for a click on this chart, in the next run
        chart = f"overview:{trace_id}"
        st.plotly_chart(
            overview.figure, key=chart, on_select=partial(select_clicked_segment, chart), selection_mode="points",
            config={"displaylogo": False},
        )
        st.caption(
            "Click a segment to select that node (clicking also zooms in; click the top bar to zoom out)."
            + (f" {overview.note.capitalize()}." if overview.note else "")
        )

    with timeline_tab:
        timeline = timeline_figure(view, node_id)
        if timeline is None:
            st.info("No call under the selected node records its start time.")
        else:
            st.caption(f"Calls under the selected node, in tree order (at most {TIMELINE_CALLS}).")
            st.plotly_chart(timeline, key="timeline", config={"displaylogo": False})

    with stats_tab:
        a, b, c, d = st.columns(4)
        a.metric("Leaves", short_number(stats.leaves), help=f"{stats.leaves:,} nodes without children")
        b.metric("Mean branching", f"{stats.mean_branching:.2f}", help="Children per node that has children")
        c.metric("Most children", f"{stats.max_branching:,}", help="Children of the widest node")
        if stats.started and stats.ended:
            d.metric("Wall time", f"{(stats.ended - stats.started).total_seconds():,.1f} s")
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

    with right:
        st.subheader("Node")
        ancestors = view.tree.ancestors(node_id)
        if ancestors:
            path = [view.label(a, 30) for a in ancestors[-3:]]
            st.caption(ui.plain(("… › " if len(ancestors) > 3 else "") + " › ".join(path)))
        st.code(node_id, language=None, wrap_lines=True)

        parent = view.tree.parent[node_id]
        previous, following = view.neighbour(node_id, -1), view.neighbour(node_id, 1)
        nav = st.columns(4)
        nav[0].button("Root", on_click=select_node, args=(view.root,), disabled=node_id == view.root, width="stretch")
        nav[1].button("Parent", on_click=select_node, args=(parent,), disabled=parent is None, width="stretch")
        nav[2].button("◀ Prev", on_click=select_node, args=(previous,), disabled=previous is None, width="stretch", help="Previous sibling")
        nav[3].button("Next ▶", on_click=select_node, args=(following,), disabled=following is None, width="stretch", help="Next sibling")

        children = view.children(node_id)
        if children:
            labels = {i: f"{view.nodes[i].kind} · {view.label(i, 90)}" for i in children[:1000]}
            st.session_state[CHILD_PICKER] = None  # a place to go from here, never where the person already is
            st.selectbox(
                f"Go to one of {len(children):,} children" + (" (the first 1,000; search finds the rest)" if len(children) > 1000 else ""),
                list(labels), index=None, placeholder="pick a child", key=CHILD_PICKER, format_func=labels.__getitem__,
                on_change=select_picked, args=(CHILD_PICKER,),
            )
            shown_below = node_id in expanded or (node_id not in collapsed and depth > 0)
            if shown_below:
                st.button("Collapse this subtree in the tree", on_click=show_below, args=(trace_id, node_id, False))
            else:
                st.button("Expand its children in the tree", on_click=show_below, args=(trace_id, node_id, True))

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
            facts["duration"] = f"{(node.end_time - node.start_time).total_seconds():,.3f} s"
        st.dataframe(pd.DataFrame({"": list(facts), "value": list(facts.values())}), hide_index=True, width="stretch")

        if node.status == "error" or node.error:
            st.error("This call failed.", icon=":material/error:")
            ui.show_text("Error", node.error, file_name=f"{node_id}-error.txt")
        ui.show_text("Sub-problem", node.subproblem or node.name, height=200, file_name=f"{node_id}-subproblem.txt")
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


if __name__ == "__main__":  # run as a script, as every module here may be: see pages/__init__.py
    pages.run()
