"""The connection every part of the store works through: where the store lives, threads, transactions,
migrations, the audit row.

A store is one of three places, named by the ``--db`` / ``$TRELLIS_STORE`` location:

- a folder (the default, ``./trellis.lake``): a DuckLake, its catalog in SQLite (``catalog.sqlite``) and
  its data in Parquet files (``data/``). Any number of local processes read and write it at once, the
  app, ``trellis import`` and ``trellis collect`` together; their writes take turns on a lock file.
- ``postgres://...``: a DuckLake whose catalog is in that Postgres database and whose data lies under
  ``$TRELLIS_DATA_PATH`` (a folder every process can reach): app replicas on several machines share it
  (docs/deploy.md).
- a ``*.duckdb`` file or ``:memory:``: plain DuckDB, which one process opens at a time (tests, and files
  from before the lake, which ``trellis store migrate`` moves into one).

Inside a process, each thread works through its own cursor of the one connection. Writes that span several
statements run in one explicit transaction, so an import is all-or-nothing.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Self

import duckdb

from core.auth import Actor
from core.errors import NotFound, StoreBusy, StoreError
from core.store.schema import MIGRATIONS

DEFAULT_DB = "trellis.lake"
STORE_VARIABLE = "TRELLIS_STORE"
DATA_PATH_VARIABLE = "TRELLIS_DATA_PATH"
ROW_GROUP = 122_880  # DuckDB's row group size: the batch size its parallel, ordered Arrow insert wants
# Writes of up to this many rows go into the catalog rather than a Parquet file of their own, so an audit row
# or a review decision does not leave a tiny file behind (bench/bench_storage.py measured the choice).
INLINE_ROWS = 10
LAKE = "lake"  # the name the DuckLake is attached under
TURNS = "turns"  # the name a Postgres store's database is attached under to take turns on (_between_processes)
# A commit that meets another process's, on a Postgres catalog: DuckLake tries again this often.
COMMIT_RETRIES = 100
# Replicas opening a new Postgres store at once: each failed attempt means another one created more of it.
ATTACH_ATTEMPTS = 50
# Writers of a Postgres store take turns on this advisory lock of its database (any number: Trellis's own).
WRITE_TURN = 7_215_471


def default_db_path() -> str:
    return os.environ.get(STORE_VARIABLE) or DEFAULT_DB


@dataclass(frozen=True)
class Place:
    """Where a location string says the store lives."""

    kind: str  # "memory", "file" (plain DuckDB), "lake" (local DuckLake folder), "postgres" (DuckLake on Postgres)
    location: str

    @classmethod
    def of(cls, location: str | Path) -> Place:
        location = str(location)
        if location == ":memory:":
            return cls("memory", location)
        if location.startswith(("postgres://", "postgresql://")):
            return cls("postgres", location)
        if location.endswith(".duckdb"):
            return cls("file", location)
        return cls("lake", location)

    @property
    def shared(self) -> bool:
        """Whether several processes may open it at once."""
        return self.kind in ("lake", "postgres")

    def exists(self) -> bool:
        if self.kind == "memory" or self.kind == "postgres":
            return True
        if self.kind == "lake":
            return (Path(self.location) / "catalog.sqlite").exists()
        return Path(self.location).exists()


class Connection:
    """A store (see the module's note for the places it can be), migrated to the current schema when opened."""

    def __init__(self, path: str | Path = ":memory:"):
        self.path = str(path)
        self.place = Place.of(self.path)
        self._conn = _open(self.place)
        self._conn.execute("SET TimeZone = 'UTC'")
        self._conn.execute("SET enable_progress_bar = false")
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._lock_file = (Path(self.place.location) / "write.lock") if self.place.kind == "lake" else None
        self._turns = _turn_taker(self.place) if self.place.kind == "postgres" else None
        with self._between_processes():
            self._migrate()

    def close(self) -> None:
        self._conn.close()
        if self._turns is not None:
            self._turns.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def _cur(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._local.cursor = self._conn.cursor()
            if self.place.shared:
                cur.execute(f"USE {LAKE}")  # a cursor starts in the connection's in-memory database
        return cur

    @contextmanager
    def _between_processes(self) -> Iterator[None]:
        """Hold the local lake's lock file: SQLite lets one writer commit at a time and gives up at once
        on a second, so writers of one folder take turns here instead (readers never wait).

        A Postgres store's writers, on any machines, take turns on an advisory lock of its database instead:
        DuckLake would merge two imports of one trace (it has no unique keys), and ``next_seq`` would hand
        both the same number. The lock belongs to a transaction of a connection of its own, which ends only
        after the store's commit did."""
        if self._turns is not None:
            self._turns.execute("BEGIN TRANSACTION")
            try:
                self._turns.execute(f"CALL postgres_execute('{TURNS}', 'SELECT pg_advisory_xact_lock({WRITE_TURN})')")
                yield
            finally:
                self._turns.execute("COMMIT")  # ends the Postgres transaction, and with it the lock
            return
        if self._lock_file is None:
            yield
            return
        with _holding(self._lock_file):
            yield

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._write_lock, self._between_processes():
            cur = self._cur
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            try:
                cur.execute("COMMIT")
            except duckdb.TransactionException as exc:
                raise StoreBusy(f"{self.path}: nothing was saved: another process changed the store at the "
                                 f"same moment ({str(exc).splitlines()[-1]}); try again") from None

    def _migrate(self) -> None:
        cur = self._cur
        cur.execute(
            "CREATE TABLE IF NOT EXISTS migrations (name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        )
        done = {name for (name,) in cur.execute("SELECT name FROM migrations").fetchall()}
        for step in MIGRATIONS:
            if step.__name__ in done:
                continue
            with self._write_lock:  # the lock between processes is held by __init__ around all of this
                cur.execute("BEGIN TRANSACTION")
                try:
                    step(_LakeSchema(cur) if self.place.shared else cur)
                    cur.execute("INSERT INTO migrations VALUES (?, now())", [step.__name__])
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")

    def applied_migrations(self) -> list[str]:
        return [n for (n,) in self._cur.execute("SELECT name FROM migrations ORDER BY applied_at, name").fetchall()]

    def _require_trace(self, cur: duckdb.DuckDBPyConnection, trace_id: str) -> None:
        if not cur.execute("SELECT count(*) FROM traces WHERE id = ?", [trace_id]).fetchone()[0]:
            raise NotFound(f"no trace {trace_id!r} in {self.path}")


def next_seq(table: str) -> str:
    """SQL for the next number of ``table``'s ``seq`` column. DuckLake has no sequences; writers take turns
    (``_transaction``), so the largest number so far plus one is the next."""
    return f"(SELECT coalesce(max(seq), 0) + 1 FROM {table})"


def audit(cur: duckdb.DuckDBPyConnection, actor: Actor, action: str, target: str, **details: Any) -> None:
    """One audit row, written in the caller's transaction so the change and its record land together."""
    cur.execute(
        f"INSERT INTO audit_log (seq, happened_at, actor, action, target, details) "
        f"VALUES ({next_seq('audit_log')}, ?, ?, ?, ?, ?)",
        [datetime.now(timezone.utc), actor.name, action, target,
         json.dumps({k: v for k, v in details.items() if v not in (None, "", {})}, default=str)],
    )


class _LakeSchema:
    """The shipped migrations, run on a DuckLake: it has no keys or sequences, so those clauses are left out.
    The store's code never relies on them (``next_seq``, and checks inside transactions)."""

    _KEYS = re.compile(r",\s*PRIMARY KEY \([^)]*\)|\s+PRIMARY KEY\b|\s+DEFAULT nextval\('[a-z_]+'\)")

    def __init__(self, cur: duckdb.DuckDBPyConnection):
        self._cur = cur

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.lstrip().upper().startswith("CREATE SEQUENCE"):
            return None
        return self._cur.execute(self._KEYS.sub("", sql), *args)


def _open(place: Place) -> duckdb.DuckDBPyConnection:
    if not place.shared:
        try:
            return duckdb.connect(place.location)
        except duckdb.IOException as exc:
            raise StoreError(_explain_open_error(place.location, exc)) from None
    conn = duckdb.connect()
    try:
        _load_extension(conn, "ducklake")
        conn.execute(f"SET ducklake_max_retry_count = {COMMIT_RETRIES}")
        if place.kind == "lake":
            _load_extension(conn, "sqlite_scanner")
            folder = Path(place.location)
            folder.mkdir(parents=True, exist_ok=True)
            with _holding(folder / "write.lock"):  # one process at a time creates the catalog, or moves it
                _attach_folder(conn, folder)
        else:
            _load_extension(conn, "postgres_scanner")
            data_path = os.environ.get(DATA_PATH_VARIABLE, "")
            if not data_path:
                raise StoreError(f"a Postgres store needs ${DATA_PATH_VARIABLE}: the folder (or s3:// path) every "
                                 "process reaches, where the store keeps its data files (docs/deploy.md)")
            _attach(conn, place, f"ATTACH 'ducklake:postgres:{sql_quoted(place.location)}' AS {LAKE} "
                                 f"(DATA_PATH '{sql_quoted(data_path.rstrip('/') + '/')}', "
                                 f"DATA_INLINING_ROW_LIMIT {INLINE_ROWS})")
    except duckdb.Error as exc:
        conn.close()
        raise StoreError(f"{_shown(place)}: cannot open the store: {str(exc).splitlines()[0]}") from None
    return conn


def _turn_taker(place: Place) -> duckdb.DuckDBPyConnection:
    """A connection of its own to a Postgres store's database, to hold the writers' lock on (``_between_processes``)."""
    conn = duckdb.connect()
    try:
        conn.execute("SET enable_progress_bar = false")
        _load_extension(conn, "postgres_scanner")
        conn.execute(f"ATTACH '{sql_quoted(place.location)}' AS {TURNS} (TYPE postgres)")
    except duckdb.Error as exc:
        conn.close()
        raise StoreError(f"{_shown(place)}: cannot open the store: {str(exc).splitlines()[0]}") from None
    return conn


def _attach(conn: duckdb.DuckDBPyConnection, place: Place, attach: str) -> None:
    """Attach the lake. Replicas opening a new Postgres store together each create DuckLake's catalog tables in
    it; all but one fail, and find the tables made when they try again."""
    for attempt in range(ATTACH_ATTEMPTS):
        try:
            conn.execute(attach)
            return
        except duckdb.Error as exc:
            if place.kind != "postgres" or "Failed to initialize DuckLake" not in str(exc) \
                    or attempt == ATTACH_ATTEMPTS - 1:
                raise
            time.sleep(0.1)


def _load_extension(conn: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load a DuckDB extension from the file its PyPI package (duckdb-extension-NAME) carries: nothing is
    downloaded."""
    package = f"duckdb_extension_{name}"
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise StoreError(f"the {name} extension is missing: install duckdb-extension-{name.replace('_', '-')} "
                         f"({duckdb.__version__})")
    conn.execute(f"LOAD '{sql_quoted(str(Path(spec.origin).parent / 'extensions' / f'v{duckdb.__version__}' / f'{name}.duckdb_extension'))}'")


def _attach_folder(conn: duckdb.DuckDBPyConnection, folder: Path) -> None:
    catalog, data_path = folder / "catalog.sqlite", str((folder / "data").resolve()) + "/"
    if not catalog.exists():
        # In its default journal mode SQLite turns readers away while a writer commits; in WAL mode (which the
        # file keeps once set) readers go on reading the last commit. Python's sqlite3 sets it on the new,
        # empty file: on one DuckDB has open it would not be safe (two SQLite libraries in one process
        # release each other's locks).
        with sqlite3.connect(catalog) as db:
            db.execute("PRAGMA journal_mode=WAL")
        db.close()
    attach = (f"ATTACH 'ducklake:sqlite:{sql_quoted(str(catalog))}' AS {LAKE} "
              f"(DATA_PATH '{sql_quoted(data_path)}', DATA_INLINING_ROW_LIMIT {INLINE_ROWS})")
    try:
        conn.execute(attach)
    except duckdb.Error as exc:
        if "does not match existing data path" not in str(exc):
            raise
        # DuckLake records the data folder's absolute path (the files' paths are relative to it), and a folder
        # store keeps its data beside its catalog: a folder moved or restored elsewhere is told where it is.
        conn.execute(f"ATTACH '{sql_quoted(str(catalog))}' AS moved_catalog (TYPE sqlite)")
        conn.execute("UPDATE moved_catalog.ducklake_metadata SET value = ? WHERE key = 'data_path'", [data_path])
        conn.execute("DETACH moved_catalog")
        conn.execute(attach)


@contextmanager
def _holding(lock_file: Path) -> Iterator[None]:
    """A folder store's lock, held across processes (a second holder waits): its writers take turns."""
    with open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sql_quoted(text: str) -> str:
    return text.replace("'", "''")


def _shown(place: Place) -> str:
    """The location without a password, for messages."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", place.location)


def _explain_open_error(path: str, exc: duckdb.IOException) -> str:
    message = str(exc)
    if "lock" in message.lower():
        pid = re.search(r"PID (\d+)", message)
        holder = f" (process {pid.group(1)})" if pid else ""
        return (f"{path}: the database is in use by another process{holder}; a .duckdb file opens in one "
                f"process at a time: `trellis store migrate {path}` moves it into a store many can share")
    return f"{path}: cannot open the database: {message.splitlines()[0]}"
