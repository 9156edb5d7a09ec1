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
from core.auth import ROLES, command_line_actor, normalise_email, parse_role
from core.errors import TrellisError
from core.importers import FORMATS, import_files
from core.importers.reading import DEFAULT_MAX_BYTES
from core.models import MAX_NODE_BYTES, MB, json_schema
from core.store import Store, default_db_path
from core.text import shorten
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
    sub.epilog = "A file whose exact content was imported before is skipped without being read (unless --replace)."
    sub.add_argument("paths", nargs="+", metavar="PATH")
    sub.add_argument("--format", choices=FORMATS, default="auto")
    sub.add_argument("--replace", action="store_true", help="replace traces whose id is already stored")
    sub.add_argument("--max-mb", type=float, default=DEFAULT_MAX_BYTES / MB,
                     help=f"largest file accepted, in MB (default {DEFAULT_MAX_BYTES // MB}); in every format, "
                          f"one node may hold at most {MAX_NODE_BYTES // MB} MB of text and metadata")
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
    sub.epilog = ("The web app offers only the models the operator configured ($TRELLIS_MODELS or ./trellis-models.toml, "
                  "and [models.NAME] in .streamlit/secrets.toml). Here, in your own shell with your own environment, "
                  "--teacher and --fallback may also be any litellm model string.")
    sub.add_argument("trace_id", metavar="STUDENT_ID")
    sub.add_argument("--reference", metavar="TRACE_ID", help="reference trace (default: the teacher trace of the same task class)")
    sub.add_argument("--no-reference", action="store_true", help="critique the trace on its own")
    sub.add_argument("--teacher", metavar="MODEL", default="trellis/structural",
                     help="a configured model's name, or any litellm model string (default: the offline structural critic)")
    sub.add_argument("--fallback", metavar="MODEL", action="append", default=[], help="model to try if the teacher fails")
    sub.add_argument("--timeout", type=float, help="seconds per teacher call (default: the model's own, else 60)")
    sub.add_argument("--retries", type=int, default=2, help="retries per teacher call (default 2)")
    sub.add_argument("--api-base", help="base URL of an OpenAI-compatible server, for a --teacher given as a litellm model string")
    sub.add_argument("--api-key-env", metavar="VAR",
                     help="environment variable holding the key for --api-base (without it, no key is sent there)")
    sub.add_argument("--json", action="store_true")
    db_option(sub)

    sub = command("annotations", _annotations, "List a trace's annotations.")
    sub.add_argument("trace_id", metavar="TRACE_ID")
    sub.add_argument("--json", action="store_true")
    db_option(sub)

    sub = command("schema", _schema, "Print the JSON Schema of the Trellis trace format.")
    sub.add_argument("--out", type=Path)

    user = commands.add_parser("user", help="Grant roles and list who has which.", description="Grant roles and list who has which.")
    user_actions = user.add_subparsers(required=True, metavar="ACTION")
    sub = user_actions.add_parser("grant", help="Give a person (by the e-mail their identity provider reports) a role.")
    sub.set_defaults(run=_user_grant)
    sub.add_argument("email", metavar="EMAIL")
    sub.add_argument("role", metavar="ROLE", help=f"one of {', '.join(ROLES)}")
    db_option(sub)
    sub = user_actions.add_parser("list", help="List people and their roles.")
    sub.set_defaults(run=_user_list)
    sub.add_argument("--json", action="store_true")
    db_option(sub)

    sub = command("audit", _audit, "Show who changed what and when, latest first.")
    sub.add_argument("--limit", type=int, default=50)
    sub.add_argument("--actor", help="only changes by this person")
    sub.add_argument("--target", help="only changes to this object (an id, or the start of one)")
    sub.add_argument("--json", action="store_true")
    db_option(sub)
    from core.scaffold_cli import add_scaffold_commands
    add_scaffold_commands(commands, db_option)
    return parser


def _store(args: argparse.Namespace) -> Store:
    return Store(args.db or default_db_path())


def _import(args: argparse.Namespace) -> None:
    with _store(args) as store:
        traces = import_files(
            store, args.paths, args.format, replace=args.replace, max_bytes=int(args.max_mb * MB),
            on_identical=lambda message: print(message, file=sys.stderr),
            actor=command_line_actor(team=bool(store.list_users())),
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

    settings = TeacherSettings(teacher=args.teacher, timeout=args.timeout, retries=args.retries, fallbacks=args.fallback)
    catalog = _critique_catalog(args)
    with _store(args) as store:
        reference = None if args.no_reference else args.reference or default_reference(store, store.load_trace(args.trace_id))
        result = run_critique(store, args.trace_id, reference, settings, catalog=catalog,
                              progress=lambda step: print(f"… {step}", file=sys.stderr),
                              actor=command_line_actor(team=bool(store.list_users())))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"critique {result.run.id} of {args.trace_id} by {args.teacher}"
          f"{f' against {reference}' if reference else ''}: {len(result.annotations)} proposed", file=sys.stderr)
    _print_annotations(result.annotations, args.json)


def _critique_catalog(args: argparse.Namespace) -> dict:
    """The operator's catalog, plus an ad-hoc entry for each litellm model string named here, so the
    command line reaches a model the same way the app does."""
    from core.model_catalog import CatalogError, load_catalog, model_entry

    catalog = load_catalog()
    if args.teacher in catalog and (args.api_base or args.api_key_env):
        raise CatalogError(f"--teacher {args.teacher} is a configured model with its own endpoint; "
                           "--api-base and --api-key-env go with a litellm model string")
    for name in [args.teacher, *args.fallback]:
        if name not in catalog:
            own = {"api_base": args.api_base, "api_key_env": args.api_key_env} if name == args.teacher else {}
            catalog[name] = model_entry(name, {"model": name, **own}, f"--teacher {name}" if own else f"--fallback {name}")
    return catalog


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


def _user_grant(args: argparse.Namespace) -> None:
    with _store(args) as store:
        actor = command_line_actor(team=bool(store.list_users()))
        grant = store.grant_role(normalise_email(args.email), parse_role(args.role), actor)
    print(f"{grant.email} is now {grant.role} (granted by {grant.granted_by})")


def _user_list(args: argparse.Namespace) -> None:
    with _store(args) as store:
        grants = store.list_users()
    if args.json:
        print(json.dumps([g.__dict__ for g in grants], default=str, indent=2))
        return
    table = Table("email", "role", "granted by", "granted at")
    for g in grants:
        table.add_row(Text(g.email), g.role, Text(g.granted_by), f"{g.granted_at:%Y-%m-%d %H:%M}")
    Console().print(table)


def _audit(args: argparse.Namespace) -> None:
    with _store(args) as store:
        entries = store.audit_log(args.limit, actor=args.actor, target=args.target)
    if args.json:
        print(json.dumps([e.__dict__ for e in entries], default=str, indent=2))
        return
    table = Table("when", "who", "action", "on", "details")
    for e in entries:
        table.add_row(f"{e.happened_at:%Y-%m-%d %H:%M:%S}", Text(e.actor), e.action, Text(e.target),
                      Text(json.dumps(e.details) if e.details else ""))
    Console().print(table)


if __name__ == "__main__":
    sys.exit(main())
