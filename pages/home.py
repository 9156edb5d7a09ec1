"""Home: what Trellis is, how big the library is, and a guided demo of the three transfer modes."""

import streamlit as st

import pages
from core.explore import teacher_student_pairs
from core.text import shorten
from pages import ui


def page() -> None:
    st.title("Trellis")
    st.markdown(
        "Recursive agents solve a task by splitting it into sub-problems, recursing into each with a slice of "
        "context, and combining the results; every run leaves a tree of those decisions. "
        "Trellis imports these recursive traces, draws the tree, and lines up a teacher's run against a student's. "
        "The point is transfer: a strong model's way of breaking a problem apart can be taught to a weaker one "
        "as a strategy, a critique or a scaffold, without sharing weights or data."
    )

    summaries = ui.store().list_traces()
    nodes = sum(s.node_count for s in summaries)
    roles = {role: sum(1 for s in summaries if s.role == role) for role in ("teacher", "student")}
    columns = st.columns(4)
    columns[0].metric("Traces", f"{len(summaries):,}")
    columns[1].metric("Nodes", f"{nodes:,}")
    columns[2].metric("Teacher traces", roles["teacher"])
    columns[3].metric("Student traces", roles["student"])
    st.page_link(pages.page("library"), label="Browse, search and import traces in the Library", icon=":material/table_rows:")

    st.header("A guided demo")
    pairs = teacher_student_pairs(summaries)
    if not pairs:
        st.info(
            "The demo needs a teacher and a student trace of the same task class. "
            "Import the sample traces (`trellis import sample_traces`) or your own on the Library page."
        )
        st.stop()

    titles = {s.id: shorten(s.title or s.id, 120) for s in summaries}
    task_classes = {s.id: s.task_class for s in summaries}
    # The essay's own example, a 70B teacher and an 8B student on a contract, opens the demo when it is there.
    essay_example = next((i for i, (t, _) in enumerate(pairs) if task_classes[t] == "legal-contract-review"), 0)
    pair_index = essay_example
    if len(pairs) > 1:
        labels = [f"{shorten(task_classes[t], 100)}: {titles[t]} vs {titles[s]}" for t, s in pairs]
        pair_index = st.selectbox("Task", range(len(pairs)), index=essay_example, format_func=labels.__getitem__)
    teacher, student = pairs[pair_index]
    st.caption(ui.plain(f"Teacher: {titles[teacher]} · student: {titles[student]} · task class {shorten(task_classes[teacher], 100)}"))

    with st.container(border=True):
        st.subheader("1 · Strategy transfer")
        st.markdown(
            "The teacher hands over *how* it breaks this class of problem apart. Open the teacher's trace: "
            "the first level of the tree is its strategy; the overview shows where its tokens went."
        )
        st.page_link(pages.page("trace"), label="Open the teacher's trace", icon=":material/account_tree:", query_params={"trace": teacher})

    with st.container(border=True):
        st.subheader("2 · Critique transfer")
        st.markdown(
            "The teacher does not solve the task; it reads the student's trace and marks where the decomposition "
            "went wrong. First compare the two trees: sub-problems the student never split off, steps at another "
            "depth, and where the tokens went. Then critique: a teacher (the built-in structural critic, or a model) "
            "annotates the student's trace node by node, and a person accepts, edits or rejects each note."
        )
        st.page_link(pages.page("compare"), label="Compare teacher and student", icon=":material/compare_arrows:", query_params={"left": teacher, "right": student})
        st.page_link(pages.page("critique"), label="Critique the student's trace", icon=":material/rate_review:", query_params={"trace": student})

    with st.container(border=True):
        st.subheader("3 · Scaffold transfer")
        st.markdown(
            "The teacher provides a partial structure, its first level of decomposition and a few anchor results, "
            "and the student fills in the rest. The first level of the teacher's tree is where a scaffold starts; "
            "on the Scaffolds page a person extracts one from a trace, edits it, versions it and approves it "
            "before any agent may reuse it."
        )
        st.page_link(pages.page("trace"), label="See the teacher's first level", icon=":material/account_tree:", query_params={"trace": teacher})
        st.page_link(pages.page("scaffolds"), label="Extract and review scaffolds", icon=":material/schema:")


if __name__ == "__main__":  # run as a script, as every module here may be: see pages/__init__.py
    pages.run()
