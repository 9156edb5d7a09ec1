"""`trellis import | list | show | export | delete | rename | tag | untag | schema`: traces in and out of the store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from core import export
from core.cli.common import Commands, acting, listing, open_store
from core.cli.output import write_schema
from core.errors import InputError
from core.importers import FORMATS, PARSERS, UnknownFormat, import_files
from core.importers.reading import DEFAULT_MAX_BYTES
from core.models import MAX_NODE_BYTES, MB, json_schema
from core.store.traces import TAG_RULE, AlreadyStored
from core.text import shorten
from core.tree import TreeIndex

TRACE_COLUMNS = [
    ("id", lambda s: s.id), ("title", lambda s: s.title), ("class", lambda s: s.task_class), ("role", lambda s: s.role),
    ("agent", lambda s: s.agent), ("nodes", lambda s: s.node_count), ("depth", lambda s: s.depth),
    ("tokens", lambda s: f"{s.tokens:,}"), ("cost $", lambda s: None if s.cost is None else f"{s.cost:.4f}"),
    ("tags", lambda s: " ".join(s.tags)),
]


def register(commands: Commands) -> None:
    sub = commands.add("import", _import, "Import trace files into the store (all or nothing).",
                       epilog="A file whose exact content was imported before is skipped without being read (unless --replace).")
    sub.add_argument("paths", nargs="+", metavar="PATH")
    sub.add_argument("--format", choices=FORMATS, default="auto")
    sub.add_argument("--replace", action="store_true",
                     help="replace traces whose id is already stored, keeping their tags, annotations, comments and runs "
                          "(refused if one of those names a node the new file lacks)")
    sub.add_argument("--max-mb", type=float, default=DEFAULT_MAX_BYTES / MB,
                     help=f"largest file accepted, in MB (default {DEFAULT_MAX_BYTES // MB}); in every format, "
                          f"one node may hold at most {MAX_NODE_BYTES // MB} MB of text and metadata")

    commands.add("list", listing(lambda store, args: store.list_traces(), TRACE_COLUMNS), "List the traces in the store.",
                 json=True)

    sub = commands.add("show", _show, "Show a trace's decomposition tree, or the trace as Trellis JSON.", json=True)
    sub.add_argument("trace_id", metavar="TRACE_ID")
    sub.add_argument("--depth", type=int, default=8, help="deepest level to draw (default 8)")
    sub.add_argument("--max-nodes", type=int, default=300, help="most nodes to draw (default 300)")

    sub = commands.add("export", _export, "Write a trace as Trellis JSON that `trellis import` reads back.")
    sub.add_argument("trace_id", metavar="TRACE_ID")
    sub.add_argument("--out", type=Path, help="file to write (default: stdout)")

    sub = commands.add("delete", _delete, "Delete traces, all or none (the admin role).",
                       epilog="Scaffolds drawn from a trace are kept, their provenance still naming it.")
    sub.add_argument("trace_ids", nargs="+", metavar="TRACE_ID")
    sub.add_argument("--cascade", action="store_true",
                     help="also delete the traces' annotations, node comments, critique runs and student-run records")

    sub = commands.add("rename", _rename, "Give a trace a new title.")
    sub.add_argument("trace_id", metavar="TRACE_ID")
    sub.add_argument("title", metavar="TITLE")

    for name, change, verb in (("tag", "add", "Add tags to a trace; prints ID<TAB>its tags."),
                               ("untag", "remove", "Take tags off a trace; prints ID<TAB>its tags.")):
        sub = commands.add(name, _retag, verb, epilog=TAG_RULE)
        sub.set_defaults(change=change)
        sub.add_argument("trace_id", metavar="TRACE_ID")
        sub.add_argument("tags", nargs="+", metavar="TAG")

    sub = commands.add("schema", _schema, "Print the JSON Schema of the Trellis trace format.", db=False)
    sub.add_argument("--out", type=Path)


def _import(args: argparse.Namespace) -> None:
    with open_store(args, create=True) as store:
        try:
            traces = import_files(
                store, args.paths, args.format, replace=args.replace, max_bytes=int(args.max_mb * MB),
                on_identical=lambda message: print(message, file=sys.stderr), actor=acting(store),
            )
        except UnknownFormat as exc:
            raise InputError(exc.source, f"{exc.message}; name it with --format ({', '.join(PARSERS)})", exc.line) from None
        except AlreadyStored as exc:
            raise AlreadyStored(f"{exc} (import with --replace)") from None
    for t in traces:
        for warning in t.warnings:
            print(f"warning: {t.source}: {warning}", file=sys.stderr)
        print(f"{t.trace.id}\t{t.node_count} nodes")


def _show(args: argparse.Namespace) -> None:
    """The tree; with --json the trace itself, as `trellis export` writes it (not a record)."""
    with open_store(args) as store:
        loaded = store.load_trace(args.trace_id)
    if args.json:
        print(export.to_json(loaded))
        return
    console = Console()
    trace = loaded.trace
    console.print(Text(f"{trace.id}: {trace.title}", style="bold"))
    console.print(Text(f"{trace.role} · {trace.agent or 'unknown agent'} · {trace.task_class or 'no task class'}"))
    console.print(_rich_tree(loaded.nodes, args.depth, args.max_nodes))


def _rich_tree(nodes, max_depth: int, max_nodes: int) -> Tree:
    """The tree as rich renders it, cut at max_depth levels and max_nodes nodes."""
    by_id = {n.id: n for n in nodes}
    index = TreeIndex.build([(n.id, n.parent_id, n.order) for n in nodes])
    sizes = index.subtree_sizes()

    def label(node_id: str) -> Text:
        node = by_id[node_id]
        text = Text(f"[{node.kind}] ", style="cyan")
        text.append(shorten(node.subproblem or node.name or node.id, 100))  # Text: never parsed as markup
        if node.tokens:
            text.append(f"  {node.tokens:,} tok", style="dim")
        if node.status == "error":
            text.append("  error", style="red")
        return text

    root = Tree(label(index.root))
    drawn = 1
    stack = [(index.root, root)]
    while stack:
        node_id, branch = stack.pop()
        children = index.children.get(node_id, [])
        if not children:
            continue
        if index.depth[node_id] + 1 > max_depth or drawn >= max_nodes:
            branch.add(Text(f"+{sizes[node_id] - 1} hidden", style="dim"))
            continue
        for child in children:
            stack.append((child, branch.add(label(child))))
            drawn += 1
        stack[-len(children):] = reversed(stack[-len(children):])
    return root


def _export(args: argparse.Namespace) -> None:
    with open_store(args) as store:
        loaded = store.load_trace(args.trace_id)
    document = export.to_json(loaded)
    if args.out:
        args.out.write_text(document + "\n", encoding="utf-8")
        print(f"wrote {args.out} ({len(loaded.nodes)} nodes)", file=sys.stderr)
    else:
        print(document)


def _delete(args: argparse.Namespace) -> None:
    with open_store(args) as store:
        deleted = store.delete_traces(args.trace_ids, acting(store), cascade=args.cascade)
    for links in deleted:
        print(f"deleted {links.trace_id}" + (f" with {links.deleted()}" if links.cascades else ""))
        if links.kept():
            print(f"kept, still naming {links.trace_id}: {links.kept()}", file=sys.stderr)


def _rename(args: argparse.Namespace) -> None:
    with open_store(args) as store:
        store.rename_trace(args.trace_id, args.title, acting(store))
        print(f"{args.trace_id}\t{store.get_trace(args.trace_id).title}")


def _retag(args: argparse.Namespace) -> None:
    with open_store(args) as store:
        tags = store.change_tags(args.trace_id, acting(store), **{args.change: args.tags})
    print(f"{args.trace_id}\t{' '.join(tags)}")


def _schema(args: argparse.Namespace) -> None:
    write_schema(json_schema(), args.out)
