"""Looking after a store: moving everything it holds into another (``trellis store migrate OLD.duckdb``), and
keeping a DuckLake's files few (``trellis store compact``).

In a migration, every table is copied in one transaction of the new store, then each table's row count and content hash
(a sum of row hashes, so order does not matter) is compared with the old one before anything is
committed: a copy that differs in one value leaves the new store as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from core.errors import StoreError
from core.store.connection import LAKE, Connection, sql_quoted

_OLD = "migrating_from"


@dataclass(frozen=True)
class TableCopy:
    table: str
    rows: int
    content_hash: int


class UpkeepQueries(Connection):
    def copy_from(self, source: str) -> list[TableCopy]:
        """Copy every table of the store ``source`` (a .duckdb file) into this empty store; returns what was
        copied, each table's rows and content hash, checked equal on both sides."""
        Connection(source).close()  # brings an older file up to this version's schema first
        held = {t: n for t, n in self._row_counts(self._cur, None).items() if n}
        if held:
            raise StoreError(f"{self.path} is not empty ({', '.join(f'{n} {t}' for t, n in held.items())}): "
                             "migrate into a new store")
        cur = self._cur
        cur.execute(f"ATTACH '{sql_quoted(source)}' AS {_OLD} (READ_ONLY)")
        try:
            tables = self._tables(cur, _OLD)
            with self._transaction() as tx:
                for table, columns in tables.items():
                    names = ", ".join(f'"{c}"' for c in columns)
                    tx.execute(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM {_OLD}.main."{table}"')
                copied = [TableCopy(t, *self._fingerprint(tx, t, c)) for t, c in tables.items()]
                for copy, (table, columns) in zip(copied, tables.items()):
                    before = self._fingerprint(tx, f'{_OLD}.main."{table}"', columns)
                    if before != (copy.rows, copy.content_hash):
                        raise StoreError(f"{table}: the copy differs from {source} ({before[0]} rows there, "
                                         f"{copy.rows} here); nothing was migrated")
        finally:
            cur.execute(f"DETACH {_OLD}")
        return copied

    def compact(self, *, keep_minutes: int = 60) -> int:
        """Fold a lake's small writes into few Parquet files and delete files no snapshot younger than
        ``keep_minutes`` needs (readers that started earlier keep theirs). Returns the data files left.

        Every commit of a lake (an import, a collector's batch, a review) adds files or catalog rows of its own;
        left alone, reading a trace opens more and more of them."""
        if not self.place.shared:
            raise StoreError(f"{self.path} is a plain DuckDB file: it has no lake files to compact")
        cur = self._cur
        # Rows inlined in the catalog stay there: flushing them drops catalog tables that other processes'
        # connections (the app's) still name, and their next read fails (DuckLake 1.5.5).
        with self._write_lock, self._between_processes():
            cur.execute(f"CALL ducklake_rewrite_data_files('{LAKE}')")
            cur.execute(f"CALL ducklake_merge_adjacent_files('{LAKE}')")
            cur.execute(f"CALL ducklake_expire_snapshots('{LAKE}', older_than => now() - INTERVAL {int(keep_minutes)} MINUTE)")
            cur.execute(f"CALL ducklake_cleanup_old_files('{LAKE}', older_than => now() - INTERVAL {int(keep_minutes)} MINUTE)")
        return sum(cur.execute(f"SELECT count(*) FROM ducklake_list_files('{LAKE}', ?)", [table]).fetchone()[0]
                   for table in self._tables(cur, None))

    def table_fingerprints(self) -> list[TableCopy]:
        """Each table's rows and content hash, as ``copy_from`` compares them."""
        return [TableCopy(t, *self._fingerprint(self._cur, t, c)) for t, c in self._tables(self._cur, None).items()]

    def _tables(self, cur: duckdb.DuckDBPyConnection, database: str | None) -> dict[str, list[str]]:
        """The store's tables (the migrations record aside) and their columns, in schema order."""
        rows = cur.execute(
            "SELECT table_name, list(column_name ORDER BY column_index) FROM duckdb_columns() "
            "WHERE database_name = coalesce(?, current_database()) AND schema_name = 'main' "
            "AND table_name <> 'migrations' GROUP BY table_name ORDER BY table_name",
            [database],
        ).fetchall()
        return dict(rows)

    def _row_counts(self, cur: duckdb.DuckDBPyConnection, database: str | None) -> dict[str, int]:
        return {t: cur.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in self._tables(cur, database)}

    @staticmethod
    def _fingerprint(cur: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> tuple[int, int]:
        names = ", ".join(f'"{c}"' for c in columns)
        quoted = table if "." in table else f'"{table}"'
        rows, total = cur.execute(f"SELECT count(*), coalesce(sum(hash({names})::HUGEINT), 0) FROM {quoted}").fetchone()
        return rows, int(total)
