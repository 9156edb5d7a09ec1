"""Library: every trace in a table, filters, full-text search over node text, and upload."""

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

import pages
from core.auth import Action
from core.errors import InputError, TrellisError
from core.importers import import_files
from core.text import shorten
from pages import ui


def page() -> None:
    store = ui.store()
    st.title("Library")

    # ------------------------------------------------------------------ upload

    actor = ui.actor()
    with st.expander("Import trace files", icon=":material/upload:"):
        st.caption("Trellis JSON or JSONL, RLM logs, OpenTelemetry/OpenInference OTLP JSON, LangSmith run trees.")
        if not actor.can(Action.IMPORT):
            st.info(ui.plain(f"You are a {actor.role}: reviewers and above import traces."), icon=":material/lock:")
        with st.form("upload", clear_on_submit=True, border=False):
            uploads = st.file_uploader("Trace files", type=["json", "jsonl"], accept_multiple_files=True,
                                       disabled=not actor.can(Action.IMPORT))
            submitted = st.form_submit_button("Import", disabled=not actor.can(Action.IMPORT))
        if submitted and uploads:
            progress = st.progress(0.0, text="Importing…")
            for done, upload in enumerate(uploads, start=1):
                # Saved under its own name so the importer's error names the file the person chose.
                name = Path(upload.name).name or "upload.json"
                with tempfile.TemporaryDirectory() as folder:
                    path = Path(folder) / name
                    path.write_bytes(upload.getbuffer())
                    try:
                        imported = import_files(store, [path], actor=actor, on_identical=lambda message: st.info(
                            ui.plain(message.replace(f"{folder}/", "")), icon=":material/check:"))
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
                progress.progress(done / len(uploads), text=f"Read {done} of {len(uploads)} files")

    # ----------------------------------------------------------------- table

    summaries = store.list_traces()
    if not summaries:
        st.info("The library is empty. Import trace files above, or run `trellis import sample_traces`.")
        st.stop()

    models = store.node_models()
    annotations = store.annotation_counts()
    table = pd.DataFrame(
        {
            "open": [pages.url("trace", trace=s.id) for s in summaries],
            "title": [shorten(s.title or s.id, 200) for s in summaries],
            "task class": [s.task_class and shorten(s.task_class, 100) for s in summaries],
            "role": [s.role for s in summaries],
            "model": [shorten(s.agent or ", ".join(models.get(s.id, [])), 200) or None for s in summaries],
            "status": ["failed calls" if s.error_count else "ok" for s in summaries],
            "nodes": [s.node_count for s in summaries],
            "depth": [s.depth for s in summaries],
            "tokens": [s.tokens for s in summaries],
            "cost $": [s.cost for s in summaries],
            "annotations": [annotations.get(s.id, 0) for s in summaries],
            "created": [s.created_at or s.imported_at for s in summaries],
            "id": [s.id for s in summaries],
        }
    )
    runs = {r.id: r for r in store.list_runs()}
    if runs:  # student runs: which scaffold each followed, and how it scored
        table.insert(5, "scaffold", [runs[s.id].followed if s.id in runs else None for s in summaries])
        table.insert(6, "score", [runs[s.id].score if s.id in runs else None for s in summaries])
    all_models = sorted({m for s in summaries for m in ([s.agent] if s.agent else models.get(s.id, []))})

    search_col, *filter_cols = st.columns([3, 2, 2, 2, 2])
    query = search_col.text_input("Search node text", placeholder="e.g. indemnify", help="Sub-problems, names, outputs, context, aggregation rules and errors.")
    chosen = {
        "task class": filter_cols[0].multiselect("Task class", sorted(table["task class"].dropna().unique())),
        "role": filter_cols[1].multiselect("Role", sorted(table["role"].unique())),
        "status": filter_cols[3].multiselect("Status", ["ok", "failed calls"]),
    }
    chosen_models = filter_cols[2].multiselect("Model", all_models, format_func=lambda m: shorten(m, 100))
    if runs:
        chosen["scaffold"] = st.multiselect("Scaffold followed (student runs)", sorted(table["scaffold"].dropna().unique()))

    shown = table
    for column, values in chosen.items():
        if values:
            shown = shown[shown[column].isin(values)]
    if chosen_models:
        keep = {s.id for s in summaries if set(chosen_models) & {s.agent, *models.get(s.id, [])}}
        shown = shown[shown["id"].isin(keep)]

    hits, hit_counts = store.search_nodes(query) if query.strip() else ([], {})
    if query.strip():
        shown = shown[shown["id"].isin(hit_counts)].assign(matches=lambda t: t["id"].map(hit_counts))

    st.caption(f"{len(shown)} of {len(table)} traces · click a row to open it, or the link to share it")
    selection = st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="traces",
        column_config={
            "open": st.column_config.LinkColumn("open", display_text="open ↗", width="small"),
            "tokens": st.column_config.NumberColumn(format="localized"),
            "cost $": st.column_config.NumberColumn(format="%.4f"),
            "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
    )
    if selection.selection.rows:
        st.switch_page(pages.page("trace"), query_params={"trace": shown.iloc[selection.selection.rows[0]]["id"]})

    # ------------------------------------------------------------ node matches

    if query.strip():
        total = sum(hit_counts.values())
        st.subheader("Matching nodes")
        if not hits:
            st.caption("No node contains that text.")
        else:
            st.caption(f"{total:,} nodes in {len(hit_counts)} traces" + (f"; the first {len(hits)} below" if total > len(hits) else ""))
            titles = dict(zip(table["id"], table["title"], strict=True))
            node_table = pd.DataFrame(
                {
                    "open": [pages.url("trace", trace=h.trace_id, node=h.node_id) for h in hits],
                    "trace": [titles.get(h.trace_id, h.trace_id) for h in hits],
                    "node": [h.node_id for h in hits],
                    "kind": [h.kind for h in hits],
                    "field": [h.field for h in hits],
                    "text": [h.snippet for h in hits],
                }
            )
            picked = st.dataframe(
                node_table,
                hide_index=True,
                width="stretch",
                on_select="rerun",
                selection_mode="single-row",
                key="node_hits",
                column_config={"open": st.column_config.LinkColumn("open", display_text="open ↗", width="small")},
            )
            if picked.selection.rows:
                hit = hits[picked.selection.rows[0]]
                st.switch_page(pages.page("trace"), query_params={"trace": hit.trace_id, "node": hit.node_id})


if __name__ == "__main__":  # run as a script, as every module here may be: see pages/__init__.py
    pages.run()
