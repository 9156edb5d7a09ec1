"""Scaffolds: extract from traces, edit, compare versions, review, export, and find one for a new task (?scaffold=ID)."""

import pandas as pd
import streamlit as st

import pages
from core.auth import Action
from core.errors import TrellisError
from core.experiments import gaps
from core.experiments.figures import version_history_figure
from core.experiments.history import version_history
from core.experiments.revise import revise_from_experiment
from core.model_catalog import LOCAL, STRUCTURAL, CatalogError
from core.scaffolds import (
    Scaffold,
    ScaffoldConflict,
    ScaffoldStatus,
    diff_scaffolds,
    export,
    reapply,
    side_by_side,
    subproblem_rows,
    to_dot,
    to_prompt,
    to_text,
    with_rows,
)
from core.scaffolds.critique import USABLE_REVIEW_STATUSES
from core.scaffolds.drafts import draft_scaffold, drafts_of_trace
from core.scaffolds.retrieval import rank_scaffolds
from core.text import shorten
from pages import ui

# People's words for a version's status, wherever this page shows one (the store and the CLI keep the names).
STATUS_WORDS = {
    ScaffoldStatus.DRAFT: "draft",
    ScaffoldStatus.IN_REVIEW: "in review",
    ScaffoldStatus.APPROVED: "approved",
    ScaffoldStatus.REJECTED: "rejected",
    ScaffoldStatus.DEPRECATED: "deprecated",
}


def status_words(status: str) -> str:
    return STATUS_WORDS[ScaffoldStatus(status)]


def open_picked() -> None:  # a widget callback: a module function (see pages/ui.py)
    st.query_params.update(scaffold=st.session_state.scaffold_picker)


def relabelled(key: str) -> str:
    """``key``, for a picker whose labels name statuses: the browser goes on showing the label the chosen option had
    when it was picked ("v2 · in review" after v2's approval) unless the value is sent to it again, as here."""
    if key in st.session_state:
        st.session_state[key] = st.session_state[key]
    return key


def show_capability_gaps(store, scaffold_id: str, versions) -> None:
    """Warnings for the steps students fail to carry out, from the runs of every version, each naming its version:
    drawn beside the review buttons, so that what a student could not do is seen before the next version is
    approved (core.experiments.gaps). The examples are model text: plain text only, never Markdown."""
    found = gaps.step_gaps(store.scaffold_step_runs(scaffold_id), store.scaffold_step_calls(scaffold_id), versions)
    if not found:
        return
    for gap in gaps.flagged(found):
        st.warning(ui.plain(gaps.warning(gap)), icon=":material/warning:")
    st.caption(f"Step success rates, from student runs (a step is flagged from {gaps.MIN_ATTEMPTS} runs that reached "
               f"it, under {gaps.FLAG_BELOW:.0%} of them with a usable result)")
    st.dataframe(
        pd.DataFrame([{
            "version": g.scaffold_version, "step": g.step, "instruction": shorten(g.instruction, 80),
            "student": g.student, "runs": g.runs, "attempted": g.attempted, "succeeded": g.succeeded,
            "failed": g.failed, "skipped": g.skipped, "no answer": g.unanswered, "not reached": g.not_reached,
            "success rate": g.success_rate,
            "score if it worked": g.score_succeeded, "score if it failed": g.score_failed, "flagged": g.flagged,
        } for g in found]),
        hide_index=True, width="stretch", column_config={
            "success rate": st.column_config.NumberColumn("success rate", format="percent"),
            "score if it worked": st.column_config.NumberColumn("score if it worked", format="%.2f"),
            "score if it failed": st.column_config.NumberColumn("score if it failed", format="%.2f"),
        },
    )
    examples = [(g, f) for g in gaps.flagged(found) for f in g.examples]
    if examples:
        st.dataframe(pd.DataFrame({
            "open": [pages.url("trace", trace=f.run_id) for _, f in examples],
            "version": [g.scaffold_version for g, _ in examples], "step": [g.step for g, _ in examples],
            "student": [g.student for g, _ in examples], "why": [f.why for _, f in examples],
            "output": [f.output for _, f in examples],
        }), hide_index=True, width="stretch", column_config={
            "open": st.column_config.LinkColumn("open", display_text="open trace ↗", width="small")})


def show_version_history(store, scaffold_id: str, versions) -> None:
    """Each version, who approved it, and the mean score and tokens (over tasks) of the finished runs that followed
    it: as a line, and as a table of the same rows (core.experiments.history)."""
    points = version_history(versions, store.scaffold_events(scaffold_id), store.list_runs(scaffold_id=scaffold_id))
    st.caption("Versions and the runs that followed them")
    if any(p.runs for p in points):
        st.plotly_chart(version_history_figure(points), key=f"version-history:{scaffold_id}",
                        config={"displaylogo": False})
    st.dataframe(
        pd.DataFrame([{
            "version": p.version, "status": status_words(p.status), "approved by": p.approved_by or "—", "runs": p.runs,
            "tasks": p.score.tasks, "mean score": p.score.value, "score low": p.score.low, "score high": p.score.high,
            "mean tokens": p.tokens.value, "tokens low": p.tokens.low, "tokens high": p.tokens.high,
        } for p in points]),
        hide_index=True, width="stretch", column_config={
            **{c: st.column_config.NumberColumn(c, format="%.2f") for c in ("mean score", "score low", "score high")},
            **{c: st.column_config.NumberColumn(c, format="%.0f") for c in ("mean tokens", "tokens low", "tokens high")},
        },
    )


def page() -> None:
    store = ui.store()
    st.title("Scaffolds")
    st.caption(
        "A scaffold is the first levels of a decomposition, with a few worked sub-results, that a student model "
        "fills in. Every save is a new version; only versions a reviewer approved are exported or offered for reuse."
    )

    actor = ui.actor()

    flash = st.session_state.pop("scaffold_flash", None)
    with st.container():  # always drawn, so the elements below keep their places when it is empty
        if flash:
            st.success(ui.plain(flash), icon=":material/check_circle:")

    # ---------------------------------------------------------------- new draft

    ONE_TRACE, STRATEGY, CRITIQUE = "one trace", "several traces of a class (strategy)", "a trace's accepted critique"
    BY_MODEL = "one trace, compressed by a model"
    summaries = store.list_traces()
    rows = store.list_scaffolds()
    with st.expander("New scaffold from traces", icon=":material/add:", expanded=not rows):
        if not summaries:
            st.info("The library is empty; import traces on the Library page first.")
        else:
            labels = {s.id: f"{shorten(s.title or s.id, 120)} · {s.role} · {shorten(s.task_class or 'no class', 100)}" for s in summaries}
            mode = st.radio("From", [ONE_TRACE, STRATEGY, CRITIQUE, BY_MODEL], horizontal=True, key="new_mode")
            if mode == STRATEGY:
                chosen = st.multiselect("Traces", list(labels), format_func=labels.get, key="new_traces")
            else:
                teachers = [s.id for s in summaries if s.role == "teacher"] or list(labels)
                chosen = [st.selectbox("Trace", list(labels), index=list(labels).index(teachers[0]),
                                       format_func=labels.get, key="new_trace")]
            by_model = compressing_model() if mode == BY_MODEL else None
            if st.button("Extract a draft", type="primary",
                         disabled=not chosen or not actor.can(Action.EDIT) or (mode == BY_MODEL and by_model is None),
                         help=None if actor.can(Action.EDIT) else "Reviewers and above extract drafts."):
                try:
                    if by_model is None:
                        draft = draft_scaffold(store, chosen, author=actor, from_critique=mode == CRITIQUE)
                    else:
                        ui.provider_keys_from_secrets()
                        with st.status(f"Compressing with {by_model.name}…", expanded=True) as status:
                            try:
                                draft = draft_scaffold(store, chosen, author=actor, by_model=by_model, progress=st.text)
                            except TrellisError:
                                status.update(label="No draft: nothing was saved", state="error")
                                raise
                except TrellisError as exc:
                    st.error(ui.plain(str(exc)), icon=":material/error:")
                else:
                    st.query_params["scaffold"] = draft.version.scaffold_id
                    st.session_state.scaffold_flash = (
                        f"Saved {draft.version.label} as a draft. Compression: {draft.compression.describe()}."
                        + (f" Critique edits: {'; '.join(draft.edits)}." if draft.edits else "")
                    )
                    st.rerun()

    # --------------------------------------------------------------------- list

    if not rows:
        st.info("No scaffolds yet. Extract one from a teacher trace above, or run `trellis scaffold extract TRACE_ID`.")
        st.stop()

    st.dataframe(
        pd.DataFrame({
            "id": [r.scaffold_id for r in rows],
            "title": [r.title for r in rows],
            "kind": [r.kind for r in rows],
            "task class": [r.task_class and shorten(r.task_class, 100) for r in rows],
            "latest": [f"v{r.latest_version}" for r in rows],
            "status": [status_words(r.latest_status) for r in rows],
            "approved": [f"v{r.approved_version}" if r.approved_version else "—" for r in rows],
            "updated by": [r.updated_by for r in rows],
        }),
        hide_index=True, width="stretch",
    )

    ids = [r.scaffold_id for r in rows]
    if st.query_params.get("scaffold") in ids and st.session_state.get("scaffold_picker") != st.query_params["scaffold"]:
        st.session_state.scaffold_picker = st.query_params["scaffold"]
    titles = {r.scaffold_id: f"{r.title} ({r.scaffold_id})" for r in rows}
    scaffold_id = st.selectbox("Open", ids, format_func=titles.__getitem__, key="scaffold_picker", on_change=open_picked)
    history = store.scaffold_history(scaffold_id)
    latest = history[-1]
    by_number = {v.version: v for v in history}
    version_labels = {
        v.version: f"v{v.version} · {status_words(v.status)} · {v.author}" + (f" · {v.comment}" if v.comment else "")
        for v in history
    }

    # A new key whenever a version is added, so the picker moves to the newest one.
    shown = by_number[st.selectbox("Version", sorted(by_number, reverse=True), format_func=version_labels.__getitem__,
                                   key=relabelled(f"version:{scaffold_id}:{latest.version}"))]

    # Keyed and bound to the URL, the open tab survives reruns and can be linked to (?tab=Review).
    outline_tab, edit_tab, compare_tab, drafts_tab, review_tab, export_tab, runs_tab = st.tabs(
        ["Outline", "Edit", "Compare", "Side by side", "Review", "Export", "Runs"], key="tab", bind="query-params"
    )

    # ------------------------------------------------------------------ outline

    with outline_tab:
        # As wide as the page and never wider than drawn: in a column, stretched, its text shrank to 4-7 px.
        st.graphviz_chart(to_dot(shown.content), width="content")
        ui.show_text(f"v{shown.version} as text", to_text(shown.content))

    # --------------------------------------------------------------------- edit

    conflict_key, draft_key = f"conflict:{scaffold_id}", f"draft:{scaffold_id}"

    def show_conflict(conflict: dict) -> None:
        base = by_number[conflict["base"]].content
        mine = Scaffold.model_validate_json(conflict["mine"])
        theirs = by_number[conflict["theirs"]]
        st.error(ui.plain(conflict["message"]), icon=":material/sync_problem:")
        st.markdown(f"**Their change**: version {conflict['base']} → version {theirs.version}, saved by {ui.plain(theirs.author)}")
        show_diff(base, theirs.content)
        st.markdown(f"**Your unsaved edit** against version {theirs.version}")
        show_diff(theirs.content, mine)
        keep, drop = st.columns(2)
        if keep.button(f"Re-apply my edit on top of version {theirs.version}", type="primary", icon=":material/merge:"):
            merged, notes = reapply(base, mine, theirs.content)
            generation = st.session_state.get(draft_key, {}).get("generation", 0) + 1
            st.session_state[draft_key] = {"base": theirs.version, "content": merged.model_dump_json(),
                                           "generation": generation, "notes": notes, "dirty": True}
            del st.session_state[conflict_key]
            st.rerun()
        if drop.button("Discard my edit and start from the latest version", icon=":material/delete:"):
            del st.session_state[conflict_key]
            st.session_state.pop(draft_key, None)
            st.rerun()

    def changes_table(changes) -> pd.DataFrame:
        return pd.DataFrame([{"what": c.what, "change": c.kind, "before": c.before, "after": c.after} for c in changes])

    def show_diff(old: Scaffold, new: Scaffold) -> None:
        changes = diff_scaffolds(old, new)
        if not changes:
            st.caption("No differences.")
            return
        left, right = side_by_side(old, new)
        left_column, right_column = st.columns(2)
        left_column.code(left, language="diff", wrap_lines=True)
        right_column.code(right, language="diff", wrap_lines=True)
        st.dataframe(changes_table(changes), hide_index=True, width="stretch")

    def editing() -> dict:
        """This session's edit: the version it started from (kept while anything is typed, so a save by someone
        else never swaps the table from under the person), and any content re-applied after a conflict."""
        if draft_key not in st.session_state:
            st.session_state[draft_key] = {"base": latest.version, "content": None, "generation": 0, "notes": [],
                                           "dirty": False}
        return st.session_state[draft_key]

    def show_editor() -> None:
        draft = editing()
        base_number = draft["base"]
        start = Scaffold.model_validate_json(draft["content"]) if draft["content"] else by_number[base_number].content
        suffix = f"{scaffold_id}:{base_number}:{draft['generation']}"
        st.caption(f"Editing on top of version {base_number}. Saving makes a new version, a draft; "
                   "approved versions stay as they are.")
        if base_number != latest.version:
            since = f"{latest.author} saved version {latest.version} since you started from version {base_number}."
            if draft["dirty"]:
                st.warning(ui.plain(f"{since} When you save, you will see both changes and can re-apply yours on top."),
                           icon=":material/sync_problem:")
            else:
                st.info(ui.plain(since), icon=":material/sync_problem:")
                if st.button(f"Start from version {latest.version}", icon=":material/refresh:"):
                    del st.session_state[draft_key]
                    st.rerun()
        for note in draft["notes"]:
            st.warning(ui.plain(note), icon=":material/info:")
        left, right = st.columns(2)
        title = left.text_input("Title", start.title, key=f"title:{suffix}")
        task_class = right.text_input("Task class", start.task_class or "", key=f"class:{suffix}")
        applicability = st.text_input("Applies to", start.applicability, key=f"applies:{suffix}")
        root_task = st.text_area("Root task pattern", start.root_task, key=f"root:{suffix}", height=80)
        st.caption("Sub-problems: rewrite cells, add rows at the bottom, delete rows, reorder by changing the position. "
                   "A new row needs no id; give it a parent id to put it under another sub-problem.")
        table = st.data_editor(
            pd.DataFrame(subproblem_rows(start), columns=["position", "id", "parent_id", "instruction", "context",
                                                          "output_shape", "optional"]),
            num_rows="dynamic", hide_index=True, width="stretch", key=f"rows:{suffix}",
            column_config={
                "position": st.column_config.NumberColumn("position", width="small", step=0.5),
                "id": st.column_config.TextColumn("id", width="small"),
                "parent_id": st.column_config.TextColumn("parent id", width="small"),
                "instruction": st.column_config.TextColumn("instruction", width="large", required=True),
                "context": st.column_config.TextColumn("context to carry", width="medium"),
                "output_shape": st.column_config.TextColumn("returns", width="medium"),
                "optional": st.column_config.CheckboxColumn("optional", width="small"),
            },
        )
        aggregation = st.text_area("Aggregation rule", start.aggregation, key=f"aggregation:{suffix}", height=80)
        try:
            edited = with_rows(start, table.to_dict("records"), title=title, task_class=task_class.strip() or None,
                               applicability=applicability, root_task=root_task, aggregation=aggregation)
        except TrellisError as exc:
            st.warning(ui.plain(str(exc)), icon=":material/warning:")
            return
        base = by_number[base_number].content
        changes = diff_scaffolds(base, edited)
        draft["dirty"] = bool(changes)
        st.subheader("Preview")
        preview, changed = st.columns(2)
        with preview:
            ui.show_text("The edited scaffold", to_text(edited), height=420)
        with changed:
            st.caption(f"Changes from version {base_number}")
            if changes:
                st.dataframe(changes_table(changes), hide_index=True, width="stretch")
            else:
                st.text("none yet")
        comment = st.text_input("What changed and why", key=f"comment:{suffix}")
        if st.button("Save as a new version", type="primary", disabled=not changes or not actor.can(Action.EDIT),
                     icon=":material/save:", help=None if actor.can(Action.EDIT) else "Reviewers and above save edits."):
            try:
                saved = store.save_scaffold(scaffold_id, edited, author=actor, comment=comment, based_on=base_number)
            except ScaffoldConflict as exc:
                st.session_state[conflict_key] = {"base": base_number, "mine": edited.model_dump_json(),
                                                  "theirs": exc.latest.version, "message": str(exc)}
            else:
                st.session_state.pop(draft_key, None)
                st.session_state.scaffold_flash = f"Saved {saved.label} as a draft."
            st.rerun()

    with edit_tab:
        if conflict_key in st.session_state:
            show_conflict(st.session_state[conflict_key])
        else:
            show_editor()

    # ------------------------------------------------------------------ compare

    with compare_tab:
        numbers = sorted(by_number)
        if len(numbers) < 2:
            st.info("There is one version so far; save an edit to compare versions.")
        else:
            left, right = st.columns(2)
            old = left.selectbox("From version", numbers, index=len(numbers) - 2, format_func=version_labels.__getitem__,
                                 key=relabelled(f"from:{scaffold_id}:{latest.version}"))
            new = right.selectbox("To version", numbers, index=len(numbers) - 1, format_func=version_labels.__getitem__,
                                  key=relabelled(f"to:{scaffold_id}:{latest.version}"))
            show_diff(by_number[old].content, by_number[new].content)

    # ------------------------------------------------------------- side by side

    with drafts_tab:
        if drafts_tab.open:  # it loads the source trace and every scaffold: only when someone looks
            show_drafts_side_by_side(store, shown.content, scaffold_id)

    # ------------------------------------------------------------------- review

    def decide(status: ScaffoldStatus, comment: str) -> None:
        try:
            result = store.set_scaffold_status(scaffold_id, shown.version, status, actor=actor, comment=comment)
        except TrellisError as exc:
            st.error(ui.plain(str(exc)), icon=":material/error:")
        else:
            st.session_state.scaffold_flash = f"{result.label} is now {status_words(result.status)}."
            st.rerun()

    with review_tab:
        # The reviewer's name alone is made plain: plain() trims, and would glue "by" to the bold status.
        reviewed = f" by {ui.plain(shown.reviewer)}" if shown.reviewer else ""
        st.markdown(f"Version {shown.version} is **{status_words(shown.status)}**{reviewed}.")
        if shown.review_comment:
            ui.show_text("Review comment", shown.review_comment)
        show_capability_gaps(store, scaffold_id, history)
        status = ScaffoldStatus(shown.status)
        may_decide = actor.can(Action.DECIDE)
        own_edit = shown.author == actor.name and not actor.single_user
        if not may_decide:
            st.info(ui.plain(f"You are a {actor.role}: only approvers approve, reject or deprecate."),
                    icon=":material/lock:")
        elif own_edit and status == ScaffoldStatus.IN_REVIEW:
            st.info("You saved this version, so another approver has to approve it.", icon=":material/lock:")
        if status in (ScaffoldStatus.DRAFT, ScaffoldStatus.IN_REVIEW, ScaffoldStatus.APPROVED):
            review_comment = st.text_input("Review comment", key=f"review:{scaffold_id}:{shown.version}")
            # In one row, each as wide as its label: four equal columns cut "Submit for review" at 1024 px.
            decision = None
            with st.container(horizontal=True):
                if status == ScaffoldStatus.DRAFT and st.button(
                    "Submit for review", icon=":material/send:", disabled=not actor.can(Action.SUBMIT),
                    help="Approval needs a version submitted for review.", width="content",
                ):
                    decision = ScaffoldStatus.IN_REVIEW
                if status == ScaffoldStatus.IN_REVIEW and st.button(
                    "Approve", type="primary", icon=":material/verified:", disabled=not may_decide or own_edit,
                    width="content",
                ):
                    decision = ScaffoldStatus.APPROVED
                if status != ScaffoldStatus.APPROVED and st.button(
                    "Reject", icon=":material/block:", disabled=not may_decide, width="content"
                ):
                    decision = ScaffoldStatus.REJECTED
                if status == ScaffoldStatus.APPROVED and st.button(
                    "Deprecate", icon=":material/archive:", disabled=not may_decide, width="content"
                ):
                    decision = ScaffoldStatus.DEPRECATED
            if decision:
                decide(decision, review_comment)
        else:
            st.caption("A rejected or deprecated version is final; edit the scaffold to make a new version.")
        st.caption("History")
        st.dataframe(
            pd.DataFrame([{"version": e.version, "status": status_words(e.status), "by": e.actor, "comment": e.comment,
                           "at": e.happened_at} for e in store.scaffold_events(scaffold_id)]),
            hide_index=True, width="stretch",
        )
        show_version_history(store, scaffold_id, history)

    # ------------------------------------------------------------------- export

    with export_tab:
        if not shown.reusable:
            approved = [v.version for v in history if v.reusable]
            hint = f" Approved versions: {', '.join(f'v{n}' for n in approved)}." if approved else ""
            st.info(f"Version {shown.version} is {status_words(shown.status)}; only approved versions can be exported."
                    f"{hint}")
        else:
            downloads = {"json": ("json", "application/json"), "yaml": ("yaml", "application/yaml"),
                         "prompt": ("txt", "text/plain")}
            for column, (fmt, (suffix, mime)) in zip(st.columns(3), downloads.items(), strict=True):
                column.download_button(f"Download {fmt}", export(shown, fmt), file_name=f"{scaffold_id}-v{shown.version}.{suffix}",
                                       mime=mime, icon=":material/download:")
            ui.show_text("Prompt block for a student model", to_prompt(shown), height=420)

    # --------------------------------------------------------------------- runs

    with runs_tab:
        if runs_tab.open:  # a query per run of every experiment it lists: only when someone looks
            runs = store.list_runs(scaffold_id=scaffold_id)
            if not runs:
                st.info("No student has run with this scaffold yet: start a batch on the Runs page.")
            else:
                per_version = pd.DataFrame({
                    "version": [r.scaffold_version for r in runs], "score": [r.score for r in runs],
                    "fell back": [r.fell_back for r in runs], "failed": [r.status == "failed" for r in runs],
                }).groupby("version").agg(runs=("score", "size"), mean_score=("score", "mean"),
                                          fell_back=("fell back", "sum"), failed=("failed", "sum")).reset_index()
                st.dataframe(per_version, hide_index=True, width="stretch",
                             column_config={"mean_score": st.column_config.NumberColumn("mean score", format="%.2f")})
                st.dataframe(pd.DataFrame({
                    "open": [pages.url("trace", trace=r.id) for r in runs], "version": [r.scaffold_version for r in runs],
                    "task": [r.task_id for r in runs], "student": [r.student for r in runs], "score": [r.score for r in runs],
                    "why": [r.outcome for r in runs],
                }), hide_index=True, width="stretch", column_config={
                    "open": st.column_config.LinkColumn("open", display_text="open trace ↗", width="small")})
                show_revision(store, scaffold_id, runs, actor)

    # --------------------------------------------------------------------- find

    st.divider()
    st.subheader("Find a scaffold for a new task")
    task = st.text_area("Describe the new task", key="find_task", height=80,
                        placeholder="e.g. Review the indemnities and liability caps of a supplier contract")
    classes = sorted({r.task_class for r in rows if r.task_class})
    wanted_class = st.selectbox("Task class (optional)", ["any", *classes], key="find_class")
    if task.strip():
        fits = rank_scaffolds(store, task, task_class=None if wanted_class == "any" else wanted_class)
        if not fits:
            st.info("No approved scaffolds yet; only approved versions are offered for reuse.")
        else:
            st.dataframe(
                pd.DataFrame([{"rank": f.rank, "scaffold": f.scaffold_id, "version": f"v{f.version}", "title": f.title,
                               "kind": f.kind, "task class": f.task_class, "score": f.score, "why": f.why} for f in fits]),
                hide_index=True, width="stretch",
            )


def show_revision(store, scaffold_id: str, runs, actor) -> None:
    """Closing the loop: the accepted critique of an experiment's runs of this scaffold, saved as its next version
    (core.experiments.revise). Nothing changes until a person asks; the new version is a draft, reviewed as any."""
    experiments = list(dict.fromkeys(r.experiment_id for r in runs if r.experiment_id))
    if not experiments:
        return
    st.caption("Revise from an experiment: critique its runs (open one, then the Critique page), accept what holds, "
               "and save the accepted points as the next version")
    experiment_id = st.selectbox("Experiment", experiments, key=f"revise-experiment:{scaffold_id}")
    mine = [r for r in runs if r.experiment_id == experiment_id]
    critiqued = sum(any(a.status in USABLE_REVIEW_STATUSES for a in store.list_annotations(r.id)) for r in mine)
    st.dataframe(pd.DataFrame({
        "critique": [pages.url("critique", trace=r.id) for r in mine], "version": [r.scaffold_version for r in mine],
        "task": [r.task_id for r in mine], "score": [r.score for r in mine], "why": [r.outcome for r in mine],
    }), hide_index=True, width="stretch", key=f"revise-runs:{scaffold_id}:{experiment_id}", column_config={
        "critique": st.column_config.LinkColumn("critique", display_text="critique run ↗", width="small")})
    if st.button(f"Save a new version from the accepted critique of {critiqued} of these {len(mine)} runs",
                 icon=":material/edit_note:", disabled=not critiqued or not actor.can(Action.EDIT),
                 key=f"revise:{scaffold_id}:{experiment_id}"):
        try:
            revision = revise_from_experiment(store, scaffold_id, experiment_id, author=actor)
        except TrellisError as exc:
            st.error(ui.plain(str(exc)), icon=":material/error:")
        else:
            st.session_state.scaffold_flash = (f"Saved {revision.version.label} as a draft: "
                                               + "; ".join(revision.edits))
            st.rerun()


def compressing_model():
    """The model the reviewer picks to compress a trace: only the operator's entries, by name (local first)."""
    try:
        models = {name: entry for name, entry in ui.model_catalog().items() if name != STRUCTURAL}
    except CatalogError as exc:
        st.error(f"{ui.plain(str(exc))} · no model can be offered until the models file is fixed.")
        return None
    if not models:
        st.info("No model is configured: start the local one with `trellis model serve`, or the operator lists "
                "models in trellis-models.toml (docs/models.md).")
        return None
    names = sorted(models, key=lambda name: name != LOCAL)
    name = st.selectbox("Model", names, key="new_model",
                        help="The models this server's operator configured; local is the one `trellis model serve` runs.")
    st.caption("The model summarises the trace bottom-up, one subtree per call, never the whole trace, then drafts "
               "a scaffold. It is saved as a draft, to review like any other.")
    return models[name]


def show_drafts_side_by_side(store, content: Scaffold, scaffold_id: str) -> None:
    """Two drafts of the same source trace, each with its outline and its compression, measured alike."""
    sources = content.provenance.source_traces
    if len(sources) != 1:
        st.info(f"This scaffold was drawn from {len(sources)} traces; side by side compares the drafts of one trace.")
        return
    try:
        drafts = {version.scaffold_id: (version, measured) for version, measured in drafts_of_trace(store, sources[0])}
    except TrellisError as exc:
        st.info(ui.plain(str(exc)), icon=":material/info:")
        return
    if len(drafts) < 2:
        st.info(ui.plain(f"{sources[0]} has one scaffold drawn from it so far; make another from it above "
                         "(e.g. compressed by a model) to see them side by side."))
        return
    labels = {sid: f"{sid} v{v.version} · {v.content.provenance.method} · {status_words(v.status)}"
              for sid, (v, _) in drafts.items()}
    ids = list(drafts)
    left = scaffold_id if scaffold_id in drafts else ids[0]
    right = next(sid for sid in ids if sid != left)
    for column, default, side in zip(st.columns(2), (left, right), ("left", "right"), strict=True):
        with column:
            picked = st.selectbox(f"Draft ({side})", ids, index=ids.index(default), format_func=labels.__getitem__,
                                  key=relabelled(f"side:{side}:{scaffold_id}"))
            version, measured = drafts[picked]
            st.text(f"made by {version.author}: {version.comment}" if version.comment else f"made by {version.author}")
            st.text(f"compression: {measured.describe()}")
            ui.show_text(f"Outline ({side})", to_text(version.content), height=420)


if __name__ == "__main__":  # run as a script, as every module here may be: see pages/__init__.py
    pages.run()
