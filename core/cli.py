"""The `trellis` command line: import, list, show and export traces.

Errors go to stderr as one line, ``error: FILE[:LINE]: what is wrong``, with exit code 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from core import export
from core.errors import TrellisError
from core.explore import one_line
from core.importers import FORMATS, import_files
from core.importers.reading import DEFAULT_MAX_BYTES
from core.models import json_schema
from core.store import Store, default_db_path
from core.tree import TreeIndex


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except TrellisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; nothing was stored", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trellis", description="Inspect, critique and reuse recursive agent traces.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, run, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        return sub

    def db_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--db", default=None, help="database file (default: $TRELLIS_DB or ./trellis.duckdb)")

    sub = command("import", _import, "Import trace files into the store (all or nothing).")
    sub.add_argument("paths", nargs="+", metavar="PATH")
    sub.add_argument("--format", choices=FORMATS, default="auto")
    sub.add_argument("--replace", action="store_true", help="replace traces whose id is already stored")
    sub.add_argument("--max-mb", type=float, default=DEFAULT_MAX_BYTES / 1024 / 1024, help="largest file accepted")
    db_option(sub)

    sub = command("list", _list, "List the traces in the store.")
    sub.add_argument("--json", action="store_true")
    db_option(sub)

    sub = command("show", _show, "Show a trace's decomposition tree, or the trace as Trellis JSON.")
    sub.add_argument("trace_id", metavar="TRACE_ID")
    sub.add_argument("--json", action="store_true")
    sub.add_argument("--depth", type=int, default=8, help="deepest level to draw (default 8)")
    sub.add_argument("--max-nodes", type=int, default=300, help="most nodes to draw (default 300)")
    db_option(sub)

    sub = command("export", _export, "Write a trace as Trellis JSON that `trellis import` reads back.")
    sub.add_argument("trace_id", metavar="TRACE_ID")
    sub.add_argument("--out", type=Path, help="file to write (default: stdout)")
    db_option(sub)

    sub = command("critique", _critique, "Critique a student trace; store the findings as proposed annotations.")
    sub.add_argument("trace_id", metavar="STUDENT_ID")
    sub.add_argument("--reference", metavar="TRACE_ID", help="reference trace (default: the teacher trace of the same task class)")
    sub.add_argument("--no-reference", action="store_true", help="critique the trace on its own")
    sub.add_argument("--teacher", metavar="MODEL", default="trellis/structural",
                     help="any litellm model string (default: the offline structural critic)")
    sub.add_argument("--fallback", metavar="MODEL", action="append", default=[], help="model to try if the teacher fails")
    sub.add_argument("--timeout", type=float, default=60.0, help="seconds per teacher call (default 60)")
    sub.add_argument("--retries", type=int, default=2, help="retries per teacher call (default 2)")
    sub.add_argument("--api-base", help="base URL of an OpenAI-compatible server")
    sub.add_argument("--json", action="store_true")
    db_option(sub)

    sub = command("annotations", _annotations, "List a trace's annotations.")
    sub.add_argument("trace_id", metavar="TRACE_ID")
    sub.add_argument("--json", action="store_true")
    db_option(sub)

    sub = command("schema", _schema, "Print the JSON Schema of the Trellis trace format.")
    sub.add_argument("--out", type=Path)
    from core.scaffold_cli import add_scaffold_commands
    add_scaffold_commands(commands, db_option)
    return parser


def _store(args: argparse.Namespace) -> Store:
    return Store(args.db or default_db_path())


def _import(args: argparse.Namespace) -> None:
    with _store(args) as store:
        traces = import_files(
            store, args.paths, args.format, replace=args.replace, max_bytes=int(args.max_mb * 1024 * 1024)
        )
    for t in traces:
        for warning in t.warnings:
            print(f"warning: {t.source}: {warning}", file=sys.stderr)
        print(f"{t.trace.id}\t{t.node_count} nodes")


def _list(args: argparse.Namespace) -> None:
    with _store(args) as store:
        summaries = store.list_traces()
    if args.json:
        print(json.dumps([s.__dict__ for s in summaries], default=str, indent=2))
        return
    table = Table("id", "title", "class", "role", "agent", "nodes", "depth", "tokens", "cost $")
    for s in summaries:
        cost = "" if s.cost is None else f"{s.cost:.4f}"
        table.add_row(*(Text(str(v or "")) for v in (s.id, s.title, s.task_class, s.role, s.agent)),
                      str(s.node_count), str(s.depth), f"{s.tokens:,}", cost)
    Console().print(table)


def _show(args: argparse.Namespace) -> None:
    with _store(args) as store:
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
        text.append(one_line(node.subproblem or node.name or node.id, 100))  # Text: never parsed as markup
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
    with _store(args) as store:
        loaded = store.load_trace(args.trace_id)
    document = export.to_json(loaded)
    if args.out:
        args.out.write_text(document + "\n", encoding="utf-8")
        print(f"wrote {args.out} ({len(loaded.nodes)} nodes)", file=sys.stderr)
    else:
        print(document)


def _critique(args: argparse.Namespace) -> None:
    from core.critique.teacher import TeacherSettings, default_reference, run_critique  # imports litellm: slow

    settings = TeacherSettings(model=args.teacher, timeout=args.timeout, retries=args.retries, fallbacks=args.fallback,
                               api_base=args.api_base)
    with _store(args) as store:
        reference = None if args.no_reference else args.reference or default_reference(store, store.load_trace(args.trace_id))
        result = run_critique(store, args.trace_id, reference, settings,
                              progress=lambda step: print(f"… {step}", file=sys.stderr))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"critique {result.run.id} of {args.trace_id} by {args.teacher}"
          f"{f' against {reference}' if reference else ''}: {len(result.annotations)} proposed", file=sys.stderr)
    _print_annotations(result.annotations, args.json)


def _annotations(args: argparse.Namespace) -> None:
    with _store(args) as store:
        store.get_trace(args.trace_id)
        annotations = store.list_annotations(args.trace_id)
    _print_annotations(annotations, args.json)


def _print_annotations(annotations, as_json: bool) -> None:
    if as_json:
        print(json.dumps([a.model_dump(mode="json") for a in annotations], indent=2))
        return
    table = Table("id", "node", "category", "severity", "status", "rationale")
    for a in annotations:
        table.add_row(*(Text(str(v or "—")) for v in (a.id, a.node_id, a.category, a.severity, a.status, a.rationale)))
    Console().print(table)


def _schema(args: argparse.Namespace) -> None:
    text = json.dumps(json_schema(), indent=2) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        print(text, end="")


if __name__ == "__main__":
    sys.exit(main())
