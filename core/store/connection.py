"""The connection every part of the store works through: threads, transactions, migrations, the audit row.

One process opens the database file read-write; inside it, each thread works
through its own cursor of the one connection. Writes that span several
statements run in one explicit transaction, so an import is all-or-nothing.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Self

import duckdb

from core.auth import Actor
from core.errors import NotFound, StoreError
from core.store.schema import MIGRATIONS

DEFAULT_DB = "trellis.duckdb"
ROW_GROUP = 122_880  # DuckDB's row group size: the batch size its parallel, ordered Arrow insert wants


def default_db_path() -> str:
    return os.environ.get("TRELLIS_DB") or DEFAULT_DB


class Connection:
    """A DuckDB database file (or ``":memory:"``), migrated to the current schema when opened."""

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

    def __enter__(self) -> Self:
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

    def _require_trace(self, cur: duckdb.DuckDBPyConnection, trace_id: str) -> None:
        if not cur.execute("SELECT count(*) FROM traces WHERE id = ?", [trace_id]).fetchone()[0]:
            raise NotFound(f"no trace {trace_id!r} in {self.path}")


def audit(cur: duckdb.DuckDBPyConnection, actor: Actor, action: str, target: str, **details: Any) -> None:
    """One audit row, written in the caller's transaction so the change and its record land together."""
    cur.execute(
        "INSERT INTO audit_log (happened_at, actor, action, target, details) VALUES (?, ?, ?, ?, ?)",
        [datetime.now(timezone.utc), actor.name, action, target,
         json.dumps({k: v for k, v in details.items() if v not in (None, "", {})}, default=str)],
    )


def _explain_open_error(path: str, exc: duckdb.IOException) -> str:
    message = str(exc)
    if "lock" in message.lower():
        pid = re.search(r"PID (\d+)", message)
        holder = f" (process {pid.group(1)})" if pid else ""
        return f"{path}: the database is in use by another process{holder}; close it or use another --db file"
    return f"{path}: cannot open the database: {message.splitlines()[0]}"
