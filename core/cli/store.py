"""`trellis store migrate OLD.duckdb | compact`: move a store from before the shared lake into one; keep a lake's
files few."""

from __future__ import annotations

import argparse

from core.cli.common import Commands, open_store
from core.errors import StoreError
from core.store import Place


def register(commands: Commands) -> None:
    store = commands.group("store", "Manage the store itself.")
    sub = store.add("migrate", _migrate,
                    "Copy everything a .duckdb file holds into a new store (--db: a folder, or postgres://...), "
                    "all or nothing, checked table by table.")
    sub.add_argument("source", help="the .duckdb file to copy (it is left as it was)")
    sub = store.add("compact", _compact, "Fold a lake's many small files into few and delete those no reader needs "
                    "(safe while the app and other commands run).")
    sub.add_argument("--keep-minutes", type=int, default=60,
                     help="keep what snapshots younger than this need (default: 60)")


def _migrate(args: argparse.Namespace) -> None:
    source = Place.of(args.source)
    if source.kind != "file" or not source.exists():
        raise StoreError(f"no .duckdb file {args.source}")
    with open_store(args, create=True) as store:
        copied = store.copy_from(args.source)
        for table in copied:
            print(f"{table.table}\t{table.rows:,} rows")
        print(f"moved {args.source} into {store.path}: {sum(t.rows for t in copied):,} rows in {len(copied)} tables, "
              "each table's count and content hash equal to the original's")


def _compact(args: argparse.Namespace) -> None:
    with open_store(args) as store:
        files = store.compact(keep_minutes=args.keep_minutes)
    print(f"compacted {store.path}: {files:,} data files")
