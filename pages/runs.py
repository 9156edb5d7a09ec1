"""Runs: a student model carries out a task set, with an approved scaffold or without; each run opens as a trace."""

import pandas as pd
import streamlit as st

import pages
from core.auth import Action
from core.errors import TrellisError
from core.runs.batch import BatchSettings, batch_name, run_batch
from core.tasks.load import load_task_files
from core.text import shorten
from pages import ui

NONE, AUTO = "none", "auto"
RUNNING_BATCH = "running-batch"  # the session_state key of the ui.RunningWork of a batch under way


def page() -> None:
    store = ui.store()
    who = ui.actor()
    st.title("Runs")
    st.caption("A student model carries out every task of a set, following an approved scaffold or none; "
               "each answer is scored by the task's checker, and each run is a trace you can open.")

    folder, files = ui.task_sets()
    students = ui.students()

    with st.form("new-run"):
        st.subheader("New batch")
        chosen = st.selectbox("Task set", list(files), help=f"The task files in {folder.name}/ on the server.")
        student = st.selectbox("Student model", list(students),
                               help="The models this server's operator configured (see docs/models.md).")
        scaffold_labels = {NONE: "none: the student decomposes on its own", AUTO: "auto: the best approved scaffold per task"}
        scaffold_labels |= {s.scaffold_id: f"{shorten(s.title, 120)} · v{s.approved_version}"
                            for s in store.list_scaffolds(status="approved")}
        scaffold = st.selectbox("Scaffold", list(scaffold_labels), format_func=scaffold_labels.__getitem__)
        columns = st.columns(3)
        limit = columns[0].number_input("Tasks (first N of the set)", 1, 1000, 3)
        repeats = columns[1].number_input("Repeats", 1, 20, 1)
        seed = columns[2].number_input("Seed", 0, 2**31 - 1, 0)
        allowed = who.can(Action.RUN) and bool(files) and bool(students)
        start = st.form_submit_button("Start", type="primary", disabled=not allowed,
                                      help=None if who.can(Action.RUN) else "Reviewers and above start runs.")
        st.caption("Each finished run is stored at once: stop the page at any time, and start the same batch "
                   "again to resume it where it stopped.")
    if not files:
        st.info(f"No task files in {folder.name}/ on the server.")
    if not students:
        st.info("No student model is configured: the operator lists models in trellis-models.toml (docs/models.md).")

    if stopped := ui.cancelled(RUNNING_BATCH, lambda batch: len(store.list_runs(batch_id=batch))):
        work, kept = stopped
        st.warning(f"Cancelled batch {work.name}: {kept} of {work.runs} runs finished and kept. "
                   "Start the same batch again to resume it.")
        st.session_state["batch"] = work.name

    if start:
        ui.provider_keys_from_secrets()
        try:
            [task_file] = load_task_files([files[chosen]])
        except TrellisError as exc:
            st.error(ui.plain(str(exc)))
            st.stop()
        settings = BatchSettings(student=student, scaffold=scaffold, repeats=int(repeats), seed=int(seed),
                                 limit=int(limit))
        tasks = len(task_file.tasks[: settings.limit])
        work = ui.RunningWork(batch_name([task_file], settings), runs=tasks * settings.repeats)
        with ui.running(RUNNING_BATCH, work, f"Running {tasks} tasks with {student}…") as status:
            try:
                result = run_batch(store, [task_file], students[student], settings, actor=who, progress=st.write)
            except TrellisError as exc:
                status.update(label="The batch could not run", state="error")
                st.error(ui.plain(str(exc)))
            else:
                failed = sum(r.status == "failed" for r in result.runs)
                status.update(label=f"Batch {result.batch_id}: {len(result.runs)} runs, {failed} failed"
                              + (f", {result.skipped} already done" if result.skipped else ""),
                              state="error" if failed else "complete", expanded=False)
                st.session_state["batch"] = result.batch_id

    # ------------------------------------------------------------------ the runs

    runs = store.list_runs()
    if not runs:
        st.info("No runs yet: start a batch above.")
        return
    batches = sorted({r.batch_id for r in runs}, key=lambda b: max(r.started_at for r in runs if r.batch_id == b),
                     reverse=True)
    shown_batch = st.selectbox("Batch", batches, index=batches.index(st.session_state.get("batch", batches[0]))
                               if st.session_state.get("batch") in batches else 0)
    shown = [r for r in runs if r.batch_id == shown_batch]
    scored = [r.score for r in shown if r.score is not None]
    metrics = st.columns(4)
    metrics[0].metric("Runs", len(shown))
    metrics[1].metric("Mean score", f"{sum(scored) / len(scored):.2f}" if scored else "—")
    metrics[2].metric("Fell back", sum(r.fell_back for r in shown))
    metrics[3].metric("Failed", sum(r.status == "failed" for r in shown))
    table = pd.DataFrame({
        "open": [pages.url("trace", trace=r.id) for r in shown],
        "task": [r.task_id for r in shown],
        "student": [r.student for r in shown],
        "scaffold": [r.followed for r in shown],
        "status": [r.status for r in shown],
        "score": [r.score for r in shown],
        "why": [r.outcome for r in shown],
        "calls": [r.calls for r in shown],
        "tokens": [r.tokens_in + r.tokens_out for r in shown],
        "seconds": [r.seconds for r in shown],
    })
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "open": st.column_config.LinkColumn("open", display_text="open trace ↗", width="small"),
        "score": st.column_config.NumberColumn(format="%.2f"),
    })


if __name__ == "__main__":  # run as a script, as every module here may be: see pages/__init__.py
    pages.run()
