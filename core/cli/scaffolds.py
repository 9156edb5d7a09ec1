"""`trellis scaffold extract | revise | list | show | submit | approve | reject | deprecate | export | find`.

Export and find only ever hand out approved versions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli.common import Commands, acting, listing, open_store
from core.cli.output import plain, print_records
from core.experiments import gaps
from core.model_catalog import load_catalog, lookup
from core.scaffolds import EXPORT_FORMATS, ScaffoldStatus, export, to_text
from core.scaffolds.drafts import draft_scaffold
from core.scaffolds.retrieval import rank_scaffolds

SCAFFOLD_COLUMNS = [
    ("id", lambda r: r.scaffold_id), ("title", lambda r: r.title), ("kind", lambda r: r.kind),
    ("class", lambda r: r.task_class), ("latest", lambda r: f"v{r.latest_version}"), ("status", lambda r: r.latest_status),
    ("approved", lambda r: f"v{r.approved_version}" if r.approved_version else None), ("updated by", lambda r: r.updated_by),
]
FIT_COLUMNS = [
    ("rank", lambda f: f.rank), ("id", lambda f: f.scaffold_id), ("version", lambda f: f"v{f.version}"),
    ("kind", lambda f: f.kind), ("class", lambda f: f.task_class), ("score", lambda f: f"{f.score:.2f}"),
    ("why", lambda f: f.why),
]
DECISIONS = [
    ("submit", ScaffoldStatus.IN_REVIEW, "Submit a draft version for review."),
    ("approve", ScaffoldStatus.APPROVED, "Approve a submitted version so that agents may reuse it."),
    ("reject", ScaffoldStatus.REJECTED, "Reject a draft or submitted version."),
    ("deprecate", ScaffoldStatus.DEPRECATED, "Deprecate an approved version: it is no longer offered for reuse."),
]


def register(commands: Commands) -> None:
    actions = commands.group("scaffold", "Extract, review and reuse scaffolds.")

    sub = actions.add("extract", _extract, "Extract a draft scaffold from a trace (several traces: merge a strategy).", json=True)
    sub.add_argument("trace_ids", nargs="+", metavar="TRACE_ID")
    sub.add_argument("--from-critique", action="store_true", help="apply the trace's accepted annotations")
    sub.add_argument("--by-model", metavar="MODEL",
                     help="have a configured model (e.g. local: `trellis model serve`) compress the trace bottom-up")

    sub = actions.add("revise", _revise, "Save the next version of a scaffold from the accepted critique of an "
                      "experiment's runs of it.",
                      epilog="Critique the runs first (`trellis critique RUN_ID`) and accept what holds; the new "
                             "version is a draft, reviewed like any other before a student follows it.")
    sub.add_argument("scaffold_id", metavar="ID")
    sub.add_argument("--from-experiment", required=True, metavar="EXPERIMENT_ID")
    sub.add_argument("--version", type=int, help="the version the runs followed (needed when they followed several)")

    sub = actions.add("list", listing(lambda store, args: store.list_scaffolds(args.status), SCAFFOLD_COLUMNS, empty="—"),
                      "List scaffolds with their latest and approved versions.", json=True)
    sub.add_argument("--status", choices=[s.value for s in ScaffoldStatus], help="only scaffolds with a version in this status")

    sub = actions.add("show", _show, "Show one version of a scaffold (the latest by default).", json=True)
    sub.add_argument("scaffold_id", metavar="ID")
    sub.add_argument("--version", type=int)

    for name, status, help in DECISIONS:
        sub = actions.add(name, _decide, f"{help} Recorded under your operating system account.")
        sub.set_defaults(status=status)
        sub.add_argument("scaffold_id", metavar="ID")
        sub.add_argument("--version", type=int, required=True)
        sub.add_argument("--comment", default="")

    sub = actions.add("export", _export, "Write an approved version as JSON, YAML or a prompt block.")
    sub.add_argument("scaffold_id", metavar="ID")
    sub.add_argument("--version", type=int, help="an approved version (default: the newest approved one)")
    sub.add_argument("--format", choices=EXPORT_FORMATS, default="json")
    sub.add_argument("--out", type=Path, help="file to write (default: stdout)")

    sub = actions.add("find", _find, "Rank the approved scaffolds and strategies by fit to a new task.", json=True)
    sub.add_argument("task", metavar="TASK_TEXT")
    sub.add_argument("--task-class", help="prefer scaffolds of this task class")
    sub.add_argument("--limit", type=int, default=5)


def _extract(args: argparse.Namespace) -> None:
    by_model = lookup(load_catalog(db=args.db), args.by_model) if args.by_model else None
    with open_store(args) as store:
        draft = draft_scaffold(store, args.trace_ids, author=acting(store), from_critique=args.from_critique,
                               by_model=by_model, progress=lambda line: print(f"… {line}", file=sys.stderr))
    version = draft.version
    if args.json:  # the saved version, as `scaffold show` prints it, and how it was made
        made = {**plain(version), "compression": draft.compression.as_dict(), "edits": draft.edits}
        print_records([made], as_json=True, single=True)
        return
    for edit in draft.edits:
        print(f"edit: {edit}", file=sys.stderr)
    print(f"{version.scaffold_id}\tversion {version.version}\t{version.status}")
    print(f"compression: {draft.compression.describe()}", file=sys.stderr)


def _revise(args: argparse.Namespace) -> None:
    from core.experiments.revise import revise_from_experiment

    with open_store(args) as store:
        revision = revise_from_experiment(store, args.scaffold_id, args.from_experiment, author=acting(store),
                                          version=args.version)
    version = revision.version
    for edit in revision.edits:
        print(f"edit: {edit}", file=sys.stderr)
    print(f"{version.scaffold_id}\tversion {version.version}\t{version.status}")
    print(f"from v{version.based_on}: the accepted critique of {revision.critiqued} of its {revision.runs} runs",
          file=sys.stderr)


def _show(args: argparse.Namespace) -> None:
    with open_store(args) as store:
        version = store.get_scaffold(args.scaffold_id, args.version)
        # From the runs of every version, each warning naming its own: what failed in v2 matters before v3 is approved.
        runs = store.scaffold_step_runs(args.scaffold_id)
        found = gaps.flagged(gaps.step_gaps(runs, store.scaffold_step_calls(args.scaffold_id),
                                            store.scaffold_history(args.scaffold_id)))
    if args.json:
        print_records([{**plain(version), "capability_gaps": [gaps.as_record(g) for g in found]}], as_json=True,
                      single=True)
        return
    reviewed = f" by {version.reviewer}" if version.reviewer else ""
    print(f"{version.label} · {version.status}{reviewed} · saved by {version.author}")
    print(to_text(version.content))
    if runs:
        print(f"\ncapability gaps, from {len(runs)} student runs of any version: {len(found) or 'none'} flagged")
        for gap in found:
            print(f"warning: {gaps.warning(gap)}")


def _decide(args: argparse.Namespace) -> None:
    with open_store(args) as store:
        actor = acting(store)
        version = store.set_scaffold_status(args.scaffold_id, args.version, args.status, actor=actor, comment=args.comment)
    print(f"{version.label} is {version.status} ({actor.name})")


def _export(args: argparse.Namespace) -> None:
    with open_store(args) as store:
        version = store.reusable_scaffold(args.scaffold_id, args.version)
    document = export(version, args.format)
    if args.out:
        args.out.write_text(document.rstrip("\n") + "\n", encoding="utf-8")
        print(f"wrote {args.out} ({version.label}, {args.format})", file=sys.stderr)
    else:
        print(document.rstrip("\n"))


def _find(args: argparse.Namespace) -> None:
    with open_store(args) as store:
        fits = rank_scaffolds(store, args.task, task_class=args.task_class, limit=args.limit)
    if not fits and not args.json:
        print("no approved scaffolds yet", file=sys.stderr)
        return
    print_records(fits, as_json=args.json, columns=FIT_COLUMNS, empty="—")
