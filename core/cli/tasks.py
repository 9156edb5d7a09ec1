"""`trellis tasks validate | list | check | schema`: task files with checkable answers (docs/tasks.md)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.cli.common import Commands
from core.cli.output import print_records, write_schema
from core.errors import InputError
from core.importers.reading import DEFAULT_MAX_BYTES
from core.models import MB
from core.tasks import as_answer, check, json_schema, load_task_files
from core.text import shorten


@dataclass(frozen=True)
class TaskRow:
    """One task as `trellis tasks list` prints it."""

    id: str
    task_class: str
    checker: str
    expected: Any
    instruction: str
    context: list[str]  # the context files, relative to the task file; ["inline"] for inline text
    context_chars: int
    max_calls: int
    max_tokens: int
    max_seconds: float
    file: str
    line: int


@dataclass(frozen=True)
class CheckResult:
    task_id: str
    score: float
    explanation: str
    extracted: Any
    details: dict


TASK_COLUMNS = [
    ("id", lambda r: r.id), ("class", lambda r: r.task_class), ("checker", lambda r: r.checker),
    ("expected", lambda r: shorten(as_text(r.expected), 40)), ("context", lambda r: r.context[0] if len(r.context) == 1 else f"{len(r.context)} files"),
    ("chars", lambda r: f"{r.context_chars:,}"), ("budget", lambda r: f"{r.max_calls} calls, {r.max_tokens:,} tok, {r.max_seconds:g} s"),
]


def as_text(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


def register(commands: Commands) -> None:
    tasks = commands.group("tasks", "Task files with checkable answers: validate, list, check an answer, print the schema.")
    max_mb = dict(type=float, default=DEFAULT_MAX_BYTES / MB,
                  help=f"largest task file accepted, in MB (default {DEFAULT_MAX_BYTES // MB})")

    sub = tasks.add("validate", _validate, "Check task files (a folder: every *.jsonl under it); prints FILE<TAB>N tasks each.",
                    db=False, epilog="Unknown task classes are warnings (on stderr); every other problem is an error, exit 1.")
    sub.add_argument("paths", nargs="+", metavar="PATH")
    sub.add_argument("--max-mb", **max_mb)

    sub = tasks.add("list", _list, "List the tasks of task files (validated first).", db=False, json=True)
    sub.add_argument("paths", nargs="+", metavar="PATH")
    sub.add_argument("--max-mb", **max_mb)

    sub = tasks.add("check", _check, "Score an answer to one task with the task's checker.", db=False, json=True)
    sub.add_argument("path", metavar="PATH", help="the task file (or a folder of them)")
    sub.add_argument("task_id", metavar="TASK_ID")
    sub.add_argument("answer", metavar="ANSWER", nargs="?", default="-",
                     help="the answer text; - or nothing reads it from stdin; --expected uses the task's own answer")
    sub.add_argument("--expected", action="store_true", help="check the task's expected answer (a self-test)")

    sub = tasks.add("schema", _schema, "Print the JSON Schema of a task file's lines.", db=False)
    sub.add_argument("--out", type=Path)


def _load(args: argparse.Namespace):
    files = load_task_files(args.paths, max_bytes=int(args.max_mb * MB))
    for loaded in files:
        for warning in loaded.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return files


def _validate(args: argparse.Namespace) -> None:
    for loaded in _load(args):
        print(f"{loaded.source}\t{len(loaded.tasks)} tasks")


def _list(args: argparse.Namespace) -> None:
    rows = []
    for loaded in _load(args):
        for task in loaded.tasks:
            documents = loaded.context_documents(task)
            rows.append(TaskRow(
                id=task.id, task_class=task.task_class, checker=task.checker.kind, expected=task.expected,
                instruction=task.instruction, context=[name for name, _ in documents],
                context_chars=sum(len(text) for _, text in documents), max_calls=task.budget.max_calls,
                max_tokens=task.budget.max_tokens, max_seconds=task.budget.max_seconds,
                file=loaded.source, line=loaded.lines[task.id],
            ))
    print_records(rows, as_json=args.json, columns=TASK_COLUMNS)


def _check(args: argparse.Namespace) -> None:
    files = load_task_files([args.path])
    found = [(f, t) for f in files for t in f.tasks if t.id == args.task_id]
    if not found:
        raise InputError(args.path, f"no task with id {args.task_id!r}")
    _, task = found[0]
    answer = as_answer(task) if args.expected else (sys.stdin.read() if args.answer == "-" else args.answer)
    score = check(task, answer)
    result = CheckResult(task.id, score.score, score.explanation, score.extracted, score.details)
    if args.json:
        print_records([result], as_json=True, single=True)
    else:
        print(f"{score.score:.2f}\t{score.explanation}")


def _schema(args: argparse.Namespace) -> None:
    write_schema(json_schema(), args.out)
