"""`trellis run | runs`: a student model carries out task files, with a scaffold or without; list the runs."""

from __future__ import annotations

import argparse
import sys

from core.cli.common import Commands, acting, listing, open_store
from core.cli.output import print_records
from core.errors import TrellisError
from core.model_catalog import load_catalog, model_entry
from core.runs.models import RUNNERS, RunRecord
from core.store import Store

RUN_COLUMNS = [
    ("id", lambda r: r.id), ("task", lambda r: r.task_id), ("student", lambda r: r.student),
    ("scaffold", lambda r: r.followed),
    ("status", lambda r: r.status), ("score", lambda r: "—" if r.score is None else f"{r.score:.2f}"),
    ("fell back", lambda r: r.fallback_reason or "no"), ("calls", lambda r: r.calls),
    ("tokens", lambda r: r.tokens_in + r.tokens_out), ("seconds", lambda r: f"{r.seconds:.1f}"),
]


def register(commands: Commands) -> None:
    sub = commands.add(
        "run", _run, "Run a student model over task files; each run is a stored, scored trace.", json=True,
        epilog="Running the same command again resumes the batch: runs already stored are not done again. "
               "--student is a configured model's name, or here, in your own shell, any litellm model string.")
    sub.add_argument("paths", nargs="+", metavar="TASKS", help="task files, or folders of them (see docs/tasks.md)")
    sub.add_argument("--student", required=True, metavar="MODEL")
    sub.add_argument("--scaffold", default="none", metavar="ID[@VERSION]|auto|none",
                     help="an approved scaffold to follow, auto to pick the best approved one per task, or none")
    sub.add_argument("--runner", choices=RUNNERS, default="plan")
    sub.add_argument("--repeats", type=int, default=1, help="runs per task (default 1), seeds SEED, SEED+1, ...")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--limit", type=int, metavar="N", help="only the first N tasks of each file")
    sub.add_argument("--timeout", type=float, default=120.0, help="seconds per model call (default 120)")
    sub.add_argument("--api-base", help="base URL of an OpenAI-compatible server, for a --student given as a model string")
    sub.add_argument("--batch", metavar="ID", help="name the batch (default: named by what it runs)")

    sub = commands.add("runs", listing(_runs, RUN_COLUMNS, empty="—"), "List student runs.", json=True)
    sub.add_argument("--batch", metavar="ID")
    sub.add_argument("--task", metavar="TASK_ID")
    sub.add_argument("--scaffold", metavar="SCAFFOLD_ID")


def _run(args: argparse.Namespace) -> int:
    # The runner and task files load only for this command.
    from core.runs.batch import BatchSettings, batch_name, run_batch
    from core.tasks.load import load_task_files

    task_files = load_task_files(args.paths)
    catalog = load_catalog(db=args.db)
    student = catalog.get(args.student) or model_entry(
        args.student, {"model": args.student, "api_base": args.api_base}, f"--student {args.student}")
    settings = BatchSettings(student=student.name, scaffold=args.scaffold, runner=args.runner, repeats=args.repeats,
                             seed=args.seed, timeout=args.timeout, batch_id=args.batch, limit=args.limit)
    with open_store(args, create=True) as store:
        try:
            result = run_batch(store, task_files, student, settings, actor=acting(store),
                               progress=lambda line: print(f"… {line}", file=sys.stderr))
        except KeyboardInterrupt:  # each finished run is already stored; the one under way is not
            batch = batch_name(task_files, settings)
            raise TrellisError(f"interrupted: batch {batch} has {len(store.list_runs(batch_id=batch))} runs stored; "
                               "run the same command again to resume it") from None
    fell_back = sum(r.fell_back for r in result.runs)
    failed = sum(r.status == "failed" for r in result.runs)
    print(f"batch {result.batch_id}: {len(result.runs)} runs ({failed} failed, {fell_back} fell back)"
          + (f", {result.skipped} already done" if result.skipped else ""), file=sys.stderr)
    print_records(result.runs, as_json=args.json, columns=RUN_COLUMNS, empty="—")
    return 1 if result.runs and failed == len(result.runs) else 0  # nothing ran: a script must not go on


def _runs(store: Store, args: argparse.Namespace) -> list[RunRecord]:
    return store.list_runs(batch_id=args.batch, task_id=args.task, scaffold_id=args.scaffold)
