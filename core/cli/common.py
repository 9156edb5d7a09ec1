"""What every command shares: how it is registered with its options, the store it opens, who it acts as."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from core.auth import Actor, command_line_actor
from core.cli.output import Column, print_records
from core.errors import StoreError
from core.store import Place, Store, default_db_path

Run = Callable[[argparse.Namespace], int | None]
Fetch = Callable[[Store, argparse.Namespace], Sequence[Any]]


class Commands:
    """Where a feature module adds its subcommands, each with the shared options it asks for:
    ``--db`` (all that open the store) and ``--json`` (all that print records, see core.cli.output)."""

    def __init__(self, subparsers: argparse._SubParsersAction) -> None:
        self._subparsers = subparsers

    def add(self, name: str, run: Run, help: str, *, db: bool = True, json: bool = False,
            epilog: str | None = None) -> argparse.ArgumentParser:
        sub = self._subparsers.add_parser(name, help=help, description=help, epilog=epilog)
        sub.set_defaults(run=run)
        if json:
            sub.add_argument("--json", action="store_true", help="print JSON rather than a table (shapes: docs/cli.md)")
        if db:
            sub.add_argument("--db", default=None, help="the store: a folder, postgres://..., or a .duckdb file (default: $TRELLIS_STORE or ./trellis.lake)")
        return sub

    def group(self, name: str, help: str) -> Commands:
        """A command made of actions, e.g. ``trellis user grant``: add the actions to what this returns."""
        parser = self._subparsers.add_parser(name, help=help, description=help)
        return Commands(parser.add_subparsers(required=True, metavar="ACTION"))


def open_store(args: argparse.Namespace, *, create: bool = False) -> Store:
    """The store at --db. Only a command that adds things (``create``: import, run, ...) makes a new
    database file; any other refuses a missing one, so a mistyped --db is an error, not an empty library."""
    path = args.db or default_db_path()
    if not create and not Place.of(path).exists():
        raise StoreError(f"no store {path} (check --db or $TRELLIS_STORE; `trellis import FILE --db {path}` creates one)")
    return Store(path)


def acting(store: Store) -> Actor:
    """Who the command acts as: the operating system account, as an admin; once any role is granted
    (a team), it too is bound by the rules, e.g. never approving what it saved itself."""
    return command_line_actor(team=bool(store.list_users()))


def listing(fetch: Fetch, columns: Sequence[Column], *, empty: str = "") -> Run:
    """The run of a command that lists records: open the store, ``fetch`` them, print them
    (a table, or with --json a list of objects)."""
    def run(args: argparse.Namespace) -> None:
        with open_store(args) as store:
            records = fetch(store, args)
        print_records(records, as_json=args.json, columns=columns, empty=empty)
    return run
