"""Library: every trace in a table (click a row to open it), filters, full-text search over node text, upload,
and renaming, tagging and deleting traces.

Other processes write the same store (`trellis import`, `trellis collect`): the page looks every few seconds and,
when a trace came, changed or went, draws itself again, keeping what the person chose. Live traces (receiving
spans) come first, marked.
"""

import tempfile
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pandas as pd
import streamlit as st

import pages
from core.auth import Action
from core.errors import InputError, TrellisError
from core.importers import PARSERS, UnknownFormat, import_files
from core.models import LIVE_WINDOW
from core.store.traces import AlreadyStored
from core.text import shorten
from pages import ui

# The columns shown unless a person asks for more: together they fit the table's width at 1024 px (pixels each).
SHOWN = {"title": 160, "task class": 96, "role": 64, "nodes": 56, "tokens": 72, "tags": 96}
MORE = ["model", "cost $", "depth", "status", "annotations", "started", "imported", "id"]
FORMAT_LABELS = {"auto": "Detect it", "trellis": "Trellis JSON / JSONL", "rlm": "RLM log", "otlp": "OTLP/JSON",
                 "langsmith": "LangSmith runs"}
FLASH = "library-flash"  # what the last change did, shown after the rerun that shows its result
DELETING = "library-deleting"  # the trace whose deletion waits for its confirmation
DRAWN = "library-drawn"  # the library's revision (Store.library_revision) the page was last drawn with
POLL_SECONDS = 3  # how often the page looks for traces other processes wrote
LIVE = "● live"  # before the title of a trace that is receiving spans


def page() -> None:
    store = ui.store()
    st.title("Library")
    done = st.container()  # always there: an element shown only sometimes would move (and close) the expanders below
    if FLASH in st.session_state:
        done.success(st.session_state.pop(FLASH), icon=":material/check:")
    upload_section(store)

    st.session_state.pop(DRAWN, None)  # the watch's first run, now, notes what this run draws
    watch_the_store()
    now = datetime.now(timezone.utc)
    summaries = sorted(store.list_traces(), key=lambda s: not s.live(now))  # live ones first, else as stored
    if not summaries:
        st.info("The library is empty. Import trace files above, or run `trellis import sample_traces`.")
        st.stop()

    table = trace_table(store, summaries, now)
    shown, search = filtered(store, table)
    extra = st.pills("More columns", MORE + [c for c in ("scaffold", "score") if c in table], selection_mode="multi",
                     key="library-columns")
    live = sum(s.live(now) for s in summaries)
    st.caption(f"{len(shown)} of {len(table)} traces" + (f" · {live} {LIVE} (a span in the last "
               f"{LIVE_WINDOW.seconds} s)" if live else "") + " · click a row to open its trace")
    columns = [*SHOWN, *extra, *(["matches"] if "matches" in shown else [])]
    picked = st.dataframe(
        shown.drop(columns="models"),  # sets, for the model filter: nothing to show
        hide_index=True,
        width="stretch",
        column_order=columns,
        on_select="rerun",
        selection_mode="single-cell",  # a click on any cell of a row selects it: a row click opens the trace
        key="traces",
        column_config={
            **{name: st.column_config.Column(width=width) for name, width in SHOWN.items()},
            "tokens": st.column_config.NumberColumn(format="localized", width=SHOWN["tokens"]),
            "tags": st.column_config.ListColumn(width=SHOWN["tags"]),
            "cost $": st.column_config.NumberColumn(format="%.4f"),
            "started": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "imported": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
    )
    if picked.selection.cells:
        row, _column = picked.selection.cells[0]
        st.switch_page(pages.page("trace"), query_params={"trace": shown.iloc[row]["id"]})

    if search:
        node_matches(table, *search)
    manage_section(store, summaries)
    # What this run changed itself (a rename, a tag, a deletion above) must not look like another process's change
    # to the watch, which would draw the page again a few seconds later, under the person's hands.
    st.session_state[DRAWN] = store.library_revision()


@ui.fragment(run_every=POLL_SECONDS)
def watch_the_store() -> None:
    """Draw the page again when the library changed since it was drawn (another process's import, spans from
    the collector, a live trace gone quiet); widgets keep their values, so filters and choices stay.

    One small query a run: the page's own run notes the revision it draws, each rerun of this alone compares."""
    revision = ui.store().library_revision()
    if st.session_state.setdefault(DRAWN, revision) != revision:
        st.rerun(scope="app")


def trace_table(store, summaries, now: datetime) -> pd.DataFrame:
    models = store.node_models()
    annotations = store.annotation_counts()
    table = pd.DataFrame(
        {
            "title": [(f"{LIVE} · " if s.live(now) else "") + shorten(s.title or s.id, 200) for s in summaries],
            "task class": [s.task_class and shorten(s.task_class, 100) for s in summaries],
            "role": [s.role for s in summaries],
            "nodes": [s.node_count for s in summaries],
            "tokens": [s.tokens for s in summaries],
            "tags": [list(s.tags) for s in summaries],
            "model": [shorten(s.agent or ", ".join(models.get(s.id, [])), 200) or None for s in summaries],
            "models": [{s.agent, *models.get(s.id, [])} - {None} for s in summaries],  # for the filter, never shown
            "cost $": [s.cost for s in summaries],
            "depth": [s.depth for s in summaries],
            "status": ["failed calls" if s.error_count else "ok" for s in summaries],
            "annotations": [annotations.get(s.id, 0) for s in summaries],
            "started": [s.created_at for s in summaries],
            "imported": [s.imported_at for s in summaries],
            "id": [s.id for s in summaries],
        }
    )
    runs = {r.id: r for r in store.list_runs()}
    if runs:  # student runs: which scaffold each followed, and how it scored
        table["scaffold"] = [runs[s.id].followed if s.id in runs else None for s in summaries]
        table["score"] = [runs[s.id].score if s.id in runs else None for s in summaries]
    return table


def filtered(store, table: pd.DataFrame) -> tuple[pd.DataFrame, tuple | None]:
    """The rows the search and filters keep (with each one's number of matching nodes when searching), and
    the search's matching nodes and their count per trace (None when nothing is searched)."""
    # Three filters a row, with short placeholders: four a row cut them to "Choose o…" at 1024 px.
    search_col, class_col, role_col = st.columns([2, 1, 1])
    query = search_col.text_input("Search node text", placeholder="e.g. indemnify",
                                  help="Sub-problems, names, outputs, context, aggregation rules and errors.")
    chosen = {"task class": class_col.multiselect("Task class", sorted(table["task class"].dropna().unique()),
                                                  placeholder="any"),
              "role": role_col.multiselect("Role", sorted(table["role"].unique()), placeholder="any")}
    tag_col, model_col, status_col = st.columns([1, 2, 1])
    tags = tag_col.multiselect("Tags", store.all_tags(), help="Traces with any of these tags.", key="library-tags",
                               placeholder="any")
    models = model_col.multiselect("Model", sorted(set().union(*table["models"])), format_func=lambda m: shorten(m, 100),
                                   placeholder="any")
    chosen["status"] = status_col.multiselect("Status", ["ok", "failed calls"], placeholder="any")
    imported_col, started_col, _ = st.columns([1, 1, 2])
    days = {"imported": imported_col.date_input("Imported", value=(), format="YYYY-MM-DD", help="From – to",
                                                key="library-imported"),
            "started": started_col.date_input("Started", value=(), format="YYYY-MM-DD", key="library-started",
                                              help="From – to: when the run the trace records started")}
    if "scaffold" in table:
        chosen["scaffold"] = st.multiselect("Scaffold followed (student runs)", sorted(table["scaffold"].dropna().unique()))

    shown = table
    for column, values in chosen.items():
        if values:
            shown = shown[shown[column].isin(values)]
    if models:
        shown = shown[shown["models"].map(lambda named: bool(named & set(models)))]
    if tags:
        shown = shown[shown["tags"].map(lambda on: bool(set(on) & set(tags)))]
    for column, chosen_days in days.items():
        if chosen_days:
            start, end = _day_range(chosen_days)
            stamps = pd.to_datetime(shown[column], utc=True)
            shown = shown[(stamps >= start) & (stamps < end)]  # a trace with no such date is left out
    if not query.strip():
        return shown, None
    hits, hit_counts = store.search_nodes(query)
    return shown[shown["id"].isin(hit_counts)].assign(matches=lambda t: t["id"].map(hit_counts)), (hits, hit_counts)


def _day_range(days: tuple[date, ...]) -> tuple[datetime, datetime]:
    """From the first chosen day's start to the end of the last one (one day when only one is chosen), in UTC."""
    start = datetime.combine(days[0], time(), timezone.utc)
    return start, datetime.combine(days[-1], time(), timezone.utc) + timedelta(days=1)


def node_matches(table: pd.DataFrame, hits, hit_counts: dict[str, int]) -> None:
    total = sum(hit_counts.values())
    st.subheader("Matching nodes")
    if not hits:
        st.caption("No node contains that text.")
        return
    st.caption(f"{total:,} nodes in {len(hit_counts)} traces" + (f"; the first {len(hits)} below" if total > len(hits) else "")
               + " · click a row to open the node")
    titles = dict(zip(table["id"], table["title"], strict=True))
    node_table = pd.DataFrame(
        {
            "trace": [titles.get(h.trace_id, h.trace_id) for h in hits],
            "node": [h.node_id for h in hits],
            "kind": [h.kind for h in hits],
            "field": [h.field for h in hits],
            "text": [h.snippet for h in hits],
        }
    )
    picked = st.dataframe(node_table, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-cell",
                          key="node_hits")
    if picked.selection.cells:
        hit = hits[picked.selection.cells[0][0]]
        st.switch_page(pages.page("trace"), query_params={"trace": hit.trace_id, "node": hit.node_id})


# ------------------------------------------------------------------ upload

def upload_section(store) -> None:
    actor = ui.actor()
    may_import = actor.can(Action.IMPORT)
    with st.expander("Import trace files", icon=":material/upload:"):
        st.caption("Trellis JSON or JSONL, RLM logs, OpenTelemetry/OpenInference OTLP JSON, LangSmith run trees.")
        if not may_import:
            st.info(ui.plain(f"You are a {actor.role}: reviewers and above import traces."), icon=":material/lock:")
        with st.form("upload", clear_on_submit=True, border=False):
            uploads = st.file_uploader("Trace files", type=["json", "jsonl"], accept_multiple_files=True,
                                       disabled=not may_import)
            format_col, replace_col = st.columns(2)
            format = format_col.selectbox("Format", ["auto", *PARSERS], format_func=FORMAT_LABELS.get,
                                          disabled=not may_import)
            replace = replace_col.checkbox(
                "Replace traces already stored under the same id", disabled=not may_import,
                help="The file's nodes and title replace the stored ones; the trace's tags, annotations and runs stay.")
            submitted = st.form_submit_button("Import", disabled=not may_import)
        if submitted and uploads:
            imported = []
            progress = st.progress(0.0, text="Importing…")
            for done, upload in enumerate(uploads, start=1):
                imported += _import_one(store, actor, upload, format, replace)
                progress.progress(done / len(uploads), text=f"Read {done} of {len(uploads)} files")
            for trace_id, title in imported:  # each new trace one click away
                st.page_link(pages.page("trace"), label=f"Open {shorten(title, 80)}", icon=":material/open_in_new:",
                             query_params={"trace": trace_id})


def _import_one(store, actor, upload, format: str, replace: bool) -> list[tuple[str, str]]:
    """Import one uploaded file, saying how it went; the (id, title) of each trace it stored."""
    # Saved under its own name so the importer's error names the file the person chose.
    name = Path(upload.name).name or "upload.json"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(upload.getbuffer())
        try:
            imported = import_files(store, [path], format, replace=replace, actor=actor, on_identical=lambda message: st.info(
                ui.plain(message.replace(f"{folder}/", "")), icon=":material/check:"))
        except UnknownFormat as exc:
            st.error(ui.plain(f"{name}: {exc.message}; choose its format in the Format list and import it again"),
                     icon=":material/error:")
        except AlreadyStored as exc:
            st.error(ui.plain(f"{exc} (tick Replace traces already stored under the same id)"), icon=":material/error:")
        except InputError as exc:
            where = f"{name}:{exc.line}" if exc.line is not None else name
            st.error(ui.plain(f"{where}: {exc.message}"), icon=":material/error:")
        except TrellisError as exc:
            st.error(ui.plain(str(exc).replace(f"{folder}/", "")), icon=":material/error:")
        else:
            for t in imported:
                st.success(ui.plain(f"{name}: imported {t.trace.id} ({t.node_count:,} nodes)"))
                for warning in t.warnings:
                    st.warning(ui.plain(f"{name}: {warning}"))
            return [(t.trace.id, t.trace.title) for t in imported]
    return []


# ------------------------------------------------------------------ rename, tag, delete

def manage_section(store, summaries) -> None:
    actor = ui.actor()
    by_id = {s.id: s for s in summaries}
    with st.expander("Rename, tag or delete a trace", icon=":material/edit:"):
        # By id alone: a label that showed the title would change with a rename, and the choice would be lost.
        trace_id = st.selectbox("Trace", list(by_id), key="library-manage", help="The id of the trace to change.")
        chosen = by_id[trace_id]
        if not actor.can(Action.LABEL):
            st.info(ui.plain(f"You are a {actor.role}: reviewers and above rename and tag traces."), icon=":material/lock:")
        may_label = actor.can(Action.LABEL)
        with st.form(f"library-edit-{trace_id}", border=False):
            title = st.text_input("Title", chosen.title, disabled=not may_label)
            tags = st.multiselect("Tags", sorted({*store.all_tags(), *chosen.tags}), default=list(chosen.tags),
                                  accept_new_options=True, disabled=not may_label,
                                  help="Type a new tag and press Enter to add it.")
            saved = st.form_submit_button("Save", disabled=not may_label)
        if saved:
            _change(lambda: _save(store, actor, chosen, title, tags), f"Saved {trace_id}.")
        st.caption("To replace a trace, import a file with the same trace id above and tick "
                   "*Replace traces already stored under the same id*.")

        if not actor.can(Action.DELETE):
            st.caption(ui.plain(f"You are a {actor.role}: only admins delete traces."))
        elif st.session_state.get(DELETING) != trace_id:
            st.button("Delete…", icon=":material/delete:", on_click=_ask_to_delete, args=(trace_id,))
        else:
            _confirm_delete(store, actor, trace_id)


def _save(store, actor, chosen, title: str, tags: list[str]) -> None:
    """The title and tags as edited: each change that was made, and only those."""
    if " ".join(title.split()) != chosen.title:
        store.rename_trace(chosen.id, title, actor)
    if set(tags) != set(chosen.tags):
        store.change_tags(chosen.id, actor, add=tags, remove=[t for t in chosen.tags if t not in tags])


def _confirm_delete(store, actor, trace_id: str) -> None:
    links = store.trace_links(trace_id)
    what = f"It has {links.deleted()}: they are deleted with it." if links.cascades else "Nothing else is deleted with it."
    kept = f" Kept, still naming it: {links.kept()}." if links.kept() else ""
    st.warning(ui.plain(f"Delete {trace_id} for good? {what}{kept}"), icon=":material/warning:")
    yes, no = st.columns(2)
    if yes.button("Delete for good", type="primary"):
        st.session_state.pop(DELETING, None)
        _change(lambda: store.delete_trace(trace_id, actor, cascade=True),
                f"Deleted {trace_id}" + (f" with {links.deleted()}." if links.cascades else "."))
    no.button("Cancel", on_click=st.session_state.pop, args=(DELETING, None))


def _ask_to_delete(trace_id: str) -> None:
    st.session_state[DELETING] = trace_id


def _change(write, done: str) -> None:
    """Make a change, then show the library as it now is, saying what was done (or why it could not be)."""
    try:
        write()
    except TrellisError as exc:
        st.error(ui.plain(str(exc)), icon=":material/error:")
        return
    st.session_state[FLASH] = ui.plain(done)
    st.rerun()


if __name__ == "__main__":  # run as a script, as every module here may be: see pages/__init__.py
    pages.run()
