"""`trellis scaffold ...`: extract, list, show, approve, export and find scaffolds.

Export and find only ever hand out approved versions.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from core.auth import Actor, command_line_actor
from core.scaffolds import EXPORT_FORMATS, ScaffoldStatus, export, to_text
from core.scaffolds.drafts import draft_scaffold
from core.scaffolds.retrieval import rank_scaffolds
from core.store import Store, default_db_path


def add_scaffold_commands(commands: argparse._SubParsersAction, db_option: Callable[[argparse.ArgumentParser], None]) -> None:
    scaffold = commands.add_parser(
        "scaffold", help="Extract, review and reuse scaffolds.", description="Extract, review and reuse scaffolds."
    )
    actions = scaffold.add_subparsers(required=True, metavar="ACTION")

    def action(name: str, run, help: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        db_option(sub)
        return sub

    sub = action("extract", _extract, "Extract a draft scaffold from a trace (several traces: merge a strategy).")
    sub.add_argument("trace_ids", nargs="+", metavar="TRACE_ID")
    sub.add_argument("--from-critique", action="store_true", help="apply the trace's accepted annotations")
    sub.add_argument("--json", action="store_true")

    sub = action("list", _list, "List scaffolds with their latest and approved versions.")
    sub.add_argument("--status", choices=[s.value for s in ScaffoldStatus], help="only scaffolds with a version in this status")
    sub.add_argument("--json", action="store_true")

    sub = action("show", _show, "Show one version of a scaffold (the latest by default).")
    sub.add_argument("scaffold_id", metavar="ID")
    sub.add_argument("--version", type=int)
    sub.add_argument("--json", action="store_true")

    for name, status, help in [
        ("submit", ScaffoldStatus.IN_REVIEW, "Submit a draft version for review."),
        ("approve", ScaffoldStatus.APPROVED, "Approve a submitted version so that agents may reuse it."),
        ("reject", ScaffoldStatus.REJECTED, "Reject a draft or submitted version."),
        ("deprecate", ScaffoldStatus.DEPRECATED, "Deprecate an approved version: it is no longer offered for reuse."),
    ]:
        sub = action(name, _decide, f"{help} Recorded under your operating system account.")
        sub.set_defaults(status=status)
        sub.add_argument("scaffold_id", metavar="ID")
        sub.add_argument("--version", type=int, required=True)
        sub.add_argument("--comment", default="")

    sub = action("export", _export, "Write an approved version as JSON, YAML or a prompt block.")
    sub.add_argument("scaffold_id", metavar="ID")
    sub.add_argument("--version", type=int, help="an approved version (default: the newest approved one)")
    sub.add_argument("--format", choices=EXPORT_FORMATS, default="json")
    sub.add_argument("--out", type=Path, help="file to write (default: stdout)")

    sub = action("find", _find, "Rank the approved scaffolds and strategies by fit to a new task.")
    sub.add_argument("task", metavar="TASK_TEXT")
    sub.add_argument("--task-class", help="prefer scaffolds of this task class")
    sub.add_argument("--limit", type=int, default=5)
    sub.add_argument("--json", action="store_true")


def _store(args: argparse.Namespace) -> Store:
    return Store(args.db or default_db_path())


def _actor(store: Store) -> Actor:
    return command_line_actor(team=bool(store.list_users()))


def _extract(args: argparse.Namespace) -> None:
    with _store(args) as store:
        draft = draft_scaffold(store, args.trace_ids, author=_actor(store), from_critique=args.from_critique)
    version = draft.version
    if args.json:
        print(json.dumps({"scaffold_id": version.scaffold_id, "version": version.version, "status": version.status,
                          "compression": draft.compression.as_dict(), "edits": draft.edits,
                          "scaffold": version.content.model_dump(mode="json")}, indent=2))
        return
    for edit in draft.edits:
        print(f"edit: {edit}", file=sys.stderr)
    print(f"{version.scaffold_id}\tversion {version.version}\t{version.status}")
    print(f"compression: {draft.compression.describe()}", file=sys.stderr)


def _list(args: argparse.Namespace) -> None:
    with _store(args) as store:
        rows = store.list_scaffolds(args.status)
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], default=str, indent=2))
        return
    table = Table("id", "title", "kind", "class", "latest", "status", "approved", "updated by")
    for r in rows:
        table.add_row(*(Text(str(v or "—")) for v in (
            r.scaffold_id, r.title, r.kind, r.task_class, f"v{r.latest_version}", r.latest_status,
            f"v{r.approved_version}" if r.approved_version else None, r.updated_by)))
    Console().print(table)


def _show(args: argparse.Namespace) -> None:
    with _store(args) as store:
        version = store.get_scaffold(args.scaffold_id, args.version)
    if args.json:
        print(json.dumps({"scaffold_id": version.scaffold_id, "version": version.version, "status": version.status,
                          "author": version.author, "comment": version.comment, "created_at": str(version.created_at),
                          "reviewer": version.reviewer, "scaffold": version.content.model_dump(mode="json")}, indent=2))
        return
    reviewed = f" by {version.reviewer}" if version.reviewer else ""
    print(f"{version.label} · {version.status}{reviewed} · saved by {version.author}")
    print(to_text(version.content))


def _decide(args: argparse.Namespace) -> None:
    with _store(args) as store:
        actor = _actor(store)
        version = store.set_scaffold_status(args.scaffold_id, args.version, args.status, actor=actor, comment=args.comment)
    print(f"{version.label} is {version.status} ({actor.name})")


def _export(args: argparse.Namespace) -> None:
    with _store(args) as store:
        version = store.reusable_scaffold(args.scaffold_id, args.version)
    document = export(version, args.format)
    if args.out:
        args.out.write_text(document.rstrip("\n") + "\n", encoding="utf-8")
        print(f"wrote {args.out} ({version.label}, {args.format})", file=sys.stderr)
    else:
        print(document.rstrip("\n"))


def _find(args: argparse.Namespace) -> None:
    with _store(args) as store:
        fits = rank_scaffolds(store, args.task, task_class=args.task_class, limit=args.limit)
    if args.json:
        print(json.dumps([f.__dict__ for f in fits], indent=2))
        return
    if not fits:
        print("no approved scaffolds yet", file=sys.stderr)
        return
    table = Table("rank", "id", "version", "kind", "class", "score", "why")
    for f in fits:
        table.add_row(str(f.rank), Text(f.scaffold_id), f"v{f.version}", f.kind, Text(f.task_class or "—"),
                      f"{f.score:.2f}", Text(f.why))
    Console().print(table)
