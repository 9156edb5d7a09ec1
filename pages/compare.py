"""Compare: two traces of one task side by side, their trees aligned (?left=ID&right=ID&focus=NODE).

The address is the one source of truth for what is compared: the pickers write it in their callbacks and are set
from it on every run, so a link, a reload and any order of changes show the same thing. The centring picker's
options are node ids of one pair of traces, and its key names that pair: a value left over from another pair
(its option labels came from other trees) is never read against this one.
"""

import pandas as pd
import streamlit as st

import pages
from core.align import shared_rows
from core.critique.teacher import default_reference
from core.dot import tree_dot
from core.explore import compare, teacher_student_pairs, tree_window
from core.models import LoadedTrace, TraceSummary
from core.text import shorten
from pages import ui

LEFT_ONLY, RIGHT_ONLY = "only left", "only right"
INDENT = "\u2003"  # an em space per level: the table keeps leading spaces of this kind


# Widget callbacks are module functions given plain ids (see pages/ui.py).
def pick(side: str) -> None:
    st.query_params[side] = st.session_state[f"pick_{side}"]
    st.query_params.pop("focus", None)
    if side == "left":  # the right follows: the page picks the counterpart of the new left (see counterpart)
        st.query_params.pop("right", None)


def focus_on(key: str) -> None:
    """Centre both trees on the matched pair picked, named in the address by its left node."""
    st.query_params["focus"] = st.session_state[key]


def counterpart(store, left: TraceSummary, summaries: dict[str, TraceSummary]) -> str | None:
    """The trace a left trace is compared with by default: for a student, the teacher of the same task class (as
    the critic picks it); for a teacher, the student of its class that teacher_student_pairs pairs with it."""
    if left.role == "teacher":
        student_of_class = {summaries[t].task_class: s for t, s in teacher_student_pairs(list(summaries.values()))}
        return student_of_class.get(left.task_class) if left.task_class else None
    # default_reference reads only the trace's own fields (task, class), so the nodes are not loaded for it.
    return default_reference(store, LoadedTrace(trace=store.get_trace(left.id), nodes=[]))


def page() -> None:
    store = ui.store()
    summaries = {s.id: s for s in store.list_traces()}
    st.title("Compare")
    if len(summaries) < 2:
        st.info("Comparing needs two traces in the library; import some on the Library page.")
        st.stop()

    def wanted(side: str) -> str | None:
        trace_id = st.query_params.get(side)
        return trace_id if trace_id in summaries else None

    pairs = teacher_student_pairs(list(summaries.values()))
    default_left, default_right = pairs[0] if pairs else list(summaries)[:2]
    left_id = wanted("left") or default_left
    # After a new left, the right is its counterpart, else the trace the right picker showed before.
    shown_right = st.session_state.get("pick_right")
    right_id = (wanted("right") or counterpart(store, summaries[left_id], summaries)
                or (shown_right if shown_right in summaries else default_right))
    st.query_params.update(left=left_id, right=right_id)

    # Role and size first: they tell two runs of one task apart when a narrow picker cuts the title.
    labels = {i: f"{s.role} · {s.node_count:,} nodes · {shorten(s.title or s.id, 120)}" for i, s in summaries.items()}
    ids = list(labels)
    st.session_state.pick_left, st.session_state.pick_right = left_id, right_id
    pick_left, pick_right = st.columns(2)
    pick_left.selectbox("Left (usually the teacher)", ids, format_func=labels.get, key="pick_left",
                        on_change=pick, args=("left",))
    pick_right.selectbox("Right (usually the student)", ids, format_func=labels.get, key="pick_right",
                         on_change=pick, args=("right",))

    left_class, right_class = summaries[left_id].task_class, summaries[right_id].task_class
    if left_class != right_class:
        st.warning(
            ui.plain(f"These traces are of different task classes ({left_class or 'none'} on the left, "
                     f"{right_class or 'none'} on the right): their sub-problems rarely correspond, so most nodes "
                     "will show as unmatched. Pick a trace of the same class on the right to compare like with like."),
            icon=":material/warning:",
        )

    left, right = ui.trace_view(left_id), ui.trace_view(right_id)
    alignment = ui.alignment(left, right)
    comparison = compare(left, right, alignment)

    # Three metrics a row: six in one row cut their numbers ("10...") at 1024 px.
    counts, totals = st.columns(3), st.columns(3)
    counts[0].metric("Matched sub-problems", f"{len(comparison.pairs):,}")
    counts[1].metric("Only on the left", f"{len(comparison.left_only):,}")
    counts[2].metric("Only on the right", f"{len(comparison.right_only):,}")
    totals[0].metric("Depth shifts", f"{comparison.depth_shifts:,}", help="Matched pairs at different depths")
    totals[1].metric("Tokens, right", f"{comparison.tokens[1]:,}",
                     delta=f"{comparison.tokens[1] - comparison.tokens[0]:+,} vs left", delta_color="off")
    if None not in comparison.cost:
        totals[2].metric("Cost, right", f"${comparison.cost[1]:,.4f}",
                         delta=f"{comparison.cost[1] - comparison.cost[0]:+,.4f} vs left", delta_color="off")

    # ---------------------------------------------------------------- both trees, row by row

    pair_of = {p.left: p for p in comparison.pairs}
    st.subheader("Side by side")
    st.caption("Both trees row by row: each matched pair in one row, and a node found on one side only in a row of its "
               "own, where it sits in its tree.")
    rows = shared_rows(alignment, left.preorder, right.preorder)
    matched = [pair_of[r.left] if r.left and r.right else None for r in rows]

    def indented(view, node_id: str | None) -> str:
        return INDENT * view.tree.depth[node_id] + view.label(node_id, 200) if node_id else ""

    def of_pairs(measure: str, dtype: str | None = None) -> pd.Series:
        """A measure of each row's matched pair, none on a row of one side only (Int64: whole numbers with gaps)."""
        return pd.Series([getattr(p, measure) if p else None for p in matched], dtype=dtype)

    st.dataframe(
        pd.DataFrame({
            # The pair's number, as the pictures below tag it, or which side the node is on.
            "match": [f"#{p.number}" if p else LEFT_ONLY if r.left else RIGHT_ONLY
                      for r, p in zip(rows, matched, strict=True)],
            "left sub-problem": [indented(left, r.left) for r in rows],
            "right sub-problem": [indented(right, r.right) for r in rows],
            "similarity": of_pairs("score"),
            "depth shift": of_pairs("depth_shift", "Int64"),
            "token change": of_pairs("token_change", "Int64"),
            "cost change $": of_pairs("cost_change"),
        }),
        hide_index=True,
        width="stretch",
        key=f"rows:{left_id}:{right_id}",
        # The match and both sub-problems fit at 1024 px; the measures follow.
        column_config={
            "match": st.column_config.TextColumn(width=84),
            "left sub-problem": st.column_config.TextColumn(width=236),
            "right sub-problem": st.column_config.TextColumn(width=236),
            "similarity": st.column_config.ProgressColumn(min_value=0, max_value=1, format="%.2f"),
        },
    )

    # -------------------------------------------------------- the trees around a matched pair

    st.subheader("Both trees around a matched pair")
    focus_pair = pair_of.get(st.query_params.get("focus"), comparison.pairs[0])
    focus_labels = {p.left: f"#{p.number} · {left.label(p.left, 90)}" for p in comparison.pairs}
    focus_key = f"focus:{left_id}:{right_id}"
    st.session_state[focus_key] = focus_pair.left
    st.selectbox("Centre both trees on a matched pair", list(focus_labels), format_func=focus_labels.get,
                 key=focus_key, on_change=focus_on, args=(focus_key,))
    # One level by default: deeper pictures are too wide to read at 1024 px.
    depth = st.slider("Levels shown below it", 0, 4, 1, key="compare_depth")
    left_only, right_only = set(comparison.left_only), set(comparison.right_only)
    left_tags = {p.left: f"#{p.number}" for p in comparison.pairs}
    right_tags = {p.right: f"#{p.number}" for p in comparison.pairs}

    # One tree above the other, each drawn at its own size up to the page's width: two half-width pictures shrank
    # graphviz's text to 5-9 px. The table above is the side-by-side view.
    for side, view, focus_id, tags, unmatched in (
        ("left", left, focus_pair.left, left_tags, left_only),
        ("right", right, focus_pair.right, right_tags, right_only),
    ):
        window = tree_window(view, focus_id, depth=depth, budget=150)
        st.caption(ui.plain(f"{side.capitalize()}: {shorten(view.trace.title or view.trace.id, 200)}"))
        st.graphviz_chart(tree_dot(view, window, focus_id, tags=tags, outlined=unmatched), width="content")
        st.page_link(pages.page("trace"), label=f"Open the {side} trace at this node", icon=":material/account_tree:",
                     query_params={"trace": view.trace.id, "node": focus_id})
    st.caption("Matched nodes carry the same #number in both trees; a dashed red border marks a node with no "
               "counterpart.")


if __name__ == "__main__":  # run as a script, as every module here may be: see pages/__init__.py
    pages.run()
