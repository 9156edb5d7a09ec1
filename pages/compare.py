"""Compare: two traces of one task side by side, their trees aligned (?left=ID&right=ID&focus=NODE)."""

import pandas as pd
import streamlit as st

import pages
from core.dot import tree_dot
from core.explore import compare, teacher_student_pairs, tree_window
from core.text import shorten
from pages import ui


# Widget callbacks are module functions given plain ids (see pages/ui.py).
def pick(side: str) -> None:
    st.query_params[side] = st.session_state[f"pick_{side}"]
    st.query_params.pop("focus", None)


def focus_on(left_nodes: dict[int, str]) -> None:
    """Centre both trees on the matched pair picked, named in the address by its left node."""
    st.query_params["focus"] = left_nodes[st.session_state.focus_pair]


def page() -> None:
    store = ui.store()
    summaries = {s.id: s for s in store.list_traces()}
    st.title("Compare")
    if len(summaries) < 2:
        st.info("Comparing needs two traces in the library; import some on the Library page.")
        st.stop()

    pairs = teacher_student_pairs(list(summaries.values()))
    default_left, default_right = pairs[0] if pairs else list(summaries)[:2]
    left_id = st.query_params.get("left") if st.query_params.get("left") in summaries else default_left
    right_id = st.query_params.get("right") if st.query_params.get("right") in summaries else default_right

    labels = {i: f"{shorten(s.title or s.id, 120)} · {s.role} · {s.node_count:,} nodes" for i, s in summaries.items()}
    ids = list(labels)
    pick_left, pick_right = st.columns(2)
    pick_left.selectbox("Left (usually the teacher)", ids, index=ids.index(left_id), format_func=labels.__getitem__, key="pick_left", on_change=pick, args=("left",))
    pick_right.selectbox("Right (usually the student)", ids, index=ids.index(right_id), format_func=labels.__getitem__, key="pick_right", on_change=pick, args=("right",))

    left, right = ui.trace_view(left_id), ui.trace_view(right_id)
    alignment = ui.alignment(left, right)
    comparison = compare(left, right, alignment)

    columns = st.columns(6)
    columns[0].metric("Matched sub-problems", f"{len(comparison.pairs):,}")
    columns[1].metric("Only on the left", f"{len(comparison.left_only):,}")
    columns[2].metric("Only on the right", f"{len(comparison.right_only):,}")
    columns[3].metric("Depth shifts", f"{comparison.depth_shifts:,}", help="Matched pairs at different depths")
    columns[4].metric("Tokens, right", f"{comparison.tokens[1]:,}", delta=f"{comparison.tokens[1] - comparison.tokens[0]:+,} vs left", delta_color="off")
    if None not in comparison.cost:
        columns[5].metric("Cost, right", f"${comparison.cost[1]:,.4f}", delta=f"{comparison.cost[1] - comparison.cost[0]:+,.4f} vs left", delta_color="off")

    # -------------------------------------------------------- aligned trees

    number_of = {p.left: p.number for p in comparison.pairs}
    pair_by_number = {p.number: p for p in comparison.pairs}
    focus = st.query_params.get("focus")
    focus_pair = pair_by_number[number_of[focus]] if focus in number_of else comparison.pairs[0]
    focus_labels = {p.number: f"#{p.number} · {left.label(p.left, 90)}" for p in comparison.pairs}
    st.selectbox(
        "Centre both trees on a matched pair", list(focus_labels), index=focus_pair.number - 1,
        format_func=focus_labels.__getitem__, key="focus_pair", on_change=focus_on,
        args=({p.number: p.left for p in comparison.pairs},),
    )
    depth = st.slider("Levels shown below it", 0, 4, 2, key="compare_depth")
    left_only, right_only = set(comparison.left_only), set(comparison.right_only)
    left_tags = {p.left: f"#{p.number}" for p in comparison.pairs}
    right_tags = {p.right: f"#{p.number}" for p in comparison.pairs}

    left_col, right_col = st.columns(2)
    for column, view, focus_id, tags, unmatched in (
        (left_col, left, focus_pair.left, left_tags, left_only),
        (right_col, right, focus_pair.right, right_tags, right_only),
    ):
        window = tree_window(view, focus_id, depth=depth, budget=150)
        column.caption(ui.plain(shorten(view.trace.title or view.trace.id, 200)))
        column.graphviz_chart(tree_dot(view, window, focus_id, tags=tags, outlined=unmatched), width="stretch")
        column.page_link(pages.page("trace"), label="Open in the trace explorer", icon=":material/account_tree:",
                         query_params={"trace": view.trace.id, "node": focus_id})
    st.caption("Matched nodes carry the same #number on both sides; a dashed red border marks a node with no counterpart.")

    # ---------------------------------------------------------------- tables

    matched_tab, left_tab, right_tab = st.tabs(
        [f"Matched ({len(comparison.pairs):,})", f"Only left ({len(left_only):,})", f"Only right ({len(right_only):,})"]
    )
    with matched_tab:
        st.dataframe(
            pd.DataFrame(
                {
                    "#": [p.number for p in comparison.pairs],
                    "left sub-problem": [left.label(p.left, 200) for p in comparison.pairs],
                    "right sub-problem": [right.label(p.right, 200) for p in comparison.pairs],
                    "similarity": [p.score for p in comparison.pairs],
                    "left depth": [left.tree.depth[p.left] for p in comparison.pairs],
                    "depth shift": [p.depth_shift for p in comparison.pairs],
                    "token change": [p.token_change for p in comparison.pairs],
                    "cost change $": [p.cost_change for p in comparison.pairs],
                }
            ),
            hide_index=True,
            width="stretch",
            column_config={"similarity": st.column_config.ProgressColumn(min_value=0, max_value=1, format="%.2f")},
        )
    for tab, view, only in ((left_tab, left, comparison.left_only), (right_tab, right, comparison.right_only)):
        with tab:
            st.dataframe(
                pd.DataFrame(
                    {
                        "node": only,
                        "kind": [view.nodes[i].kind for i in only],
                        "depth": [view.tree.depth[i] for i in only],
                        "sub-problem": [view.label(i, 200) for i in only],
                        "tokens": [view.nodes[i].tokens for i in only],
                    }
                ),
                hide_index=True,
                width="stretch",
            )


if __name__ == "__main__":  # run as a script, as every module here may be: see pages/__init__.py
    pages.run()
