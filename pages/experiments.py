"""Experiments: arms (no scaffold, an approved scaffold, a strategy, a reviewed critique) on the same tasks, with
intervals; define, start, watch and compare them here."""

import pandas as pd
import streamlit as st

import pages
from core.auth import Action
from core.errors import TrellisError
from core.experiments import figures
from core.experiments.models import Experiment
from core.experiments.report import ExperimentReport, experiment_report, interval, rows_csv, rows_json
from core.experiments.run import define_experiment, experiment_work, run_experiment
from core.scaffolds.critique import USABLE_REVIEW_STATUSES
from core.tasks.load import load_task_files
from core.text import shorten
from pages import ui

RUNNING_EXPERIMENT = "running-experiment"  # the session_state key of the ui.RunningWork of an experiment under way
SHOWN = "experiment"  # the session_state key of the experiment shown


def page() -> None:
    store = ui.store()
    who = ui.actor()
    st.title("Experiments")
    st.caption("Did the transfer help, by how much, at what cost, and where did it break? Every arm runs the same "
               "tasks with the same seeds, interleaved; intervals are 95% bootstrap intervals over tasks "
               "(docs/metrics.md).")

    folder, files = ui.task_sets()
    students = ui.students()
    arms = arm_choices(store)
    with st.form("new-experiment"):
        st.subheader("New experiment")
        chosen = st.selectbox("Task set", list(files), help=f"The task files in {folder.name}/ on the server.")
        student = st.selectbox("Student model", list(students),
                               help="The models this server's operator configured (see docs/models.md).")
        picked = st.multiselect("Arms (the first is the baseline)", list(arms), default=list(arms)[:2],
                                format_func=arms.__getitem__)
        columns = st.columns(3)
        limit = columns[0].number_input("Tasks (first N of the set)", 1, 1000, 3)
        repeats = columns[1].number_input("Repeats", 1, 20, 3)
        seed = columns[2].number_input("Seed", 0, 2**31 - 1, 0)
        allowed = who.can(Action.RUN) and bool(files) and bool(students)
        start = st.form_submit_button("Start", type="primary", disabled=not allowed,
                                      help=None if who.can(Action.RUN) else "Reviewers and above start experiments.")
        st.caption("Each finished run is stored at once: stop at any time, and start the same experiment again "
                   "to resume it.")
    if not students:
        st.info("No student model is configured: the operator lists models in trellis-models.toml (docs/models.md).")

    if stopped := ui.cancelled(RUNNING_EXPERIMENT, lambda name: len(store.list_runs(experiment_id=name))):
        work, kept = stopped
        st.warning(f"Cancelled experiment {work.name}: {kept} of {work.runs} runs finished and kept. "
                   "Start the same experiment again to resume it.")
        st.session_state[SHOWN] = work.name

    if start:
        ui.provider_keys_from_secrets()
        try:
            task_files = load_task_files([files[chosen]])
            experiment = define_experiment(store, task_files, student, picked, actor=who, repeats=int(repeats),
                                           seed=int(seed), limit=int(limit))
            planned = len(experiment_work(store, experiment, task_files))
        except TrellisError as exc:
            st.error(ui.plain(str(exc)))
            st.stop()
        work = ui.RunningWork(experiment.id, runs=planned)
        with ui.running(RUNNING_EXPERIMENT, work, f"Running experiment {experiment.id}: {planned} runs…") as status:
            try:
                result = run_experiment(store, experiment, task_files, students[student], actor=who,
                                        progress=st.write)
            except TrellisError as exc:
                status.update(label="The experiment could not run", state="error")
                st.error(ui.plain(str(exc)))
            else:
                failed = sum(r.status == "failed" for r in result.runs)
                status.update(label=f"Experiment {experiment.id}: {len(result.runs)} runs, {failed} failed"
                              + (f", {result.skipped} already done" if result.skipped else ""),
                              state="error" if failed else "complete", expanded=False)
        st.session_state[SHOWN] = experiment.id

    experiments = store.list_experiments()
    if not experiments:
        st.info("No experiments yet: define one above, or run `trellis experiment run` (docs/cli.md).")
        return
    ids = [e.id for e in experiments]
    shown = st.selectbox("Experiment", ids, index=ids.index(st.session_state[SHOWN])
                         if st.session_state.get(SHOWN) in ids else 0,
                         format_func=lambda i: describe(next(e for e in experiments if e.id == i)))
    show_experiment(store, next(e for e in experiments if e.id == shown))


def arm_choices(store) -> dict[str, str]:
    """The arms that can be run, and their labels: none, each approved scaffold and strategy version, and each
    trace with a reviewed critique."""
    choices = {"none": "none: the student on its own"}
    for s in store.list_scaffolds(status="approved"):
        version = store.get_scaffold(s.scaffold_id, s.approved_version)
        choices[f"{version.content.kind}:{s.scaffold_id}@{s.approved_version}"] = (
            f"{version.content.kind} {s.scaffold_id} v{s.approved_version} · {shorten(s.title, 80)}")
    for trace_id in store.traces_with_reviewed_critique(USABLE_REVIEW_STATUSES):
        choices[f"critique:{trace_id}"] = f"critique of {trace_id}: its accepted points as advice"
    return choices


def describe(experiment: Experiment) -> str:
    when = f"{experiment.created_at:%Y-%m-%d %H:%M}" if experiment.created_at else ""
    return f"{experiment.id} · {experiment.student} · {' vs '.join(experiment.arms)} · {when}"


def show_experiment(store, experiment: Experiment) -> None:
    runs = store.list_runs(experiment_id=experiment.id)
    report = experiment_report(experiment, runs)
    st.caption(f"{experiment.student} · tasks: {', '.join(experiment.task_paths)} · {experiment.repeats} repeats from "
               f"seed {experiment.seed} · {report.finished} runs finished, {report.failed} failed · by "
               f"{experiment.created_by}")
    if not runs:
        st.info("No run of this experiment has finished yet.")
        return
    for arm in report.arms[1:]:
        st.markdown(ui.plain(arm.verdict))
    st.dataframe(arm_table(report), hide_index=True, width="stretch")

    score_tab, paired_tab, adherence_tab, competence_tab, fallback_tab, runs_tab = st.tabs(
        ["Score vs tokens", "Per task", "Adherence vs score", "Competence", "Fallbacks", "Runs"])
    with score_tab:
        st.plotly_chart(figures.score_vs_tokens(report, runs), key="score-vs-tokens")
    with paired_tab:
        st.plotly_chart(figures.paired_differences(report, runs), key="paired")
    with adherence_tab:
        st.plotly_chart(figures.adherence_vs_score(runs), key="adherence")
    with competence_tab:
        st.plotly_chart(figures.competence_curve(report, runs), key="competence")
        st.caption(competence_note(report))
    with fallback_tab:
        reasons = [(a.summary.arm, reason, count) for a in report.arms for reason, count in a.fallbacks.reasons.items()]
        if reasons:
            st.dataframe(pd.DataFrame(reasons, columns=["arm", "why it fell back", "runs"]), hide_index=True,
                         width="stretch")
        else:
            st.info("No run fell back.")
    with runs_tab:
        st.dataframe(pd.DataFrame({
            "open": [pages.url("trace", trace=r.id) for r in runs], "arm": [r.arm for r in runs],
            "task": [r.task_id for r in runs], "repeat": [r.repeat for r in runs], "status": [r.status for r in runs],
            "score": [r.score for r in runs], "why": [r.outcome for r in runs],
            "tokens": [r.tokens_in + r.tokens_out for r in runs], "seconds": [r.seconds for r in runs],
        }), hide_index=True, width="stretch", column_config={
            "open": st.column_config.LinkColumn("open", display_text="open trace ↗", width="small"),
            "score": st.column_config.NumberColumn(format="%.2f"),
        })
    columns = st.columns(2)
    columns[0].download_button("Export runs (CSV)", rows_csv(runs), file_name=f"{experiment.id}.csv",
                               mime="text/csv")
    columns[1].download_button("Export runs (JSON)", rows_json(runs), file_name=f"{experiment.id}.json",
                               mime="application/json")


def arm_table(report: ExperimentReport) -> pd.DataFrame:
    rows = []
    for arm in report.arms:
        d, s = arm.difference, arm.summary
        rows.append({
            "arm": s.arm, "runs": s.runs, "tasks": s.tasks, "score": interval(s.score),
            "Δ score": interval(d.score, signed=True) if d else "baseline",
            "tokens": interval(s.tokens, 0), "Δ tokens": interval(d.tokens_change, 0, "%", signed=True) if d else "baseline",
            "seconds": interval(s.seconds, 1), "calls": interval(s.calls, 1),
            "cost": interval(s.cost, 4) if s.cost.value else "—",
            "fell back": "—" if arm.fallbacks.rate is None else f"{arm.fallbacks.fell_back} of {arm.fallbacks.scaffolded}",
            "adherence": interval(arm.adherence), "coverage": interval(arm.coverage),
            "helped / hurt": f"{d.helped} / {d.hurt}" if d else "—",
        })
    return pd.DataFrame(rows)


def competence_note(report: ExperimentReport) -> str:
    parts = []
    for arm in report.arms:
        c = arm.competence
        reached = f"{c.tokens:,} tokens over {c.tasks} tasks" if c.tokens is not None else f"not reached in {c.seen} tasks"
        ratio = f" ({arm.competence_ratio:.2f}× the baseline's)" if arm.competence_ratio is not None else ""
        parts.append(f"{arm.summary.arm}: {reached}{ratio}")
    first = report.arms[0].competence
    return (f"Tokens to competence (running score ≥ {first.threshold:.2f} over {first.window} tasks): "
            + "; ".join(parts))


if __name__ == "__main__":  # run as a script, as every module here may be: see pages/__init__.py
    pages.run()
