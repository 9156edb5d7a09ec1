"""The DuckDB store. This module owns the connection and holds all of Trellis's SQL.

One process opens the database file read-write; inside it, each thread works
through its own cursor of the one connection. Writes that span several
statements run in one explicit transaction, so an import is all-or-nothing.
"""

from __future__ import annotations

import codecs
import gc
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.auth import Action, Actor, AuditEntry, Grant, Role
from core.critique.models import Annotation, AnnotationEvent, CritiqueRun
from core.errors import InputError, NotFound, StoreError
from core.models import (
    MAX_NESTING, MAX_NODE_BYTES, MB, NODE_LIMIT, NON_FINITE, TOO_DEEP, Node, NodeKind, Status, Trace, nested_too_deep,
    non_finite_at, whole_number_problem,
)
from core.scaffolds.models import (
    Scaffold, ScaffoldConflict, ScaffoldError, ScaffoldEvent, ScaffoldStatus, ScaffoldSummary, ScaffoldVersion,
    check_transition, new_scaffold_id,
)
from core.scaffolds.render import searchable_text

DEFAULT_DB = "trellis.duckdb"


def default_db_path() -> str:
    return os.environ.get("TRELLIS_DB") or DEFAULT_DB


# ---------------------------------------------------------------- migrations
# Append-only: never edit or reorder a step that has shipped; add a new one.


def _m001_traces_and_nodes(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(
        """
        CREATE TABLE traces (
            id VARCHAR NOT NULL,
            title VARCHAR NOT NULL,
            task VARCHAR,
            task_class VARCHAR,
            role VARCHAR NOT NULL,
            agent VARCHAR,
            model_size VARCHAR,
            source_format VARCHAR NOT NULL,
            created_at TIMESTAMPTZ,
            metadata JSON,
            source_file VARCHAR,
            imported_at TIMESTAMPTZ NOT NULL,
            node_count BIGINT NOT NULL,
            depth INTEGER NOT NULL,
            tokens BIGINT NOT NULL,
            cost DOUBLE,
            error_count BIGINT NOT NULL
        )
        """
    )
    cur.execute(
        """
        CREATE TABLE nodes (
            trace_id VARCHAR NOT NULL,
            id VARCHAR NOT NULL,
            parent_id VARCHAR,
            position BIGINT NOT NULL,
            depth INTEGER NOT NULL,
            kind VARCHAR NOT NULL,
            name VARCHAR,
            subproblem VARCHAR,
            context VARCHAR,
            context_chars BIGINT,
            context_tokens BIGINT,
            output VARCHAR,
            aggregation VARCHAR,
            model VARCHAR,
            tokens_in BIGINT,
            tokens_out BIGINT,
            cost DOUBLE,
            start_time TIMESTAMPTZ,
            end_time TIMESTAMPTZ,
            status VARCHAR NOT NULL,
            error VARCHAR,
            metadata JSON
        )
        """
    )


def _m002_critique(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(
        """
        CREATE TABLE critique_runs (
            id VARCHAR NOT NULL,
            trace_id VARCHAR NOT NULL,
            reference_id VARCHAR,
            teacher VARCHAR NOT NULL,
            settings JSON,
            started_at TIMESTAMPTZ NOT NULL,
            duration_s DOUBLE NOT NULL,
            tokens_in BIGINT,
            tokens_out BIGINT,
            cost DOUBLE,
            finding_count INTEGER NOT NULL
        )
        """
    )
    cur.execute(
        """
        CREATE TABLE annotations (
            id VARCHAR NOT NULL,
            trace_id VARCHAR NOT NULL,
            node_id VARCHAR,
            run_id VARCHAR,
            category VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,
            rationale VARCHAR NOT NULL,
            suggested_fix VARCHAR,
            suggested_subproblems JSON,
            author VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            reviewer VARCHAR,
            reviewed_at TIMESTAMPTZ,
            created_at TIMESTAMPTZ NOT NULL
        )
        """
    )
    cur.execute(
        """
        CREATE TABLE annotation_events (
            annotation_id VARCHAR NOT NULL,
            happened_at TIMESTAMPTZ NOT NULL,
            actor VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            changes JSON
        )
        """
    )


def _m003_scaffolds(cur: duckdb.DuckDBPyConnection) -> None:
    # Versions are never updated: a save inserts a version, a review inserts an event,
    # and a version's status is the status its latest event gave it.
    cur.execute(
        """
        CREATE TABLE scaffold_versions (
            scaffold_id VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            kind VARCHAR NOT NULL,
            title VARCHAR NOT NULL,
            task_class VARCHAR,
            content JSON NOT NULL,
            search_text VARCHAR NOT NULL,
            based_on INTEGER,
            author VARCHAR NOT NULL,
            comment VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (scaffold_id, version)
        )
        """
    )
    cur.execute("CREATE SEQUENCE scaffold_event_seq")
    cur.execute(
        """
        CREATE TABLE scaffold_events (
            seq BIGINT NOT NULL DEFAULT nextval('scaffold_event_seq'),
            scaffold_id VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            status VARCHAR NOT NULL,
            actor VARCHAR NOT NULL,
            comment VARCHAR NOT NULL,
            happened_at TIMESTAMPTZ NOT NULL
        )
        """
    )


def _m004_trace_content_hash(cur: duckdb.DuckDBPyConnection) -> None:
    # sha256 of the file a trace was imported from, so importing the same bytes again is
    # recognised before the file is parsed (a rerun after a crash that followed the commit).
    cur.execute("ALTER TABLE traces ADD COLUMN content_hash VARCHAR")


def _m005_users_and_audit(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(
        """
        CREATE TABLE users (
            email VARCHAR PRIMARY KEY,
            role VARCHAR NOT NULL,
            granted_by VARCHAR NOT NULL,
            granted_at TIMESTAMPTZ NOT NULL
        )
        """
    )
    cur.execute("CREATE SEQUENCE audit_seq")
    cur.execute(
        """
        CREATE TABLE audit_log (
            seq BIGINT NOT NULL DEFAULT nextval('audit_seq'),
            happened_at TIMESTAMPTZ NOT NULL,
            actor VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            target VARCHAR NOT NULL,
            details JSON
        )
        """
    )


MIGRATIONS: list[Callable[[duckdb.DuckDBPyConnection], None]] = [
    _m001_traces_and_nodes,
    _m002_critique,
    _m003_scaffolds,
    _m004_trace_content_hash,
    _m005_users_and_audit,
]


# ------------------------------------------------------------ node columns
# The nodes table's columns in the order Node declares its fields, as Arrow
# types. Everything that moves nodes in bulk (importers, the store) uses this.

NODE_ARROW_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("parent_id", pa.string()),
        ("order", pa.int64()),
        ("kind", pa.string()),
        ("name", pa.string()),
        ("subproblem", pa.string()),
        ("context", pa.string()),
        ("context_chars", pa.int64()),
        ("context_tokens", pa.int64()),
        ("output", pa.string()),
        ("aggregation", pa.string()),
        ("model", pa.string()),
        ("tokens_in", pa.int64()),
        ("tokens_out", pa.int64()),
        ("cost", pa.float64()),
        ("start_time", pa.timestamp("us", tz="UTC")),
        ("end_time", pa.timestamp("us", tz="UTC")),
        ("status", pa.string()),
        ("error", pa.string()),
        ("metadata", pa.string()),  # JSON text
    ]
)
assert NODE_ARROW_SCHEMA.names == list(Node.model_fields), "NODE_ARROW_SCHEMA drifted from Node"

# The same columns as DuckDB types, for reading Trellis JSONL straight into the engine.
_DUCK_TYPES = {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.float64(): "DOUBLE"}
_JSONL_COLUMNS = {
    f.name: ("TIMESTAMPTZ" if pa.types.is_timestamp(f.type) else _DUCK_TYPES[f.type]) for f in NODE_ARROW_SCHEMA
}
_JSONL_COLUMNS["metadata"] = "JSON"
_JSONL_COLUMNS |= {"format": "VARCHAR", "version": "VARCHAR", "trace": "JSON"}

# Select list that turns an Arrow node table (with a `depth` column) into nodes rows.
_NODE_SELECT = ", ".join(
    ['"order" AS position' if n == "order" else f'"{n}"' for n in NODE_ARROW_SCHEMA.names] + ["depth"]
)
_NODE_COLUMNS = ", ".join(
    ["position" if n == "order" else n for n in NODE_ARROW_SCHEMA.names] + ["depth"]
)


def nodes_to_arrow(nodes: list[Node]) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in NODE_ARROW_SCHEMA.names}
    for node in nodes:
        for name, values in columns.items():
            values.append(getattr(node, name))
    columns["metadata"] = [json.dumps(m) if m else None for m in columns["metadata"]]
    return pa.table(columns, schema=NODE_ARROW_SCHEMA)


def largest_node(nodes: pa.Table) -> tuple[int, int]:
    """(row, size in bytes) of the node holding the most text: its string fields and metadata, as UTF-8."""
    sizes = sum(
        pc.binary_length(nodes.column(f.name)).fill_null(0).to_numpy().astype(np.int64)
        for f in NODE_ARROW_SCHEMA if f.type == pa.string()
    )
    row = int(np.argmax(sizes))
    return row, int(sizes[row])


# ------------------------------------------------------------------ results


@dataclass(frozen=True)
class TraceSummary:
    """One row of the library: a trace and its computed totals."""

    id: str
    title: str
    task_class: str | None
    role: str
    agent: str | None
    model_size: str | None
    source_format: str
    created_at: datetime | None
    imported_at: datetime
    node_count: int
    depth: int
    tokens: int
    cost: float | None
    error_count: int


_SUMMARY_COLUMNS = (
    "id, title, task_class, role, agent, model_size, source_format, created_at, imported_at, "
    "node_count, depth, tokens, cost, error_count"
)


@dataclass
class LoadedTrace:
    trace: Trace
    nodes: list[Node]


# -------------------------------------------------------------------- store


class Store:
    """A Trellis database: ``Store(":memory:")`` or ``Store("trellis.duckdb")``."""

    def __init__(self, path: str | Path = ":memory:"):
        self.path = str(path)
        try:
            self._conn = duckdb.connect(self.path)
        except duckdb.IOException as exc:
            raise StoreError(_explain_open_error(self.path, exc)) from None
        self._conn.execute("SET TimeZone = 'UTC'")
        self._conn.execute("SET enable_progress_bar = false")
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._migrate()

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def _cur(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._local.cursor = self._conn.cursor()
        return cur

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._write_lock:
            cur = self._cur
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def _migrate(self) -> None:
        cur = self._cur
        cur.execute(
            "CREATE TABLE IF NOT EXISTS migrations (name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        )
        done = {name for (name,) in cur.execute("SELECT name FROM migrations").fetchall()}
        for step in MIGRATIONS:
            if step.__name__ in done:
                continue
            with self._transaction() as tx:
                step(tx)
                tx.execute("INSERT INTO migrations VALUES (?, now())", [step.__name__])

    def applied_migrations(self) -> list[str]:
        return [n for (n,) in self._cur.execute("SELECT name FROM migrations ORDER BY applied_at, name").fetchall()]

    # ------------------------------------------------------------- writing

    def add_traces(self, traces: list[tuple], *, actor: Actor, replace: bool = False) -> None:
        """Store validated traces in one transaction, each as (trace, node table, node depths, source file)
        or (..., source file, sha256 of the file's bytes).

        A trace id that is already stored is an error unless ``replace``.
        """
        actor.require(Action.IMPORT)
        with self._transaction() as cur:
            for trace, nodes, depth, source_file, *content_hash in traces:
                exists = cur.execute("SELECT count(*) FROM traces WHERE id = ?", [trace.id]).fetchone()[0]
                if exists and not replace:
                    raise StoreError(
                        f"trace {trace.id!r} is already in {self.path} (delete it first, or import with --replace)"
                    )
                if exists:
                    cur.execute("DELETE FROM nodes WHERE trace_id = ?", [trace.id])
                    cur.execute("DELETE FROM traces WHERE id = ?", [trace.id])
                # DuckDB inserts an Arrow table in parallel, in order, only when it
                # comes in row-group-sized batches (2x faster than one big batch).
                staged = pa.Table.from_batches(
                    nodes.append_column("depth", pa.array(depth, pa.int32())).to_batches(max_chunksize=_ROW_GROUP)
                )
                cur.register("staged_nodes", staged)
                try:
                    cur.execute(
                        f"INSERT INTO nodes (trace_id, {_NODE_COLUMNS}) SELECT ?, {_NODE_SELECT} FROM staged_nodes",
                        [trace.id],
                    )
                finally:
                    cur.unregister("staged_nodes")
                cur.execute(
                    """
                    INSERT INTO traces
                    SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now(),
                           count(*), max(depth), coalesce(sum(tokens_in), 0) + coalesce(sum(tokens_out), 0),
                           sum(cost), count(*) FILTER (WHERE status = 'error'), ?
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
                        content_hash[0] if content_hash else None,
                        trace.id,
                    ],
                )
                _audit(cur, actor, "replace trace" if exists else "import trace", trace.id, file=source_file)

    def delete_trace(self, trace_id: str, actor: Actor) -> None:
        actor.require(Action.DELETE)
        with self._transaction() as cur:
            self._require_trace(cur, trace_id)
            cur.execute("DELETE FROM nodes WHERE trace_id = ?", [trace_id])
            cur.execute("DELETE FROM traces WHERE id = ?", [trace_id])
            _audit(cur, actor, "delete trace", trace_id)

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
        return [TraceSummary(*row) for row in rows]

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

    # ------------------------------------------------------------- critique

    def add_critique(self, run: CritiqueRun, annotations: list[Annotation], actor: Actor) -> None:
        """Store a critique run and its proposed annotations, all or nothing."""
        actor.require(Action.CRITIQUE)
        with self._transaction() as cur:
            self._require_trace(cur, run.trace_id)
            _audit(cur, actor, "critique", run.trace_id, run=run.id, teacher=run.teacher, findings=len(annotations))
            cur.execute(
                "INSERT INTO critique_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run.id, run.trace_id, run.reference_id, run.teacher, json.dumps(run.settings), run.started_at,
                 run.duration_s, run.tokens_in, run.tokens_out, run.cost, run.finding_count],
            )
            for a in annotations:
                cur.execute(
                    f"INSERT INTO annotations ({_ANNOTATION_COLUMNS}) VALUES ({', '.join('?' * len(_ANNOTATION_FIELDS))})",
                    _annotation_values(a),
                )
                cur.execute(
                    "INSERT INTO annotation_events VALUES (?, ?, ?, 'proposed', NULL)", [a.id, a.created_at, a.author]
                )

    def list_annotations(self, trace_id: str) -> list[Annotation]:
        rows = self._cur.execute(
            f"SELECT {_ANNOTATION_COLUMNS} FROM annotations WHERE trace_id = ? ORDER BY created_at, rowid", [trace_id]
        ).fetchall()
        return [_annotation_from_row(row) for row in rows]

    def get_annotation(self, annotation_id: str) -> Annotation:
        row = self._cur.execute(
            f"SELECT {_ANNOTATION_COLUMNS} FROM annotations WHERE id = ?", [annotation_id]
        ).fetchone()
        if row is None:
            raise NotFound(f"no annotation {annotation_id!r}")
        return _annotation_from_row(row)

    def review_annotation(self, annotation_id: str, status: str, actor: Actor, changes: dict[str, Any]) -> Annotation:
        """Record a person's decision (and any edits to the finding) with its history event."""
        actor.require(Action.REVIEW)
        reviewer = actor.name
        with self._transaction() as cur:
            before = cur.execute(
                f"SELECT {_ANNOTATION_COLUMNS} FROM annotations WHERE id = ?", [annotation_id]
            ).fetchone()
            if before is None:
                raise NotFound(f"no annotation {annotation_id!r}")
            updated = _annotation_from_row(before).model_copy(
                update={**changes, "status": status, "reviewer": reviewer, "reviewed_at": datetime.now(timezone.utc)}
            )
            cur.execute(
                f"UPDATE annotations SET {', '.join(f'{f} = ?' for f in _ANNOTATION_FIELDS)} WHERE id = ?",
                [*_annotation_values(updated), annotation_id],
            )
            cur.execute(
                "INSERT INTO annotation_events VALUES (?, ?, ?, ?, ?)",
                [annotation_id, updated.reviewed_at, reviewer, status, json.dumps(changes, default=str)],
            )
            _audit(cur, actor, f"annotation {status}", annotation_id, trace=updated.trace_id, changes=changes)
        return updated

    def annotation_history(self, annotation_id: str) -> list[AnnotationEvent]:
        rows = self._cur.execute(
            "SELECT annotation_id, happened_at, actor, action, changes FROM annotation_events "
            "WHERE annotation_id = ? ORDER BY happened_at, rowid",
            [annotation_id],
        ).fetchall()
        return [
            AnnotationEvent(annotation_id=r[0], happened_at=r[1], actor=r[2], action=r[3],
                            changes=json.loads(r[4]) if r[4] else {})
            for r in rows
        ]

    def annotation_counts(self) -> dict[str, int]:
        """Annotations per trace, rejected ones left out."""
        rows = self._cur.execute(
            "SELECT trace_id, count(*) FROM annotations WHERE status <> 'rejected' GROUP BY trace_id"
        ).fetchall()
        return dict(rows)

    def list_critique_runs(self, trace_id: str) -> list[CritiqueRun]:
        rows = self._cur.execute(
            "SELECT id, trace_id, reference_id, teacher, settings, started_at, duration_s, tokens_in, tokens_out, "
            "cost, finding_count FROM critique_runs WHERE trace_id = ? ORDER BY started_at DESC",
            [trace_id],
        ).fetchall()
        fields = list(CritiqueRun.model_fields)
        return [
            CritiqueRun.model_validate({**dict(zip(fields, r, strict=True)), "settings": json.loads(r[4] or "{}")})
            for r in rows
        ]

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

    # ------------------------------------------------------------ scaffolds

    def save_scaffold(
        self, scaffold_id: str | None, content: Scaffold, *, author: Actor, comment: str = "", based_on: int | None = None
    ) -> ScaffoldVersion:
        """Save ``content`` as a new draft version; a new scaffold when ``scaffold_id`` is None.

        ``based_on`` names the version the edit started from. If anyone saved a
        later one since, nothing is written and ScaffoldConflict carries theirs.
        """
        author.require(Action.EDIT)
        if scaffold_id is None:
            scaffold_id, based_on = new_scaffold_id(content), None
        for _ in range(_SAVE_ATTEMPTS):
            try:
                with self._transaction() as cur:
                    version = self._next_scaffold_version(cur, scaffold_id, based_on)
                    now = datetime.now(timezone.utc)
                    cur.execute(
                        "INSERT INTO scaffold_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [scaffold_id, version, content.kind, content.title, content.task_class,
                         content.model_dump_json(), searchable_text(content), based_on, author.name, comment, now],
                    )
                    cur.execute(
                        "INSERT INTO scaffold_events (scaffold_id, version, status, actor, comment, happened_at) "
                        "VALUES (?, ?, 'draft', ?, ?, ?)",
                        [scaffold_id, version, author.name, comment, now],
                    )
                    _audit(cur, author, "save scaffold", f"{scaffold_id} v{version}", comment=comment, based_on=based_on)
                return self.get_scaffold(scaffold_id, version)
            except (duckdb.ConstraintException, duckdb.TransactionException):
                # Another connection to the file is saving the same version number. Once its
                # save is visible, the check in _next_scaffold_version refuses this one with it.
                time.sleep(0.02)
        raise StoreError(f"could not save scaffold {scaffold_id!r}: the database stayed busy; try again")

    def _next_scaffold_version(self, cur: duckdb.DuckDBPyConnection, scaffold_id: str, based_on: int | None) -> int:
        latest = cur.execute("SELECT max(version) FROM scaffold_versions WHERE scaffold_id = ?", [scaffold_id]).fetchone()[0]
        if latest is None and based_on is not None:
            raise NotFound(f"no scaffold {scaffold_id!r} in {self.path}")
        if latest != based_on:
            raise ScaffoldConflict(scaffold_id, based_on, self._scaffold_version(cur, scaffold_id, latest))
        return (latest or 0) + 1

    def get_scaffold(self, scaffold_id: str, version: int | None = None) -> ScaffoldVersion:
        """One version (the latest by default), with the status it has now."""
        cur = self._cur
        if version is None:
            version = cur.execute(
                "SELECT max(version) FROM scaffold_versions WHERE scaffold_id = ?", [scaffold_id]
            ).fetchone()[0]
            if version is None:
                raise NotFound(f"no scaffold {scaffold_id!r} in {self.path}")
        return self._scaffold_version(cur, scaffold_id, version)

    def reusable_scaffold(self, scaffold_id: str, version: int | None = None) -> ScaffoldVersion:
        """The approved version to hand to an agent: the one asked for, or the newest approved one."""
        if version is not None:
            found = self.get_scaffold(scaffold_id, version)
            if not found.reusable:
                raise ScaffoldError(f"{found.label} is {found.status}; only approved versions are offered for reuse")
            return found
        approved = self._cur.execute(
            f"{_SCAFFOLD_STATE} SELECT max(version) FROM state WHERE scaffold_id = ? AND status = 'approved'",
            [scaffold_id],
        ).fetchone()[0]
        if approved is None:
            self.get_scaffold(scaffold_id)  # NotFound if there is no such scaffold at all
            raise ScaffoldError(f"scaffold {scaffold_id!r} has no approved version; a reviewer has to approve one first")
        return self.get_scaffold(scaffold_id, approved)

    def scaffold_history(self, scaffold_id: str) -> list[ScaffoldVersion]:
        """Every version, oldest first."""
        rows = self._cur.execute(
            f"{_SCAFFOLD_STATE} {_SCAFFOLD_SELECT} WHERE v.scaffold_id = ? ORDER BY v.version", [scaffold_id]
        ).fetchall()
        if not rows:
            raise NotFound(f"no scaffold {scaffold_id!r} in {self.path}")
        return [_scaffold_version_from_row(row) for row in rows]

    def scaffold_events(self, scaffold_id: str) -> list[ScaffoldEvent]:
        rows = self._cur.execute(
            "SELECT scaffold_id, version, status, actor, comment, happened_at FROM scaffold_events "
            "WHERE scaffold_id = ? ORDER BY seq",
            [scaffold_id],
        ).fetchall()
        return [ScaffoldEvent(r[0], r[1], ScaffoldStatus(r[2]), *r[3:]) for r in rows]

    def set_scaffold_status(
        self, scaffold_id: str, version: int, status: ScaffoldStatus | str, *, actor: Actor, comment: str = ""
    ) -> ScaffoldVersion:
        """Submit, approve, reject or deprecate one version, if its current status allows it."""
        status = ScaffoldStatus(status)
        with self._transaction() as cur:
            current = self._scaffold_version(cur, scaffold_id, version)
            check_transition(current, status, actor)
            cur.execute(
                "INSERT INTO scaffold_events (scaffold_id, version, status, actor, comment, happened_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [scaffold_id, version, status.value, actor.name, comment, datetime.now(timezone.utc)],
            )
            _audit(cur, actor, f"scaffold {status.value}", f"{scaffold_id} v{version}", comment=comment)
        return self.get_scaffold(scaffold_id, version)

    def list_scaffolds(self, status: ScaffoldStatus | str | None = None) -> list[ScaffoldSummary]:
        """One row per scaffold, latest change first; with ``status``, only scaffolds with a version in it."""
        rows = self._cur.execute(
            f"""
            {_SCAFFOLD_STATE},
            per_scaffold AS (
                SELECT scaffold_id, max(version) AS latest,
                       max(version) FILTER (WHERE status = 'approved') AS approved,
                       bool_or(status = $status) AS has_status
                FROM state GROUP BY scaffold_id
            ),
            last_event AS (
                SELECT scaffold_id, max(happened_at) AS updated_at, arg_max(actor, seq) AS updated_by
                FROM scaffold_events GROUP BY scaffold_id
            )
            SELECT v.scaffold_id, v.title, v.kind, v.task_class, p.latest, s.status, p.approved,
                   e.updated_at, e.updated_by
            FROM per_scaffold p
            JOIN scaffold_versions v ON v.scaffold_id = p.scaffold_id AND v.version = p.latest
            JOIN state s ON s.scaffold_id = p.scaffold_id AND s.version = p.latest
            JOIN last_event e ON e.scaffold_id = p.scaffold_id
            WHERE $status IS NULL OR p.has_status
            ORDER BY e.updated_at DESC, v.scaffold_id
            """,
            {"status": None if status is None else ScaffoldStatus(status).value},
        ).fetchall()
        return [ScaffoldSummary(r[0], r[1], r[2], r[3], r[4], ScaffoldStatus(r[5]), *r[6:]) for r in rows]

    def rank_approved_scaffolds(self, task_text: str) -> list[dict[str, Any]]:
        """The newest approved version of each scaffold, scored by BM25 against ``task_text``.

        Each row: scaffold_id, version, title, kind, task_class, score, and
        terms: the task's words that matched, with their weights, heaviest first.
        """
        rows = self._cur.execute(
            f"""
            {_SCAFFOLD_STATE},
            docs AS (
                SELECT v.scaffold_id, v.version, v.title, v.kind, v.task_class, v.search_text
                FROM scaffold_versions v JOIN state s USING (scaffold_id, version)
                WHERE s.status = 'approved'
                QUALIFY row_number() OVER (PARTITION BY v.scaffold_id ORDER BY v.version DESC) = 1
            ),
            doc_terms AS ({_search_terms("search_text", "scaffold_id", "docs")}),
            query_terms AS (SELECT term, min(word) AS word FROM ({_search_terms("$task", "1 AS q")}) GROUP BY term),
            lengths AS (SELECT scaffold_id, count(*) AS len FROM doc_terms GROUP BY scaffold_id),
            tf AS (SELECT scaffold_id, term, count(*) AS tf FROM doc_terms GROUP BY ALL),
            df AS (SELECT term, count(*) AS df FROM tf GROUP BY term),
            corpus AS (SELECT count(*) AS n, avg(len) AS avg_len FROM lengths),
            weights AS (
                SELECT tf.scaffold_id, query_terms.word,
                       ln(1 + (corpus.n - df.df + 0.5) / (df.df + 0.5))
                       * tf.tf * ($k1 + 1) / (tf.tf + $k1 * (1 - $b + $b * lengths.len / corpus.avg_len)) AS weight
                FROM tf JOIN query_terms USING (term) JOIN df USING (term) JOIN lengths USING (scaffold_id)
                CROSS JOIN corpus
            )
            SELECT d.scaffold_id, d.version, d.title, d.kind, d.task_class, coalesce(sum(w.weight), 0) AS score,
                   coalesce(list([w.word, round(w.weight, 3)::VARCHAR] ORDER BY w.weight DESC, w.word)
                            FILTER (WHERE w.word IS NOT NULL), []) AS terms
            FROM docs d LEFT JOIN weights w USING (scaffold_id)
            GROUP BY ALL
            ORDER BY score DESC, d.scaffold_id
            """,
            {"task": task_text, "stopwords": list(_SEARCH_STOPWORDS), "k1": 1.2, "b": 0.75},
        ).fetchall()
        keys = ("scaffold_id", "version", "title", "kind", "task_class", "score", "terms")
        return [
            {**dict(zip(keys, row, strict=True)), "terms": [(t, float(w)) for t, w in row[6]]} for row in rows
        ]

    def _scaffold_version(self, cur: duckdb.DuckDBPyConnection, scaffold_id: str, version: int) -> ScaffoldVersion:
        row = cur.execute(
            f"{_SCAFFOLD_STATE} {_SCAFFOLD_SELECT} WHERE v.scaffold_id = ? AND v.version = ?", [scaffold_id, version]
        ).fetchone()
        if row is None:
            raise NotFound(f"no version {version} of scaffold {scaffold_id!r} in {self.path}")
        return _scaffold_version_from_row(row)

    def _require_trace(self, cur: duckdb.DuckDBPyConnection, trace_id: str) -> None:
        if not cur.execute("SELECT count(*) FROM traces WHERE id = ?", [trace_id]).fetchone()[0]:
            raise NotFound(f"no trace {trace_id!r} in {self.path}")

    # ------------------------------------------------------ users and audit

    def grant_role(self, email: str, role: Role, actor: Actor) -> Grant:
        """Give ``email`` a role (replacing any role it had)."""
        actor.require(Action.GRANT)
        role = Role(role)
        now = datetime.now(timezone.utc)
        with self._transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?)", [email, role.value, actor.name, now])
            _audit(cur, actor, "grant role", email, role=role.value)
        return Grant(email, role, actor.name, now)

    def list_users(self) -> list[Grant]:
        rows = self._cur.execute("SELECT email, role, granted_by, granted_at FROM users ORDER BY email").fetchall()
        return [Grant(e, Role(r), by, at) for e, r, by, at in rows]

    def role_of(self, email: str) -> Role | None:
        row = self._cur.execute("SELECT role FROM users WHERE email = ?", [email]).fetchone()
        return Role(row[0]) if row else None

    def audit_log(self, limit: int = 200, *, actor: str | None = None, target: str | None = None) -> list[AuditEntry]:
        """The latest changes first; ``actor`` and ``target`` narrow it to one person or one object."""
        rows = self._cur.execute(
            "SELECT seq, happened_at, actor, action, target, details FROM audit_log "
            "WHERE ($actor IS NULL OR actor = $actor) AND ($target IS NULL OR starts_with(target, $target)) "
            "ORDER BY seq DESC LIMIT $limit",
            {"actor": actor, "target": target, "limit": limit},
        ).fetchall()
        return [AuditEntry(seq, at, who, what, on, json.loads(d) if d else {}) for seq, at, who, what, on, d in rows]

    # ---------------------------------------------------- explorer queries

    def search_nodes(self, query: str, limit: int = 200) -> tuple[list[NodeHit], dict[str, int]]:
        """Nodes whose text contains ``query`` (any case): the first ``limit`` by trace and import
        order, and how many nodes match in each trace. A node matches on the first field of
        SEARCHED_NODE_FIELDS that contains the query."""
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
        hits = [NodeHit(t, n, k, f, _snippet(text, needle)) for t, n, k, f, text in rows]
        return hits, counts

    def node_models(self) -> dict[str, list[str]]:
        """The models named by each trace's nodes, per trace id."""
        rows = self._cur.execute(
            "SELECT trace_id, list(DISTINCT model ORDER BY model) FROM nodes WHERE model IS NOT NULL GROUP BY trace_id"
        ).fetchall()
        return dict(rows)


_ROW_GROUP = 122_880  # DuckDB's row group size
_NODE_FIELDS = list(Node.model_fields)
# Timestamps travel as epoch microseconds: DuckDB's TIMESTAMPTZ-to-Python
# conversion goes through pytz and would dominate loading a large trace.
_NODE_LOAD_COLUMNS = ", ".join(
    f"epoch_us({n})" if n in ("start_time", "end_time") else ("position" if n == "order" else n) for n in _NODE_FIELDS
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


_ANNOTATION_FIELDS = [
    "id", "trace_id", "node_id", "run_id", "category", "severity", "rationale", "suggested_fix",
    "suggested_subproblems", "author", "status", "reviewer", "reviewed_at", "created_at",
]
_ANNOTATION_COLUMNS = ", ".join(_ANNOTATION_FIELDS)


def _annotation_values(a: Annotation) -> list[Any]:
    values = a.model_dump()
    values["suggested_subproblems"] = json.dumps(values["suggested_subproblems"])
    return [values[f] for f in _ANNOTATION_FIELDS]


def _annotation_from_row(row: tuple) -> Annotation:
    values = dict(zip(_ANNOTATION_FIELDS, row, strict=True))
    values["suggested_subproblems"] = json.loads(values["suggested_subproblems"] or "[]")
    return Annotation.model_validate(values)


def _audit(cur: duckdb.DuckDBPyConnection, actor: Actor, action: str, target: str, **details: Any) -> None:
    """One audit row, written in the caller's transaction so the change and its record land together."""
    cur.execute(
        "INSERT INTO audit_log (happened_at, actor, action, target, details) VALUES (?, ?, ?, ?, ?)",
        [datetime.now(timezone.utc), actor.name, action, target,
         json.dumps({k: v for k, v in details.items() if v not in (None, "", {})}, default=str)],
    )


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause garbage collection while building many objects: its full passes would free nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _explain_open_error(path: str, exc: duckdb.IOException) -> str:
    message = str(exc)
    if "lock" in message.lower():
        pid = re.search(r"PID (\d+)", message)
        holder = f" (process {pid.group(1)})" if pid else ""
        return f"{path}: the database is in use by another process{holder}; close it or use another --db file"
    return f"{path}: cannot open the database: {message.splitlines()[0]}"


# ---------------------------------------------------- reading Trellis JSONL


def read_trellis_jsonl(path: Path, source: str) -> list[tuple[dict[str, Any], int, pa.Table]]:
    """Parse a Trellis JSONL file with DuckDB's JSON reader (multi-threaded, C++).

    Returns (trace header as a dict, header line, node table) per trace. Types
    and value rules are checked here; tree shape is checked by core.tree.
    """
    node_columns = ", ".join(_JSONL_DEFAULTS.get(n, f'"{n}"') for n in NODE_ARROW_SCHEMA.names)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        try:
            with _without_bom(path) as readable:
                # One row per non-blank line, in file order: row i is "record" i.
                # Streamed in row-group-sized batches: faster than one table, and what the insert wants.
                records = con.execute(
                    f"SELECT {node_columns}, format, version, trace::VARCHAR AS trace "
                    f"FROM read_json(?, format='newline_delimited', columns={_JSONL_COLUMNS!r}, "
                    f"maximum_object_size={MAX_NODE_BYTES})",
                    [str(readable)],
                ).to_arrow_reader(_ROW_GROUP).read_all()
                unknown = con.execute(
                    "SELECT DISTINCT k FROM (SELECT unnest(json_keys(json)) AS k "
                    f"FROM read_json_objects(?, format='newline_delimited', maximum_object_size={MAX_NODE_BYTES})) "
                    "WHERE k NOT IN (SELECT unnest(?::VARCHAR[])) LIMIT 1",
                    [str(readable), list(_JSONL_COLUMNS)],
                ).fetchone()
        except duckdb.Error as exc:
            raise _jsonl_error(path, source, exc) from None
        if unknown:
            raise InputError(source, f"unknown field {unknown[0]!r}", _line_with_key(path, unknown[0]))

        records = records.append_column("record", pa.array(np.arange(records.num_rows, dtype=np.int64)))
        con.register("records", records)
        headers = con.execute(
            "SELECT record, format, version, trace, json_extract(trace, '$.metadata')::VARCHAR "
            "FROM records WHERE trace IS NOT NULL ORDER BY record"
        ).fetchall()
        first_header = headers[0][0] if headers else None
        bad = con.execute(_JSONL_RULES, [first_header]).fetchone()
        if bad:
            record, problem = bad
            raise InputError(source, problem, _line_of_record(path, record))
        for record, metadata in con.execute(_JSONL_DEEP_CANDIDATES).fetchall():
            if nested_too_deep(metadata):
                raise InputError(source, TOO_DEEP, _line_of_record(path, record))
        for record, metadata in con.execute(_JSONL_NON_FINITE_CANDIDATES).fetchall():
            _load_finite(metadata, source, _line_of_record(path, record), "metadata")
        result = []
        ends = [h[0] for h in headers[1:]] + [records.num_rows]
        nodes = records.select(NODE_ARROW_SCHEMA.names)
        for (record, fmt, version, trace_json, metadata_json), end in zip(headers, ends, strict=True):
            line = _line_of_record(path, record)
            if fmt != "trellis" or version != "1":
                raise InputError(source, 'header must say "format": "trellis", "version": 1', line)
            table = nodes.slice(record + 1, end - record - 1).cast(NODE_ARROW_SCHEMA)
            if metadata_json and nested_too_deep(metadata_json):
                raise InputError(source, f"trace: {TOO_DEEP}", line)
            result.append((_load_finite(trace_json, source, line, "trace"), line, table))
        return result
    finally:
        con.close()


@contextmanager
def _without_bom(path: Path) -> Iterator[Path]:
    """The file, or a copy without the byte-order mark some Windows tools write, which DuckDB refuses."""
    with path.open("rb") as f:
        if f.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
            yield path
            return
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / path.name
            with copy.open("wb") as out:
                shutil.copyfileobj(f, out)
            yield copy


def _load_finite(json_text: str, source: str, line: int, what: str) -> Any:
    """A JSON text DuckDB accepted, as Python; a NaN or Infinity in it is an InputError."""
    try:
        value = json.loads(json_text)
    except ValueError:  # DuckDB also reads nan and inf in any letter case; Python's json does not
        raise InputError(source, f"{what}: {NON_FINITE}", line) from None
    found = non_finite_at(value)
    if found:
        raise InputError(source, f"{what}: {NON_FINITE} ({found})", line)
    return value


def _sql_literal(value: object) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


_JSONL_DEFAULTS = {
    name: f"coalesce(\"{name}\", {_sql_literal(Node.model_fields[name].default)}) AS \"{name}\""
    for name in ("order", "kind", "status")
}
_KINDS = ", ".join(f"'{k.value}'" for k in NodeKind)
_STATUSES = ", ".join(f"'{s.value}'" for s in Status)
_NON_NEGATIVE = [name for name, f in Node.model_fields.items() if any(getattr(m, "ge", None) == 0 for m in f.metadata)]
_FLOATS = [f.name for f in NODE_ARROW_SCHEMA if f.type == pa.float64()]

# The first record that breaks a rule the Node model states, with what is wrong.
# Nulls for `order`, `kind` and `status` take the model's defaults below.
_JSONL_RULES = f"""
SELECT record, CASE
    WHEN $1 IS NULL OR record < $1 THEN 'node before the trace header line'
    WHEN trace IS NOT NULL AND id IS NOT NULL THEN 'a line is either a trace header or a node, not both'
    WHEN trace IS NOT NULL THEN NULL
    WHEN id IS NULL OR id = '' THEN 'node has no id'
    WHEN length(id) > 200 THEN 'node id longer than 200 characters'
    WHEN kind NOT IN ({_KINDS}) THEN 'kind ' || kind || ' is not one of {_KINDS.replace("'", "")}'
    WHEN status NOT IN ({_STATUSES}) THEN 'status ' || status || ' is not one of {_STATUSES.replace("'", "")}'
    WHEN metadata IS NOT NULL AND json_type(metadata) <> 'OBJECT' THEN 'metadata must be an object'
    {" ".join(f"WHEN NOT isfinite({n}) THEN '{n}: {NON_FINITE}'" for n in _FLOATS)}
    {" ".join(f"WHEN {n} < 0 THEN '{n} must not be negative'" for n in _NON_NEGATIVE)}
    END AS problem
FROM records WHERE problem IS NOT NULL ORDER BY record LIMIT 1
"""

# Only metadata with more opening brackets than MAX_NESTING can nest that deep; Python checks those few.
_JSONL_DEEP_CANDIDATES = f"""
SELECT record, metadata::VARCHAR FROM records
WHERE length(metadata::VARCHAR) > {MAX_NESTING}
  AND length(metadata::VARCHAR) - length(replace(replace(metadata::VARCHAR, '{{', ''), '[', '')) > {MAX_NESTING}
ORDER BY record
"""

# Metadata that may hold NaN or Infinity (which DuckDB reads in any letter case) or a number too
# big for a double; text inside strings can match too, so Python decides.
_JSONL_NON_FINITE_CANDIDATES = r"""
SELECT record, metadata::VARCHAR FROM records
WHERE regexp_matches(metadata::VARCHAR, '[:\[,]\s*-?(nan|inf)|[0-9]e\+?[0-9]{3}', 'i')
ORDER BY record
"""


def _jsonl_error(path: Path, source: str, exc: duckdb.Error) -> InputError:
    message = str(exc).split("\n")[0]
    if "maximum_object_size" in message:  # DuckDB names neither the line nor our limit
        line, size = next(((n, len(text)) for n, text in _lines(path) if len(text) > MAX_NODE_BYTES), (None, 0))
        return InputError(source, f"line holds {size / MB:.1f} MB, over {NODE_LIMIT}", line)
    cast = re.search(r"in line (\d+): Failed to cast value to numerical: (.*)", message)
    if cast:  # DuckDB's "line" counts non-blank lines, and it names the value but not the field
        line = _line_of_record(path, int(cast.group(1)) - 1)
        return InputError(source, _whole_number_field_problem(path, line, cast.group(2)), line)
    line = re.search(r"line (\d+)", message)
    if "end of data" in message:  # DuckDB names the line after a truncated last record
        line = re.search(r"(\d+)", str(_line_of_record(path, -1)))
    detail = re.sub(r'^.*?(in file "[^"]*",? ?)', "", message)
    detail = re.sub(r"^(at byte \d+ )?in line \d+: ", "", detail)
    if "Malformed JSON" in message:
        detail = f"not valid JSON: {detail}"
    return InputError(source, detail.strip(), int(line.group(1)) if line else None)


def _line_of_record(path: Path, record: int) -> int:
    """Line number of the record-th (0-based) non-blank line, or the last one; only used for errors."""
    seen, last = -1, 1
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                seen, last = seen + 1, number
                if seen == record:
                    return number
    return last


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as f:
        yield from enumerate(f, start=1)


def _whole_number_field_problem(path: Path, line: int, shown: str) -> str:
    """What is wrong with the value `shown` on that line of a file, which DuckDB could not read as a whole number."""
    text = next((text for n, text in _lines(path) if n == line), b"")
    try:
        record, value = json.loads(text), json.loads(shown)
    except (ValueError, RecursionError):
        record, value = {}, None
    if not isinstance(record, dict):
        record = {}
    fields = [k for k, v in record.items() if v == value and _JSONL_COLUMNS.get(k) == "BIGINT"]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    whole = isinstance(value, int) and not isinstance(value, bool)
    problem = (whole and whole_number_problem(value)) or f"should be a whole number, got {shown[:40]}"
    return f"{fields[0]}: {problem}" if fields else problem


def _line_with_key(path: Path, key: str) -> int | None:
    needle = json.dumps(key).encode()
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if needle in line:
                return number
    return None


# ---- explorer SQL helpers

SEARCHED_NODE_FIELDS = ("subproblem", "name", "output", "context", "aggregation", "error")


@dataclass(frozen=True)
class NodeHit:
    trace_id: str
    node_id: str
    kind: str
    field: str
    snippet: str  # one line around the first occurrence


# Each matching node once, with the first field that contains the query ($1, lower case) and that field's text.
_NODE_HITS = (
    "SELECT trace_id, id, kind, rowid AS r, "
    + "CASE "
    + " ".join(f"WHEN contains(lower({f}), $1) THEN '{f}'" for f in SEARCHED_NODE_FIELDS)
    + " END AS field, CASE "
    + " ".join(f"WHEN contains(lower({f}), $1) THEN {f}" for f in SEARCHED_NODE_FIELDS)
    + " END AS text FROM nodes WHERE field IS NOT NULL"
)


def _snippet(text: str, needle: str, around: int = 50) -> str:
    at = max(text.lower().find(needle), 0)
    start, end = max(0, at - around), min(len(text), at + len(needle) + around)
    return ("…" if start else "") + " ".join(text[start:end].split()) + ("…" if end < len(text) else "")


# ---- scaffold SQL helpers

_SAVE_ATTEMPTS = 100  # 2 s of waiting for a competing save on another connection to commit

# Each version's current status: the one its latest event gave it, and who made the last decision.
_SCAFFOLD_STATE = """
WITH state AS (
    SELECT scaffold_id, version, arg_max(status, seq) AS status,
           arg_max(actor, seq) FILTER (WHERE status IN ('approved', 'rejected', 'deprecated')) AS reviewer,
           arg_max(comment, seq) FILTER (WHERE status IN ('approved', 'rejected', 'deprecated')) AS review_comment
    FROM scaffold_events GROUP BY scaffold_id, version
)"""
_SCAFFOLD_SELECT = (
    "SELECT v.scaffold_id, v.version, v.content, s.status, v.author, v.comment, v.created_at, v.based_on, "
    "s.reviewer, s.review_comment FROM scaffold_versions v JOIN state s USING (scaffold_id, version)"
)
# Words too common in task descriptions to tell one scaffold from another.
_SEARCH_STOPWORDS = (
    "the and for with from into that this then than each its their which what when where who all any are was were "
    "been has have had not but per via our your you they them use using used can will should must may each task "
    "tasks like given find make how why did does done about after before also only other some such more most very "
    "just over under".split()
)


def _search_terms(text: str, key: str, source: str | None = None) -> str:
    """SELECT of (key, term, word) for every search word of ``text``: lower-case, stopwords out, and
    the term with its ending stripped, so "clauses" meets "clause".

    The same rule reads scaffolds and the task searched for, so their words meet.
    """
    words = f"unnest(regexp_extract_all(lower({text}), '[a-z][a-z0-9]+')) AS word"
    return (
        f"SELECT {key.split(' AS ')[-1]}, "
        "CASE WHEN length(word) > 5 THEN regexp_replace(word, '(ies|es|s|ing|ed)$', '') ELSE word END AS term, word "
        f"FROM (SELECT {key}, {words}{f' FROM {source}' if source else ''}) "
        "WHERE length(word) >= 3 AND NOT list_contains($stopwords, word)"
    )


def _scaffold_version_from_row(row: tuple) -> ScaffoldVersion:
    return ScaffoldVersion(
        scaffold_id=row[0], version=row[1], content=Scaffold.model_validate_json(row[2]),
        status=ScaffoldStatus(row[3]), author=row[4], comment=row[5], created_at=row[6], based_on=row[7],
        reviewer=row[8], review_comment=row[9],
    )
