"""The DuckDB store. This module owns the connection and holds all of Trellis's SQL.

One process opens the database file read-write; inside it, each thread works
through its own cursor of the one connection. Writes that span several
statements run in one explicit transaction, so an import is all-or-nothing.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from core.errors import InputError, NotFound, StoreError
from core.models import Node, NodeKind, Status, Trace

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


MIGRATIONS: list[Callable[[duckdb.DuckDBPyConnection], None]] = [
    _m001_traces_and_nodes,
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

    def add_traces(self, traces: list[tuple[Trace, pa.Table, list[int], str | None]], *, replace: bool = False) -> None:
        """Store validated traces, each as (trace, node table, node depths, source file), in one transaction.

        A trace id that is already stored is an error unless ``replace``.
        """
        with self._transaction() as cur:
            for trace, nodes, depth, source_file in traces:
                exists = cur.execute("SELECT count(*) FROM traces WHERE id = ?", [trace.id]).fetchone()[0]
                if exists and not replace:
                    raise StoreError(
                        f"trace {trace.id!r} is already in {self.path} (delete it first, or import with --replace)"
                    )
                if exists:
                    cur.execute("DELETE FROM nodes WHERE trace_id = ?", [trace.id])
                    cur.execute("DELETE FROM traces WHERE id = ?", [trace.id])
                staged = nodes.append_column("depth", pa.array(depth, pa.int32()))
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
                           sum(cost), count(*) FILTER (WHERE status = 'error')
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
                        trace.id,
                    ],
                )

    def delete_trace(self, trace_id: str) -> None:
        with self._transaction() as cur:
            self._require_trace(cur, trace_id)
            cur.execute("DELETE FROM nodes WHERE trace_id = ?", [trace_id])
            cur.execute("DELETE FROM traces WHERE id = ?", [trace_id])

    # ------------------------------------------------------------- reading

    def count_traces(self) -> int:
        return self._cur.execute("SELECT count(*) FROM traces").fetchone()[0]

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
        rows = self._cur.execute(
            f"SELECT {_NODE_LOAD_COLUMNS} FROM nodes WHERE trace_id = ? ORDER BY rowid", [trace_id]
        ).fetchall()
        return LoadedTrace(trace=trace, nodes=[_node_from_row(row) for row in rows])

    def _require_trace(self, cur: duckdb.DuckDBPyConnection, trace_id: str) -> None:
        if not cur.execute("SELECT count(*) FROM traces WHERE id = ?", [trace_id]).fetchone()[0]:
            raise NotFound(f"no trace {trace_id!r} in {self.path}")


_NODE_FIELDS = list(Node.model_fields)
# Timestamps travel as epoch microseconds: DuckDB's TIMESTAMPTZ-to-Python
# conversion would dominate the time to load a large trace.
_NODE_LOAD_COLUMNS = ", ".join(
    f"epoch_us({n})" if n in ("start_time", "end_time") else ("position" if n == "order" else n) for n in _NODE_FIELDS
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _node_from_row(row: tuple) -> Node:
    values = dict(zip(_NODE_FIELDS, row, strict=True))
    for name in ("start_time", "end_time"):
        if values[name] is not None:
            values[name] = _EPOCH + timedelta(microseconds=values[name])
    values["metadata"] = json.loads(values["metadata"]) if values["metadata"] else {}
    return Node.from_store(values)


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
    con = duckdb.connect()
    try:
        try:
            con.execute(
                "CREATE TABLE staged AS SELECT * FROM read_json(?, format='newline_delimited', "
                f"columns={_JSONL_COLUMNS!r}, maximum_object_size=268435456)",
                [str(path)],
            )
            unknown = con.execute(
                "SELECT DISTINCT k FROM (SELECT unnest(json_keys(json)) AS k "
                "FROM read_json_objects(?, format='newline_delimited', maximum_object_size=268435456)) "
                "WHERE k NOT IN (SELECT unnest(?::VARCHAR[])) LIMIT 1",
                [str(path), list(_JSONL_COLUMNS)],
            ).fetchone()
        except duckdb.Error as exc:
            raise _jsonl_error(path, source, exc) from None
        if unknown:
            raise InputError(source, f"unknown field {unknown[0]!r}", _line_with_key(path, unknown[0]))

        headers = con.execute(
            "SELECT rowid, format, version, trace::VARCHAR FROM staged WHERE trace IS NOT NULL ORDER BY rowid"
        ).fetchall()
        first_header = headers[0][0] if headers else None
        bad = con.execute(_JSONL_RULES, [first_header]).fetchone()
        if bad:
            record, problem = bad
            raise InputError(source, problem, _line_of_record(path, record))
        result = []
        columns = ", ".join(_JSONL_DEFAULTS.get(n, f'"{n}"') for n in NODE_ARROW_SCHEMA.names)
        ends = [h[0] for h in headers[1:]] + [None]
        for (record, fmt, version, trace_json), end in zip(headers, ends, strict=True):
            line = _line_of_record(path, record)
            if fmt != "trellis" or version != "1":
                raise InputError(source, 'header must say "format": "trellis", "version": 1', line)
            table = con.execute(
                f"SELECT {columns} FROM staged WHERE rowid > ? AND (? IS NULL OR rowid < ?) ORDER BY rowid",
                [record, end, end],
            ).to_arrow_table()
            result.append((json.loads(trace_json), line, table.cast(NODE_ARROW_SCHEMA)))
        return result
    finally:
        con.close()


def _sql_literal(value: object) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


_JSONL_DEFAULTS = {
    name: f"coalesce(\"{name}\", {_sql_literal(Node.model_fields[name].default)}) AS \"{name}\""
    for name in ("order", "kind", "status")
}
_KINDS = ", ".join(f"'{k.value}'" for k in NodeKind)
_STATUSES = ", ".join(f"'{s.value}'" for s in Status)
_NON_NEGATIVE = [name for name, f in Node.model_fields.items() if any(getattr(m, "ge", None) == 0 for m in f.metadata)]

# The first record that breaks a rule the Node model states, with what is wrong.
# Nulls for `order`, `kind` and `status` take the model's defaults below.
_JSONL_RULES = f"""
SELECT rowid, CASE
    WHEN $1 IS NULL OR rowid < $1 THEN 'node before the trace header line'
    WHEN trace IS NOT NULL AND id IS NOT NULL THEN 'a line is either a trace header or a node, not both'
    WHEN trace IS NOT NULL THEN NULL
    WHEN id IS NULL OR id = '' THEN 'node has no id'
    WHEN length(id) > 200 THEN 'node id longer than 200 characters'
    WHEN kind NOT IN ({_KINDS}) THEN 'kind ' || kind || ' is not one of {_KINDS.replace("'", "")}'
    WHEN status NOT IN ({_STATUSES}) THEN 'status ' || status || ' is not one of {_STATUSES.replace("'", "")}'
    WHEN metadata IS NOT NULL AND json_type(metadata) <> 'OBJECT' THEN 'metadata must be an object'
    {" ".join(f"WHEN {n} < 0 THEN '{n} must not be negative'" for n in _NON_NEGATIVE)}
    END AS problem
FROM staged WHERE problem IS NOT NULL ORDER BY rowid LIMIT 1
"""


def _jsonl_error(path: Path, source: str, exc: duckdb.Error) -> InputError:
    message = str(exc).split("\n")[0]
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


def _line_with_key(path: Path, key: str) -> int | None:
    needle = json.dumps(key).encode()
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if needle in line:
                return number
    return None
