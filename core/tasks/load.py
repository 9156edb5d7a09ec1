"""Reading and validating task files, with the one-line errors bad traces get: ``FILE:LINE: field: what is wrong``.

A task file is JSONL (docs/tasks.md): the header line, then one task per line. Everything a run
will need is checked here, before any model is called: each line against the models, each
expected answer against its checker, task ids unique (across all the files read together), each
context file present, inside the task file's folder, UTF-8 and not too big.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from core.errors import InputError
from core.importers.base import describe
from core.importers.reading import DEFAULT_MAX_BYTES, check_file, iter_jsonl, read_text
from core.models import MAX_NODE_BYTES, MB
from core.tasks.checkers import expected_problem
from core.tasks.models import CHECKER_KINDS, KNOWN_TASK_CLASSES, TASKS_FORMAT, TASKS_VERSION, Task, TasksHeader

# A context file becomes the context of a run's nodes, so it has a node's limit.
MAX_CONTEXT_BYTES = MAX_NODE_BYTES
HEADER_HINT = f'a task file is JSONL: first the header {{"format": "{TASKS_FORMAT}", "version": {TASKS_VERSION}}}, then one task per line'


@dataclass
class TaskFile:
    """A validated task file: its header, its tasks in file order, and the line each came from."""

    path: Path
    header: TasksHeader
    tasks: list[Task]
    lines: dict[str, int]  # task id -> line number
    warnings: list[str] = field(default_factory=list)  # each "FILE:LINE: field: ..."

    @property
    def source(self) -> str:
        return str(self.path)

    def context_documents(self, task: Task) -> list[tuple[str, str]]:
        """(name, text) of each piece of the task's context: ("inline", text), or each file by its relative path."""
        if task.context.text is not None:
            return [("inline", task.context.text)]
        return [(rel, _read_context(self.path, rel, self.source, self.lines.get(task.id))) for rel in task.context.paths]

    def context_text(self, task: Task) -> str:
        """The whole context as one text; several files each under a ``=== FILE: name ===`` line."""
        documents = self.context_documents(task)
        if len(documents) == 1:
            return documents[0][1]
        return "\n\n".join(f"=== FILE: {name} ===\n{text}" for name, text in documents)


def task_file_paths(paths: Iterable[str | Path]) -> list[Path]:
    """The files named; a folder means every ``*.jsonl`` file under it, in path order."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.jsonl") if p.is_file()))
        else:
            found.append(path)
    return found


def load_task_files(paths: Iterable[str | Path], *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[TaskFile]:
    """Every task file named (folders expanded), validated; a task id used twice anywhere is an error."""
    files = []
    first_seen: dict[str, tuple[str, int]] = {}
    for path in task_file_paths(paths):
        loaded = load_task_file(path, max_bytes=max_bytes)
        for task in loaded.tasks:
            line = loaded.lines[task.id]
            if task.id in first_seen:
                source, at = first_seen[task.id]
                raise InputError(loaded.source, f"id: task id {task.id!r} is also on {source}:{at}", line)
            first_seen[task.id] = (loaded.source, line)
        files.append(loaded)
    if not files:
        raise InputError(", ".join(map(str, paths)) or ".", "no task files (*.jsonl) found")
    return files


def load_task_file(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> TaskFile:
    path = Path(path)
    source = str(path)
    check_file(path, source, max_bytes)
    text = read_text(path, source)
    header: TasksHeader | None = None
    tasks: list[Task] = []
    lines: dict[str, int] = {}
    warnings: list[str] = []
    for number, raw in _lines(text, source):
        if header is None:
            header = _header(raw, source, number)
            continue
        task = _task(raw, source, number)
        if task.id in lines:
            raise InputError(source, f"id: duplicate task id {task.id!r} (first on line {lines[task.id]})", number)
        problem = expected_problem(task.checker, task.expected)
        if problem:
            raise InputError(source, f"expected: {problem}", number)
        for field_name, rel in _context_fields(task):
            _check_context(path, rel, source, number, field_name)
        if task.task_class not in KNOWN_TASK_CLASSES:
            warnings.append(f"{source}:{number}: task_class: {task.task_class!r} is not a task class of the sample "
                            f"library ({', '.join(KNOWN_TASK_CLASSES)}); kept, but no sample scaffold is for it")
        tasks.append(task)
        lines[task.id] = number
    if header is None:
        raise InputError(source, "file holds only blank lines")
    if not tasks:
        raise InputError(source, "no tasks after the header line")
    return TaskFile(path, header, tasks, lines, warnings)


def _lines(text: str, source: str):
    """(line, JSON value) per non-blank line; a first line that is not JSON says what a task file is."""
    first = next((n for n, line in enumerate(text.splitlines(), start=1) if line.strip()), None)
    values = iter_jsonl(text, source)
    while True:
        try:
            yield next(values)
        except StopIteration:
            return
        except InputError as exc:
            if exc.line == first:
                raise InputError(source, f"{exc.message} ({HEADER_HINT})", exc.line) from None
            raise


def _header(raw: Any, source: str, line: int) -> TasksHeader:
    if not isinstance(raw, dict) or raw.get("format") != TASKS_FORMAT:
        looks_like_task = isinstance(raw, dict) and "instruction" in raw
        raise InputError(source, ("the first line is a task, not the header; " if looks_like_task else
                                  "not a task file header; ") + HEADER_HINT, line)
    try:
        return TasksHeader.model_validate(raw)
    except ValidationError as exc:
        raise InputError(source, f"header: {describe(exc)}", line) from None


def _task(raw: Any, source: str, line: int) -> Task:
    if not isinstance(raw, dict):
        raise InputError(source, f"a task must be a JSON object, not {type(raw).__name__}", line)
    try:
        return Task.model_validate(raw)
    except ValidationError as exc:
        _raise_described(exc, source, line)


def _raise_described(exc: ValidationError, source: str, line: int) -> NoReturn:
    error = exc.errors(include_url=False)[0]
    loc = error["loc"]
    # a checker of an unknown kind: say which kinds there are, not pydantic's union internals
    if loc[:1] == ("checker",) and error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        found = error.get("ctx", {}).get("tag")
        what = f"unknown kind {found!r}" if found else "no kind"
        raise InputError(source, f"checker.kind: {what}; choose one of {', '.join(CHECKER_KINDS)}", line) from None
    if loc[:1] == ("expected",):  # the union's first complaint is about str; say what fits instead
        raise InputError(source, "expected: must be a string, a number or a list of strings", line) from None
    if loc[:1] == ("context",) and error["type"] == "value_error":
        where = ".".join(str(p) for p in loc)
        raise InputError(source, f"{where}: {error['msg'].removeprefix('Value error, ')}", line) from None
    message = describe(exc)
    if error["type"] == "value_error":
        message = message.replace("Value error, ", "")
    raise InputError(source, message, line) from None


def _context_fields(task: Task) -> list[tuple[str, str]]:
    if task.context.file is not None:
        return [("context.file", task.context.file)]
    return [(f"context.files[{i}]", rel) for i, rel in enumerate(task.context.files or [])]


def _resolve(task_path: Path, rel: str) -> tuple[Path, bool]:
    """The context file's path, and whether it stays inside the task file's folder (symlinks followed)."""
    folder = task_path.parent.resolve()
    target = (folder / rel).resolve()
    return target, target.is_relative_to(folder)


def _check_context(task_path: Path, rel: str, source: str, line: int, field_name: str) -> None:
    target, inside = _resolve(task_path, rel)
    if not inside:
        raise InputError(source, f"{field_name}: {rel} leads outside the task file's folder", line)
    if not target.is_file():
        raise InputError(source, f"{field_name}: no such file: {rel} (relative to {task_path.parent}/)", line)
    size = target.stat().st_size
    if size > MAX_CONTEXT_BYTES:
        raise InputError(source, f"{field_name}: {rel} is {size / MB:.1f} MB, over the "
                                 f"{MAX_CONTEXT_BYTES // MB} MB limit for one context file", line)
    if size == 0:
        raise InputError(source, f"{field_name}: {rel} is empty", line)
    _read_context(task_path, rel, source, line, field_name)


def _read_context(task_path: Path, rel: str, source: str, line: int | None, field_name: str = "context") -> str:
    target, inside = _resolve(task_path, rel)
    if not inside:
        raise InputError(source, f"{field_name}: {rel} leads outside the task file's folder", line)
    try:
        return read_text(target, rel)
    except InputError as exc:
        raise InputError(source, f"{field_name}: {rel}: {exc.message}" + (f" (its line {exc.line})" if exc.line else ""),
                         line) from None
    except OSError as exc:
        raise InputError(source, f"{field_name}: {rel}: cannot be read ({exc.strerror})", line) from None
