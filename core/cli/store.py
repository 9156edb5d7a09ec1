"""`trellis store init | migrate OLD.duckdb | compact`: make a new store with something in it; move a store from
before the shared lake into one; keep a lake's files few."""

from __future__ import annotations

import argparse

from core.cli.common import Commands, acting, open_store
from core.errors import StoreError
from core.importers import import_files
from core.store import Place, Store


def register(commands: Commands) -> None:
    store = commands.group("store", "Manage the store itself.")
    sub = store.add("init", _init, "Make the store at --db if there is none yet (or it was never used), filled with "
                    "the trace files of --samples, or with --from with everything a .duckdb file holds; a store in "
                    "use is left as it is.")
    sub.add_argument("--samples", metavar="FOLDER", help="trace files to import into a new store")
    sub.add_argument("--from", dest="source", metavar="OLD.duckdb",
                     help="a .duckdb file to copy into a new store instead, if it exists")
    sub = store.add("migrate", _migrate,
                    "Copy everything a .duckdb file holds into a new store (--db: a folder, or postgres://...), "
                    "all or nothing, checked table by table.")
    sub.add_argument("source", help="the .duckdb file to copy (it is left as it was)")
    sub = store.add("compact", _compact, "Fold a lake's many small files into few and delete those no reader needs "
                    "(safe while the app and other commands run).")
    sub.add_argument("--keep-minutes", type=int, default=60,
                     help="keep what snapshots younger than this need (default: 60)")


def _init(args: argparse.Namespace) -> None:
    old = args.source and Place.of(args.source).exists()
    with open_store(args, create=True) as store:
        # Untouched: no trace and no change on record (a failed first fill left it so, and is tried again).
        if store.count_traces() or store.audit_log(limit=1):
            print(f"{store.path} is already a store: left as it is")
        elif old:
            _copy(store, args.source)
        elif args.samples:
            imported = import_files(store, [args.samples], actor=acting(store))
            print(f"{store.path} is ready, with {len(imported)} traces from {args.samples}")
        else:
            print(f"{store.path} is ready, empty")


def _migrate(args: argparse.Namespace) -> None:
    source = Place.of(args.source)
    if source.kind != "file" or not source.exists():
        raise StoreError(f"no .duckdb file {args.source}")
    with open_store(args, create=True) as store:
        _copy(store, args.source)


def _copy(store: Store, source: str) -> None:
    copied = store.copy_from(source)
    for table in copied:
        print(f"{table.table}\t{table.rows:,} rows")
    print(f"moved {source} into {store.path}: {sum(t.rows for t in copied):,} rows in {len(copied)} tables, "
          "each table's count and content hash equal to the original's")


def _compact(args: argparse.Namespace) -> None:
    with open_store(args) as store:
        files = store.compact(keep_minutes=args.keep_minutes)
    print(f"compacted {store.path}: {files:,} data files")
