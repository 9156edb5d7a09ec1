"""`trellis experiment run | list | show | export`: arms compared on the same tasks, with intervals."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli.common import Commands, acting, listing, open_store
from core.cli.output import print_records
from core.errors import TrellisError
from core.experiments.models import ARM_FORMS, Experiment
from core.model_catalog import load_catalog, model_entry
from core.runs.models import RUNNERS
from core.store import Store

EXPERIMENT_COLUMNS = [
    ("id", lambda e: e.id), ("student", lambda e: e.student), ("arms", lambda e: " · ".join(e.arms)),
    ("repeats", lambda e: e.repeats), ("tasks", lambda e: ", ".join(Path(p).name for p in e.task_paths)),
    ("by", lambda e: e.created_by), ("created", lambda e: f"{e.created_at:%Y-%m-%d %H:%M}" if e.created_at else None),
]


def register(commands: Commands) -> None:
    actions = commands.group("experiment", "Compare arms (no scaffold, a scaffold, ...) on the same tasks.")

    sub = actions.add(
        "run", _run, "Run every arm on the same tasks with the same seeds, interleaved; stored as it goes.", json=True,
        epilog="Running the same command again resumes the experiment: runs already finished are not done again. "
               "The first --arm is the baseline the others are compared with.")
    sub.add_argument("--tasks", nargs="+", required=True, metavar="TASKS", help="task files, or folders of them")
    sub.add_argument("--student", required=True, metavar="MODEL")
    sub.add_argument("--arm", action="append", required=True, dest="arms", metavar="ARM", help=ARM_FORMS)
    sub.add_argument("--repeats", type=int, default=1, help="runs per task and arm (default 1)")
    sub.add_argument("--seed", type=int, default=0, help="repeat k of every arm uses seed SEED+k-1")
    sub.add_argument("--limit", type=int, metavar="N", help="only the first N tasks of each file")
    sub.add_argument("--runner", choices=RUNNERS, default="plan")
    sub.add_argument("--timeout", type=float, default=120.0, help="seconds per model call (default 120)")
    sub.add_argument("--api-base", help="base URL of an OpenAI-compatible server, for a --student given as a model string")
    sub.add_argument("--id", dest="experiment_id", metavar="ID", help="name the experiment (default: by its settings)")

    actions.add("list", listing(lambda store, args: store.list_experiments(), EXPERIMENT_COLUMNS, empty="—"),
                "List experiments, newest first.", json=True)

    sub = actions.add("show", _show, "Each arm's figures with 95% intervals, and each arm against the baseline.",
                      json=True)
    sub.add_argument("experiment_id", metavar="ID")

    sub = actions.add("export", _export, "Write every run of an experiment as CSV or JSON rows.")
    sub.add_argument("experiment_id", metavar="ID")
    sub.add_argument("--format", choices=["csv", "json"], default="csv")
    sub.add_argument("--out", type=Path, help="file to write (default: stdout)")


def _run(args: argparse.Namespace) -> int:
    from core.experiments.run import define_experiment, run_experiment  # the runner loads only for this command
    from core.tasks.load import load_task_files

    task_files = load_task_files(args.tasks)
    student = load_catalog(db=args.db).get(args.student) or model_entry(
        args.student, {"model": args.student, "api_base": args.api_base}, f"--student {args.student}")
    with open_store(args, create=True) as store:
        actor = acting(store)
        experiment = define_experiment(store, task_files, student.name, args.arms, actor=actor, repeats=args.repeats,
                                       seed=args.seed, limit=args.limit, runner=args.runner, timeout=args.timeout,
                                       experiment_id=args.experiment_id)
        print(f"experiment {experiment.id}: {' · '.join(experiment.arms)}", file=sys.stderr)
        try:
            result = run_experiment(store, experiment, task_files, student, actor=actor,
                                    progress=lambda line: print(f"… {line}", file=sys.stderr))
        except KeyboardInterrupt:  # each finished run is already stored; the one under way is not
            stored = len(store.list_runs(experiment_id=experiment.id))
            raise TrellisError(f"interrupted: experiment {experiment.id} has {stored} runs stored; "
                               "run the same command again to resume it") from None
        _print_report(store, experiment, as_json=args.json)
    failed = sum(r.status == "failed" for r in result.runs)
    print(f"experiment {experiment.id}: {len(result.runs)} runs made ({failed} failed)"
          + (f", {result.skipped} already done" if result.skipped else "") + f", of {result.planned}", file=sys.stderr)
    return 1 if result.runs and failed == len(result.runs) else 0


def _show(args: argparse.Namespace) -> None:
    with open_store(args) as store:
        _print_report(store, store.get_experiment(args.experiment_id), as_json=args.json)


def _print_report(store: Store, experiment: Experiment, *, as_json: bool) -> None:
    from core.experiments.report import experiment_report, interval  # numpy loads only for these commands

    report = experiment_report(experiment, store.list_runs(experiment_id=experiment.id))
    if as_json:
        print_records([report], as_json=True, single=True)
        return
    print(f"experiment {experiment.id} · {experiment.student} · {report.finished} runs finished, "
          f"{report.failed} failed · baseline {experiment.baseline}")
    columns = [
        ("arm", lambda a: a.summary.arm), ("runs", lambda a: a.summary.runs), ("tasks", lambda a: a.summary.tasks),
        ("score", lambda a: interval(a.summary.score)), ("tokens", lambda a: interval(a.summary.tokens, 0)),
        ("seconds", lambda a: interval(a.summary.seconds, 1)), ("calls", lambda a: interval(a.summary.calls, 1)),
        ("fell back", lambda a: "—" if a.fallbacks.rate is None else f"{a.fallbacks.fell_back}/{a.fallbacks.scaffolded}"),
        ("adherence", lambda a: interval(a.adherence)),
    ]
    print_records(report.arms, as_json=False, columns=columns, empty="—")
    for arm in report.arms[1:]:
        print(f"\n{arm.verdict}")
        for reason, count in list(arm.fallbacks.reasons.items())[:5]:
            print(f"  fell back {count}×: {reason}")


def _export(args: argparse.Namespace) -> None:
    from core.experiments.report import rows_csv, rows_json

    with open_store(args) as store:
        experiment = store.get_experiment(args.experiment_id)
        runs = store.list_runs(experiment_id=experiment.id)
    document = rows_csv(runs) if args.format == "csv" else rows_json(runs)
    if args.out:
        args.out.write_text(document, encoding="utf-8")
        print(f"wrote {args.out} ({len(runs)} runs of {experiment.id}, {args.format})", file=sys.stderr)
    else:
        sys.stdout.write(document)
