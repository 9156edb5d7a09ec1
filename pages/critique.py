"""Critique: a teacher annotates a student trace; a person accepts, edits or rejects each point."""

import json

import streamlit as st

import pages
from core.auth import Action, Actor
from core.critique import review
from core.critique.models import Category, ReviewStatus, Severity
from core.critique.package import build_package
from core.critique.teacher import (
    DEFAULT_TIMEOUT,
    STRUCTURAL_TEACHER,
    CritiqueError,
    TeacherSettings,
    default_reference,
    run_critique,
)
from core.dot import tree_dot
from core.errors import TrellisError
from core.explore import tree_window
from core.model_catalog import BUILT_IN, MAX_TIMEOUT, CatalogError
from core.store import Store
from core.text import shorten
from pages import ui

SEVERITY_BADGE = {"high": ":red-badge[high]", "medium": ":orange-badge[medium]", "low": ":gray-badge[low]"}
CATEGORIES = [c.value for c in Category]
SEVERITIES = [s.value for s in Severity]


# Widget callbacks are module functions given plain ids (see pages/ui.py), and the store and reviewer.
def act(store: Store, reviewer: Actor, action, annotation_id: str, **changes) -> None:
    try:
        action(store, annotation_id, reviewer, **changes)
    except review.ReviewError as exc:
        st.session_state["review_error"] = str(exc)


def save_edit(store: Store, reviewer: Actor, annotation_id: str) -> None:
    state = st.session_state
    act(store, reviewer, review.edit, annotation_id, category=state[f"category:{annotation_id}"],
        severity=state[f"severity:{annotation_id}"], rationale=state[f"rationale:{annotation_id}"],
        suggested_fix=state[f"fix:{annotation_id}"] or None)
    state[f"edit:{annotation_id}"] = False


def page() -> None:
    store = ui.store()
    summaries = {s.id: s for s in store.list_traces()}
    st.title("Critique")
    if not summaries:
        st.info("The library is empty: import traces on the Library page first.")
        st.stop()

    # ------------------------------------------------------------------ who is reviewing

    reviewer = ui.actor()

    # ------------------------------------------------------------------ what to critique

    ids = list(summaries)
    students = [i for i in ids if summaries[i].role == "student"] or ids
    wanted = st.query_params.get("trace")
    labels = {i: f"{shorten(s.title or i, 120)} · {s.role} · {i}" for i, s in summaries.items()}
    student_id = st.selectbox(
        "Student trace", ids, index=ids.index(wanted if wanted in summaries else students[0]), format_func=labels.__getitem__,
    )
    st.query_params["trace"] = student_id
    student = store.load_trace(student_id)
    suggested = default_reference(store, student)
    alone = "(none: critique the trace on its own)"
    choices = [alone, *[i for i in ids if i != student_id]]
    reference_choice = st.selectbox(
        "Reference", choices, index=choices.index(suggested) if suggested in choices else 0,
        format_func={alone: alone, **labels}.__getitem__, help="Default: the teacher trace of the same task class.",
    )
    reference_id = None if reference_choice == alone else reference_choice

    # Only the operator's models, chosen by name: where a call goes and which key it carries is never the visitor's to say.
    try:
        catalog = ui.model_catalog()
    except CatalogError as exc:
        st.error(f"{ui.plain(str(exc))} · only the built-in structural critic is offered until the models file is fixed.")
        catalog = {STRUCTURAL_TEACHER: BUILT_IN}
    with st.expander("Teacher model", expanded=False):
        teachers = {name: name if entry.model == name else f"{name} · {entry.model}" for name, entry in catalog.items()}
        teacher = st.selectbox(
            "Teacher", list(teachers), format_func=teachers.__getitem__,
            help="trellis/structural needs no network. The others are the models this server's operator configured.",
        )
        timeout = st.number_input("Timeout per call (s)", 1.0, MAX_TIMEOUT, catalog[teacher].timeout or DEFAULT_TIMEOUT)

    if st.button("Run critique", type="primary", disabled=not reviewer.can(Action.CRITIQUE),
                 help=None if reviewer.can(Action.CRITIQUE) else "Reviewers and above run critiques."):
        ui.provider_keys_from_secrets()
        settings = TeacherSettings(teacher=teacher, timeout=timeout)
        with st.status(f"Critiquing with {teacher}…", expanded=True) as status:
            try:
                result = run_critique(store, student_id, reference_id, settings, catalog=catalog, progress=st.write,
                                      actor=reviewer)
            except (CritiqueError, TrellisError) as exc:
                status.update(label="Critique failed; nothing was stored", state="error")
                st.error(ui.plain(str(exc)))
            else:
                for warning in result.warnings:
                    st.warning(ui.plain(warning))
                status.update(label=f"{len(result.annotations)} proposed annotations", state="complete")

    # ------------------------------------------------------------------ the annotations

    annotations = store.list_annotations(student_id)
    if not annotations:
        st.info("No annotations on this trace yet: run a critique above.")
        st.stop()

    counts = ui.annotation_counts(student_id)
    view = ui.trace_view(student_id)
    nodes_with_notes = [n for n in counts if n in view.nodes]
    focus = nodes_with_notes[0] if nodes_with_notes else view.root
    with st.expander(f"Tree with annotation badges ({sum(counts.values())} open)", expanded=False):
        window = tree_window(view, focus, depth=1, expanded=nodes_with_notes)
        st.graphviz_chart(tree_dot(view, window, focus, annotation_counts=counts, outlined=set(counts)))

    filters = st.columns(3)
    categories = filters[0].multiselect("Category", [c.value for c in Category])
    severities = filters[1].multiselect("Severity", [s.value for s in Severity])
    statuses = filters[2].multiselect("Status", [s.value for s in ReviewStatus], default=["proposed", "accepted", "edited"])
    shown = [
        a for a in annotations
        if (not categories or a.category in categories) and (not severities or a.severity in severities)
        and (not statuses or a.status in statuses)
    ]
    proposed = [a for a in annotations if a.status == "proposed"]
    top = st.columns([3, 2, 2])
    top[0].caption(f"{len(shown)} of {len(annotations)} annotations shown · {len(proposed)} awaiting review")
    if top[1].button(f"Accept all {len(proposed)} proposed", disabled=not proposed or not reviewer.can(Action.REVIEW)):
        review.accept_all_proposed(store, student_id, reviewer)
        st.rerun()

    package = build_package(student, annotations, reference_id)
    top[2].download_button(
        "Export critique package", json.dumps(package, indent=2), file_name=f"critique-{student_id}.json",
        mime="application/json", disabled=not package["annotations"],
        help="Accepted and edited annotations as JSON, with a prompt block a student model can be given.",
    )

    if error := st.session_state.pop("review_error", None):
        st.error(ui.plain(error))

    for a in shown:
        node_label = view.label(a.node_id, 70) if a.node_id in view.nodes else "whole trace"
        with st.container(border=True, key=f"annotation-{a.id}"):
            head = st.columns([5, 1.2, 1.2, 1.2], vertical_alignment="center")
            head[0].markdown(
                f"{SEVERITY_BADGE[a.severity]} **{a.category.replace('_', ' ')}** · {ui.plain(node_label)} · _{a.status}_"
            )
            disabled = not reviewer.can(Action.REVIEW)
            head[1].button("Accept", key=f"accept:{a.id}", disabled=disabled or a.status == "accepted",
                           on_click=act, args=(store, reviewer, review.accept, a.id))
            head[2].button("Reject", key=f"reject:{a.id}", disabled=disabled or a.status == "rejected",
                           on_click=act, args=(store, reviewer, review.reject, a.id))
            editing = head[3].toggle("Edit", key=f"edit:{a.id}", disabled=disabled)
            st.text(a.rationale)
            if a.suggested_fix:
                st.caption("Suggested fix")
                st.text(a.suggested_fix)
            for sub in a.suggested_subproblems:
                st.text(f"  • {sub}")
            if editing:
                with st.form(f"form:{a.id}"):
                    st.selectbox("Category", CATEGORIES, index=CATEGORIES.index(a.category), key=f"category:{a.id}")
                    st.selectbox("Severity", SEVERITIES, index=SEVERITIES.index(a.severity), key=f"severity:{a.id}")
                    st.text_area("Rationale", a.rationale, key=f"rationale:{a.id}")
                    st.text_area("Suggested fix", a.suggested_fix or "", key=f"fix:{a.id}")
                    st.form_submit_button("Save edit", on_click=save_edit, args=(store, reviewer, a.id))
            with st.expander("History"):
                for event in store.annotation_history(a.id):
                    changed = f" ({', '.join(event.changes)})" if event.changes else ""
                    st.text(f"{event.happened_at:%Y-%m-%d %H:%M} · {event.actor} · {event.action}{changed}")

    with st.expander("Prompt block for the student model"):
        st.code(package["prompt"], language=None, wrap_lines=True)
        st.download_button("Download prompt", package["prompt"], file_name=f"critique-{student_id}.txt")


if __name__ == "__main__":  # run as a script, as every module here may be: see pages/__init__.py
    pages.run()
