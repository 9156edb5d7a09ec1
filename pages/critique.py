"""Critique: a teacher annotates a student trace; a person accepts, edits or rejects each point, or a group of them."""

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
STATUS_WORDS = {"proposed": "awaiting review", "accepted": "accepted", "edited": "edited", "rejected": "rejected"}
EXAMPLES_PER_GROUP = 5  # annotations a group shows before "show more": 8,000 cards would take minutes to draw
MORE_PER_CLICK = 20
FILTERS = {"category": "filter:category", "severity": "filter:severity", "status": "filter:status"}
OUTCOME = "critique_outcome"  # what the last critique run did, shown until the next one


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


def decide_group(store: Store, reviewer: Actor, trace_id: str, group_key: str, status: str) -> None:
    """Accept or reject the proposed annotations of one group as the page shows it (its filters applied)."""
    group = next((g for g in grouped(store, trace_id) if g.key == group_key), None)
    if group is None:  # reviewed away meanwhile
        return
    count = review.decide_group(store, group.proposed, ReviewStatus(status), reviewer)
    st.session_state["review_notice"] = f"{status.capitalize()} {count:,} annotation(s) of the group at once."


def grouped(store: Store, trace_id: str) -> list[review.Group]:
    """The annotations the filters let through, in groups, each where its critic raised it (an edit does not move it)."""
    stored = store.annotations_as_proposed(trace_id)
    return review.groups(filtered([a for a, _ in stored]), {a.id: proposed for a, proposed in stored})


def show_more(key: str) -> None:
    st.session_state[key] = st.session_state.get(key, EXAMPLES_PER_GROUP) + MORE_PER_CLICK


def filtered(annotations: list) -> list:
    """The annotations the filters let through; no choice in a filter lets everything through."""
    state = st.session_state
    categories, severities = state.get(FILTERS["category"]) or [], state.get(FILTERS["severity"]) or []
    statuses = state.get(FILTERS["status"]) or []
    return [a for a in annotations if (not categories or a.category in categories)
            and (not severities or a.severity in severities) and (not statuses or a.status in statuses)]


def critique_now(store: Store, reviewer: Actor, student_id: str, reference_id: str | None, teacher: str,
                 timeout: float, catalog: dict) -> None:
    ui.provider_keys_from_secrets()
    settings = TeacherSettings(teacher=teacher, timeout=timeout)
    before = len(store.list_annotations(student_id))
    outcome = {"trace": student_id}
    with st.status(f"Critiquing with {teacher}…", expanded=True) as status:
        try:
            result = run_critique(store, student_id, reference_id, settings, catalog=catalog, progress=st.write,
                                  actor=reviewer)
        except (CritiqueError, TrellisError) as exc:
            status.update(label="Critique failed; nothing was stored", state="error", expanded=False)
            outcome |= {"error": str(exc), "kept": before}
        else:
            new, already = len(result.annotations), len(result.already)
            label = f"{new} proposed annotations" if not already else f"{new} new proposed annotations, {already} already there"
            status.update(label=label, state="complete", expanded=False)
            outcome |= {"new": new, "already": already, "warnings": result.warnings}
    st.session_state[OUTCOME] = outcome


def show_outcome(student_id: str) -> None:
    """The last critique's result in the open (not inside the collapsed progress box), until the next run."""
    outcome = st.session_state.get(OUTCOME)
    if not outcome or outcome["trace"] != student_id:
        return
    if "error" in outcome:
        kept = outcome["kept"]
        st.error(ui.plain(f"The critique failed: {outcome['error']}") + "  \n"
                 + f"Nothing was stored; the {kept} annotation(s) this trace had are kept as they were.",
                 icon=":material/error:")
        return
    new, already = outcome["new"], outcome["already"]
    if already:
        st.success(f"{new} new finding(s) added; {already} were already there and keep their review.",
                   icon=":material/check_circle:")
    for warning in outcome["warnings"]:
        st.warning(ui.plain(warning) + ". The other findings were kept.", icon=":material/warning:")


def node_link(trace_id: str, node_id: str | None) -> str:
    """A Markdown link to the finding's node in the Trace page (built from ids, which urlencode makes inert)."""
    if node_id is None:
        return f"[open trace ↗]({pages.url('trace', trace=trace_id)})"
    return f"[open node ↗]({pages.url('trace', trace=trace_id, node=node_id)})"


def annotation_card(store: Store, reviewer: Actor, view, a) -> None:
    node_label = view.label(a.node_id, 70) if a.node_id in view.nodes else "whole trace"
    with st.container(border=True, key=f"annotation-{a.id}"):
        st.markdown(f"{SEVERITY_BADGE[a.severity]} **{a.category.replace('_', ' ')}** · {ui.plain(node_label)} · "
                    f"_{a.status}_ · {node_link(view.trace.id, a.node_id)}")
        disabled = not reviewer.can(Action.REVIEW)
        with st.container(horizontal=True, vertical_alignment="center"):
            st.button("Accept", key=f"accept:{a.id}", disabled=disabled or a.status == "accepted",
                      on_click=act, args=(store, reviewer, review.accept, a.id))
            st.button("Reject", key=f"reject:{a.id}", disabled=disabled or a.status == "rejected",
                      on_click=act, args=(store, reviewer, review.reject, a.id))
            editing = st.toggle("Edit", key=f"edit:{a.id}", disabled=disabled)
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


def group_panel(store: Store, reviewer: Actor, view, group: review.Group) -> None:
    members, waiting = group.annotations, group.proposed
    statuses = {s: sum(a.status == s for a in members) for s in STATUS_WORDS}
    with st.container(border=True, key=f"group-{group.key}"):
        st.markdown(f"**{group.category.replace('_', ' ')}** · {len(members):,} annotation(s) · "
                    + " · ".join(f"{n:,} {STATUS_WORDS[s]}" for s, n in statuses.items() if n))
        st.caption(ui.plain(f"Pattern: {group.pattern}"))
        disabled = not waiting or not reviewer.can(Action.REVIEW)
        with st.container(horizontal=True, vertical_alignment="center"):
            for status, verb in ((ReviewStatus.ACCEPTED, "Accept"), (ReviewStatus.REJECTED, "Reject")):
                st.button(f"{verb} {len(waiting):,} proposed", key=f"{verb.lower()}-group:{group.key}", disabled=disabled,
                          on_click=decide_group, args=(store, reviewer, view.trace.id, group.key, status.value),
                          help=f"{verb} every annotation of this group that awaits review; each gets its own history entry.")
        shown_key = f"shown:{view.trace.id}:{group.key}"
        limit = st.session_state.get(shown_key, EXAMPLES_PER_GROUP)
        for a in members[:limit]:
            annotation_card(store, reviewer, view, a)
        if (hidden := len(members) - limit) > 0:
            st.button(f"Show {min(hidden, MORE_PER_CLICK):,} more ({hidden:,} not shown)", key=f"more:{group.key}",
                      on_click=show_more, args=(shown_key,), type="tertiary", icon=":material/expand_more:")


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
        critique_now(store, reviewer, student_id, reference_id, teacher, timeout, catalog)
    show_outcome(student_id)

    # ------------------------------------------------------------------ the annotations

    annotations = store.list_annotations(student_id)
    if not annotations:
        st.info("No annotations on this trace yet: run a critique above.")
        st.stop()

    counts = ui.annotation_counts(student_id)
    view = ui.trace_view(student_id)
    nodes_with_notes = [n for n in counts if n in view.nodes]
    focus = nodes_with_notes[0] if nodes_with_notes else view.root
    with st.expander(f"Tree with annotation badges ({sum(counts.values()):,} open)", expanded=False):
        window = tree_window(view, focus, depth=1, expanded=nodes_with_notes)
        st.graphviz_chart(tree_dot(view, window, focus, annotation_counts=counts, outlined=set(counts)))

    # Pills, not multiselects, for the short lists: chosen ones stay readable at 1024 px instead of fading out.
    st.multiselect("Category", CATEGORIES, key=FILTERS["category"], placeholder="every category")
    with st.container(horizontal=True, gap="large"):
        st.pills("Severity", SEVERITIES, selection_mode="multi", key=FILTERS["severity"], help="None chosen: every severity.")
        st.pills("Status", [s.value for s in ReviewStatus], selection_mode="multi", default=["proposed", "accepted", "edited"],
                 key=FILTERS["status"], help="None chosen: every status.")
    shown = filtered(annotations)
    groups = grouped(store, student_id)
    proposed = [a for a in annotations if a.status == "proposed"]
    st.caption(f"{len(shown):,} of {len(annotations):,} annotations shown, in {len(groups):,} group(s) by category "
               f"and pattern · {len(proposed):,} awaiting review")
    package = build_package(student, annotations, reference_id)
    with st.container(horizontal=True, vertical_alignment="center"):
        if st.button(f"Accept all {len(proposed):,} proposed", disabled=not proposed or not reviewer.can(Action.REVIEW)):
            review.accept_all_proposed(store, student_id, reviewer)
            st.rerun()
        st.download_button(
            "Export critique package", json.dumps(package, indent=2), file_name=f"critique-{student_id}.json",
            mime="application/json", disabled=not package["annotations"],
            help="Accepted and edited annotations as JSON, with a prompt block a student model can be given.",
        )

    if error := st.session_state.pop("review_error", None):
        st.error(ui.plain(error))
    if notice := st.session_state.pop("review_notice", None):
        st.success(notice)

    for group in groups:
        group_panel(store, reviewer, view, group)

    with st.expander("Prompt block for the student model"):
        st.code(package["prompt"], language=None, wrap_lines=True)
        st.download_button("Download prompt", package["prompt"], file_name=f"critique-{student_id}.txt")


if __name__ == "__main__":  # run as a script, as every module here may be: see pages/__init__.py
    pages.run()
