"""Traces and their nodes: importing, deleting, listing, loading and searching them."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import duckdb
import pyarrow as pa

from core.auth import Action, Actor
from core.errors import NotFound, StoreError, TrellisError
from core.models import (
    LIVE_WINDOW,
    SEARCHED_FIELDS,
    LoadedTrace,
    Node,
    NodeMatch,
    Trace,
    TraceSummary,
    collector_paused,
)
from core.node_table import NODE_ARROW_SCHEMA
from core.store.connection import ROW_GROUP, Connection, audit
from core.text import snippet

# Select list that turns an Arrow node table (with a `depth` column) into nodes rows.
_NODE_SELECT = ", ".join(
    ['"order" AS position' if n == "order" else f'"{n}"' for n in NODE_ARROW_SCHEMA.names] + ["depth"]
)
_NODE_COLUMNS = ", ".join(
    ["position" if n == "order" else n for n in NODE_ARROW_SCHEMA.names] + ["depth"]
)

_SUMMARY_COLUMNS = (
    "id, title, task_class, role, agent, model_size, source_format, created_at, imported_at, "
    "node_count, depth, tokens, cost, error_count, last_span_at, "
    "coalesce((SELECT list(tag ORDER BY tag) FROM trace_tags WHERE trace_id = id), [])"
)
_NODE_FIELDS = list(Node.model_fields)
# Timestamps travel as epoch microseconds: DuckDB's TIMESTAMPTZ-to-Python
# conversion goes through pytz and would dominate loading a large trace.
_NODE_LOAD_COLUMNS = ", ".join(
    f"epoch_us({n})" if n in ("start_time", "end_time") else ("position" if n == "order" else n) for n in _NODE_FIELDS
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# Each matching node once, with the first field that contains the query ($1, lower case) and that field's text.
_NODE_HITS = (
    "SELECT trace_id, id, kind, rowid AS r, "
    + "CASE "
    + " ".join(f"WHEN contains(lower({f}), $1) THEN '{f}'" for f in SEARCHED_FIELDS)
    + " END AS field, CASE "
    + " ".join(f"WHEN contains(lower({f}), $1) THEN {f}" for f in SEARCHED_FIELDS)
    + " END AS text FROM nodes WHERE field IS NOT NULL"
)


_TAG = re.compile(r"[a-z0-9][a-z0-9._:/-]{0,39}")
TAG_RULE = "a tag is 1 to 40 letters, digits and . _ : / -, starting with a letter or digit (kept in lower case)"


def parse_tag(text: str) -> str:
    """A tag as stored: trimmed and lower case; anything else is a one-line error."""
    tag = text.strip().lower()
    if not _TAG.fullmatch(tag):
        raise TrellisError(f"{text!r} is not a tag: {TAG_RULE}")
    return tag


class AlreadyStored(StoreError):
    """An import of a trace whose id is stored: who shows the error says how to replace it there."""


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class TraceLinks:
    """What else in the store points at a trace, and what deleting it does to each.

    Deleted with the trace, only when asked (``cascade``): its annotations (and their history), reviewers'
    comments on its nodes, the critique runs made on it and the student-run records it is the trace of
    (experiment runs among them). Kept,
    naming a trace that is gone: scaffolds drawn from it (reviewed work of their own) and the critique runs
    of other traces that compared against it. Its tags always go with it.
    """

    trace_id: str
    annotations: int = 0
    comments: int = 0
    critique_runs: int = 0
    runs: int = 0
    experiment_runs: int = 0  # of ``runs``, those an experiment made
    compared_by: int = 0  # critique runs of other traces that used this one as their reference
    scaffolds: tuple[str, ...] = ()  # ids of scaffolds drawn from it

    @property
    def cascades(self) -> bool:
        """Whether deleting the trace deletes other records too."""
        return bool(self.annotations or self.comments or self.critique_runs or self.runs)

    def deleted(self) -> str:
        """What deleting the trace deletes besides it, e.g. "13 annotations, 1 critique run and 2 runs"."""
        parts = [_count(self.annotations, "annotation") if self.annotations else "",
                 _count(self.comments, "comment") if self.comments else "",
                 _count(self.critique_runs, "critique run") if self.critique_runs else "",
                 _count(self.runs, "run") + (f" ({self.experiment_runs} in experiments)" if self.experiment_runs else "")
                 if self.runs else ""]
        parts = [p for p in parts if p]
        return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] if parts else "nothing else"

    def kept(self) -> str:
        """What keeps naming the trace once it is deleted, e.g. "1 scaffold drawn from it (s-1)"; "" for nothing."""
        parts = [f"{_count(len(self.scaffolds), 'scaffold')} drawn from it ({', '.join(self.scaffolds)})"
                 if self.scaffolds else "",
                 f"{_count(self.compared_by, 'critique run')} of other traces compared against it" if self.compared_by
                 else ""]
        return " and ".join(p for p in parts if p)


class TraceQueries(Connection):
    def add_traces(self, traces: list[tuple], *, actor: Actor, replace: bool = False) -> None:
        """Store validated traces in one transaction, each as (trace, node table, node depths, source file)
        or (..., source file, sha256 of the file's bytes).

        A trace id that is already stored is an error unless ``replace``.
        """
        actor.require(Action.IMPORT)
        with self._transaction() as cur:
            for trace, nodes, depth, source_file, *content_hash in traces:
                content_hash = content_hash[0] if content_hash else None
                if not replace and content_hash and cur.execute(
                        "SELECT count(*) FROM traces WHERE id = ? AND content_hash = ?", [trace.id, content_hash]).fetchone()[0]:
                    continue  # the same file, imported by another process since this one looked (import_files)
                replaced = self._insert_trace(cur, trace, nodes, depth, source_file, content_hash, replace)
                audit(cur, actor, "replace trace" if replaced else "import trace", trace.id, file=source_file)

    def _insert_trace(self, cur: duckdb.DuckDBPyConnection, trace: Trace, nodes: pa.Table, depth: list[int],
                      source_file: str | None, content_hash: str | None, replace: bool, *,
                      imported_at: datetime | None = None, last_span_at: datetime | None = None) -> bool:
        """Write one trace and its nodes in the caller's transaction; True when it replaced a stored one.
        ``imported_at`` (default: now) and ``last_span_at`` are for a trace `trellis collect` rebuilds."""
        exists = cur.execute("SELECT count(*) FROM traces WHERE id = ?", [trace.id]).fetchone()[0]
        if exists and not replace:
            raise AlreadyStored(f"trace {trace.id!r} is already in {self.path}; delete it first, or replace it")
        if exists:  # its tags, annotations and runs stay: they name the trace by id
            cur.execute("DELETE FROM nodes WHERE trace_id = ?", [trace.id])
            cur.execute("DELETE FROM traces WHERE id = ?", [trace.id])
        # DuckDB inserts an Arrow table in parallel, in order, only when it
        # comes in row-group-sized batches (2x faster than one big batch).
        staged = pa.Table.from_batches(
            nodes.append_column("depth", pa.array(depth, pa.int32())).to_batches(max_chunksize=ROW_GROUP)
        )
        cur.register("staged_nodes", staged)
        try:
            cur.execute(
                f"INSERT INTO nodes (trace_id, {_NODE_COLUMNS}) SELECT ?, {_NODE_SELECT} FROM staged_nodes",
                [trace.id],
            )
        finally:
            cur.unregister("staged_nodes")
        if exists:
            self._refuse_orphaned_annotations(cur, trace.id)
        cur.execute(
            """
            INSERT INTO traces
            SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, coalesce(?, now()),
                   count(*), max(depth), coalesce(sum(tokens_in), 0) + coalesce(sum(tokens_out), 0),
                   sum(cost), count(*) FILTER (WHERE status = 'error'), ?, ?
            FROM nodes WHERE trace_id = ?
            """,
            [
                trace.id,
                trace.title,
                trace.task,
                trace.task_class,
                trace.role,
                trace.agent,
                trace.model_size,
                trace.source_format,
                trace.created_at,
                json.dumps(trace.metadata),
                source_file,
                imported_at,
                content_hash,
                last_span_at,
                trace.id,
            ],
        )
        return bool(exists)

    def _refuse_orphaned_annotations(self, cur: duckdb.DuckDBPyConnection, trace_id: str) -> None:
        """A replaced trace keeps its annotations and comments only if each one's node is still in it."""
        missing = [n for (n,) in cur.execute(
            "SELECT DISTINCT node_id FROM (SELECT node_id FROM annotations WHERE trace_id = $t "
            "UNION ALL SELECT node_id FROM node_comments WHERE trace_id = $t) "
            "WHERE node_id IS NOT NULL AND node_id NOT IN (SELECT id FROM nodes WHERE trace_id = $t) ORDER BY 1",
            {"t": trace_id}).fetchall()]
        if missing:
            raise StoreError(
                f"trace {trace_id!r} cannot be replaced: it has annotations or comments on {_count(len(missing), 'node')} the new "
                f"file lacks ({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''}); delete it first "
                f"(`trellis delete {trace_id} --cascade`) to import the file as a new trace"
            )

    def delete_trace(self, trace_id: str, actor: Actor, *, cascade: bool = False) -> TraceLinks:
        [links] = self.delete_traces([trace_id], actor, cascade=cascade)
        return links

    def delete_traces(self, trace_ids: list[str], actor: Actor, *, cascade: bool = False) -> list[TraceLinks]:
        """Delete traces, all or none, and say what went with each (see TraceLinks).

        A trace with annotations, critique runs or run records is refused unless ``cascade``: then those go too,
        in the same transaction, each trace's audit row counting them."""
        actor.require(Action.DELETE)
        with self._transaction() as cur:
            all_links = []
            for trace_id in dict.fromkeys(trace_ids):
                self._require_trace(cur, trace_id)
                links = self._links(cur, trace_id)
                if links.cascades and not cascade:
                    raise StoreError(f"trace {trace_id} has {links.deleted()}; --cascade deletes them too")
                self._delete_one(cur, trace_id)
                audit(cur, actor, "delete trace", trace_id, annotations=links.annotations or None,
                      comments=links.comments or None,
                      critique_runs=links.critique_runs or None, runs=links.runs or None,
                      scaffolds_kept=list(links.scaffolds) or None)
                all_links.append(links)
        return all_links

    def trace_links(self, trace_id: str) -> TraceLinks:
        cur = self._cur
        self._require_trace(cur, trace_id)
        return self._links(cur, trace_id)

    def _links(self, cur: duckdb.DuckDBPyConnection, trace_id: str) -> TraceLinks:
        annotations, comments, critique_runs, compared_by, runs, experiment_runs = cur.execute(
            """
            SELECT (SELECT count(*) FROM annotations WHERE trace_id = $t),
                   (SELECT count(*) FROM node_comments WHERE trace_id = $t),
                   (SELECT count(*) FROM critique_runs WHERE trace_id = $t),
                   (SELECT count(*) FROM critique_runs WHERE reference_id = $t AND trace_id <> $t),
                   (SELECT count(*) FROM runs WHERE id = $t),
                   (SELECT count(*) FROM runs WHERE id = $t AND experiment_id IS NOT NULL)
            """,
            {"t": trace_id},
        ).fetchone()
        scaffolds = cur.execute(
            "SELECT DISTINCT scaffold_id FROM scaffold_versions "
            "WHERE list_contains(json_extract_string(content, '$.provenance.source_traces[*]'), ?) ORDER BY 1",
            [trace_id],
        ).fetchall()
        return TraceLinks(trace_id, annotations, comments, critique_runs, runs, experiment_runs, compared_by,
                          tuple(s for (s,) in scaffolds))

    def _delete_one(self, cur: duckdb.DuckDBPyConnection, trace_id: str) -> None:
        cur.execute("DELETE FROM annotation_events WHERE annotation_id IN "
                    "(SELECT id FROM annotations WHERE trace_id = ?)", [trace_id])
        for statement in ("DELETE FROM annotations WHERE trace_id = ?", "DELETE FROM node_comments WHERE trace_id = ?",
                          "DELETE FROM critique_runs WHERE trace_id = ?",
                          "DELETE FROM runs WHERE id = ?", "DELETE FROM trace_tags WHERE trace_id = ?",
                          "DELETE FROM received_spans WHERE trace_id = ?",  # a later span starts it anew
                          "DELETE FROM nodes WHERE trace_id = ?", "DELETE FROM traces WHERE id = ?"):
            cur.execute(statement, [trace_id])

    def rename_trace(self, trace_id: str, title: str, actor: Actor) -> None:
        actor.require(Action.LABEL)
        title = " ".join(title.split())
        if not title:
            raise TrellisError("a trace's title cannot be empty")
        with self._transaction() as cur:
            before = cur.execute("SELECT title FROM traces WHERE id = ?", [trace_id]).fetchone()
            if before is None:
                raise NotFound(f"no trace {trace_id!r} in {self.path}")
            cur.execute("UPDATE traces SET title = ? WHERE id = ?", [title, trace_id])
            audit(cur, actor, "rename trace", trace_id, before=before[0], after=title)

    def change_tags(self, trace_id: str, actor: Actor, *, add: Sequence[str] = (), remove: Sequence[str] = ()) -> list[str]:
        """Add and take off tags of a trace (adding one it has, or taking off one it lacks, changes nothing);
        returns its tags."""
        actor.require(Action.LABEL)
        added, removed = (list(dict.fromkeys(parse_tag(t) for t in tags)) for tags in (add, remove))
        with self._transaction() as cur:
            self._require_trace(cur, trace_id)
            cur.execute("DELETE FROM trace_tags WHERE trace_id = ? AND list_contains(?::VARCHAR[], tag)",
                        [trace_id, removed])
            cur.execute("INSERT INTO trace_tags SELECT ?, tag, ?, ? FROM unnest(?::VARCHAR[]) AS t(tag) "
                        "WHERE tag NOT IN (SELECT tag FROM trace_tags WHERE trace_id = ?)",
                        [trace_id, actor.name, datetime.now(timezone.utc), added, trace_id])
            audit(cur, actor, "tag trace", trace_id, added=added or None, removed=removed or None)
            return [t for (t,) in cur.execute("SELECT tag FROM trace_tags WHERE trace_id = ? ORDER BY tag",
                                               [trace_id]).fetchall()]

    def all_tags(self) -> list[str]:
        return [t for (t,) in self._cur.execute("SELECT DISTINCT tag FROM trace_tags ORDER BY tag").fetchall()]

    # ------------------------------------------------------------- reading

    def count_traces(self) -> int:
        return self._cur.execute("SELECT count(*) FROM traces").fetchone()[0]

    def traces_with_content(self, content_hash: str) -> list[str]:
        """Ids of the stored traces imported from a file with this sha256."""
        rows = self._cur.execute("SELECT id FROM traces WHERE content_hash = ? ORDER BY id", [content_hash]).fetchall()
        return [trace_id for (trace_id,) in rows]

    def list_traces(self) -> list[TraceSummary]:
        rows = self._cur.execute(
            f"SELECT {_SUMMARY_COLUMNS} FROM traces ORDER BY task_class NULLS LAST, role, id"
        ).fetchall()
        return [TraceSummary(*row[:-1], tags=tuple(row[-1])) for row in rows]

    def library_revision(self) -> tuple:
        """What changes when any trace is imported, replaced, deleted, renamed, tagged or receives a span, or
        stops being live (TraceSummary.live): one small query, cheap enough to ask every few seconds."""
        live_since = datetime.now(timezone.utc) - LIVE_WINDOW
        return self._cur.execute(
            "SELECT count(*), max(imported_at), max(last_span_at), count(*) FILTER (WHERE last_span_at > ?), "
            "(SELECT max(seq) FROM audit_log) FROM traces",
            [live_since],
        ).fetchone()

    def trace_revisions(self) -> dict[str, tuple]:
        """Per trace id, what changes when its nodes do (a replacing import, spans from the collector) or its title
        (a rename, perhaps in another process): a view cached before either is stale."""
        rows = self._cur.execute("SELECT id, imported_at, node_count, last_span_at, title FROM traces").fetchall()
        return {trace_id: tuple(revision) for trace_id, *revision in rows}

    def get_trace(self, trace_id: str) -> Trace:
        cur = self._cur
        row = cur.execute(
            "SELECT id, title, task, task_class, role, agent, model_size, source_format, created_at, metadata "
            "FROM traces WHERE id = ?",
            [trace_id],
        ).fetchone()
        if row is None:
            raise NotFound(f"no trace {trace_id!r} in {self.path}")
        fields = dict(zip(Trace.model_fields, row, strict=True))
        fields["metadata"] = json.loads(fields["metadata"]) if fields["metadata"] else {}
        return Trace.model_validate(fields)

    def load_trace(self, trace_id: str) -> LoadedTrace:
        """The trace and all its nodes, in the order they were imported."""
        trace = self.get_trace(trace_id)
        # Column by column through Arrow: about twice as fast as fetchall() row by row.
        # No ORDER BY: a plain scan keeps insertion order, and a sort would cost more than the scan.
        table = self._cur.execute(f"SELECT {_NODE_LOAD_COLUMNS} FROM nodes WHERE trace_id = ?", [trace_id]).to_arrow_table()
        # Building many objects sets off repeated full garbage collections that free nothing.
        with collector_paused():
            columns = dict(zip(_NODE_FIELDS, (column.to_pylist() for column in table.columns), strict=True))
            for name in ("start_time", "end_time"):
                # timedelta(0, 0, us): keyword arguments would make this the slowest step.
                columns[name] = [None if us is None else _EPOCH + timedelta(0, 0, us) for us in columns[name]]
            columns["metadata"] = [json.loads(m) if m else {} for m in columns["metadata"]]
            nodes = [Node.from_store(dict(zip(_NODE_FIELDS, row))) for row in zip(*columns.values())]
        return LoadedTrace(trace=trace, nodes=nodes)

    def agent_history(self, agent: str | None) -> dict[str, Any]:
        """What an agent's stored traces show it handled: depth, fan-out, context, failures."""
        row = self._cur.execute(
            """
            WITH mine AS (SELECT id FROM traces WHERE agent IS NOT DISTINCT FROM ?),
                 fanout AS (SELECT n.trace_id, n.parent_id, count(*) AS children FROM nodes n
                            WHERE n.trace_id IN (SELECT id FROM mine) AND n.parent_id IS NOT NULL
                            GROUP BY ALL)
            SELECT (SELECT count(*) FROM mine),
                   (SELECT max(depth) FROM traces WHERE id IN (SELECT id FROM mine) AND error_count = 0),
                   (SELECT max(depth) FROM traces WHERE id IN (SELECT id FROM mine)),
                   (SELECT max(children) FROM fanout),
                   (SELECT median(children) FROM fanout),
                   (SELECT max(context_tokens) FROM nodes WHERE trace_id IN (SELECT id FROM mine) AND status = 'ok'),
                   (SELECT max(context_chars) FROM nodes WHERE trace_id IN (SELECT id FROM mine) AND status = 'ok'),
                   (SELECT count(*) FILTER (WHERE status = 'error') / greatest(count(*), 1) FROM nodes
                    WHERE trace_id IN (SELECT id FROM mine))
            """,
            [agent],
        ).fetchone()
        keys = ["traces", "reliable_depth", "max_depth", "max_fanout", "median_fanout",
                "max_context_tokens", "max_context_chars", "failure_rate"]
        return dict(zip(keys, row, strict=True))

    def search_nodes(self, query: str, limit: int = 200) -> tuple[list[NodeMatch], dict[str, int]]:
        """Nodes whose text contains ``query`` (any case): the first ``limit`` by trace and import
        order, and how many nodes match in each trace. A node matches on the first field of
        SEARCHED_FIELDS that contains the query."""
        needle = query.strip().lower()
        if not needle:
            return [], {}
        cur = self._cur
        counts = dict(
            cur.execute(f"SELECT trace_id, count(*) FROM ({_NODE_HITS}) GROUP BY trace_id", [needle]).fetchall()
        )
        rows = cur.execute(
            f"SELECT trace_id, id, kind, field, text FROM ({_NODE_HITS}) ORDER BY trace_id, r LIMIT ?", [needle, limit]
        ).fetchall()
        hits = [NodeMatch(t, n, k, f, snippet(text, text.lower().find(needle), len(needle))) for t, n, k, f, text in rows]
        return hits, counts

    def node_models(self) -> dict[str, list[str]]:
        """The models named by each trace's nodes, per trace id."""
        rows = self._cur.execute(
            "SELECT trace_id, list(DISTINCT model ORDER BY model) FROM nodes WHERE model IS NOT NULL GROUP BY trace_id"
        ).fetchall()
        return dict(rows)

