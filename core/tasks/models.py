"""The task-file format (pydantic): tasks whose answers a checker scores without a person.

A task file is JSONL: a header line ``{"format": "trellis-tasks", "version": 1, ...}``, then one
task per line, so an error names the line of the one bad task. docs/tasks.md describes it and
docs/task.schema.json is made from these models (``trellis tasks schema``).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

TASKS_FORMAT = "trellis-tasks"
TASKS_VERSION = 1

# The task classes of the sample library (sample_traces/README.md). Another class is allowed, with a
# warning: task classes are open, as in the trace format, but a misspelt one would match no scaffold.
KNOWN_TASK_CLASSES = ("legal-contract-review", "long-log-incident-analysis", "codebase-bug-triage", "multi-doc-qa")

REGEX_FLAGS = {"IGNORECASE": re.IGNORECASE, "MULTILINE": re.MULTILINE, "DOTALL": re.DOTALL, "VERBOSE": re.VERBOSE}

NonBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Strict(BaseModel):
    # Unknown keys are mistakes in a hand-written task file; free data goes in `metadata`.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class TasksHeader(_Strict):
    """The first line of a task file."""

    format: Literal["trellis-tasks"] = Field(description="Always \"trellis-tasks\".")
    version: Literal[1] = Field(description="Always 1.")
    title: str = ""
    description: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free data, e.g. how the set was generated.")


class Context(_Strict):
    """What the task is about: inline ``text``, one ``file`` or several ``files``; exactly one of the three.

    Paths are relative to the task file, use ``/``, and stay inside the task file's folder."""

    text: str | None = Field(None, description="The context itself.")
    file: str | None = Field(None, description="A UTF-8 text file, relative to the task file.")
    files: list[str] | None = Field(None, min_length=1, description="Several text files (multi-document tasks), in order.")

    @model_validator(mode="after")
    def _exactly_one(self) -> Context:
        given = [name for name in ("text", "file", "files") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of text, file or files" + (f" (got {', '.join(given)})" if given else ""))
        return self

    @field_validator("file")
    @classmethod
    def _file_inside(cls, path: str | None) -> str | None:
        return None if path is None else _relative(path)

    @field_validator("files")
    @classmethod
    def _files_inside(cls, paths: list[str] | None) -> list[str] | None:
        return None if paths is None else [_relative(p) for p in paths]

    @property
    def paths(self) -> list[str]:
        """The context files, in order (none for inline text)."""
        return [self.file] if self.file is not None else list(self.files or [])


def _relative(path: str) -> str:
    pure = PurePosixPath(path)
    if not path.strip() or pure.is_absolute() or "\\" in path or ".." in pure.parts or re.match(r"^[A-Za-z]:", path):
        raise ValueError(f"{path!r} must be a relative path inside the task file's folder (with /, no ..)")
    return path


class ExactChecker(_Strict):
    """The answer equals ``expected`` (a string) or one of ``aliases``, once both are normalised
    (case, whitespace, surrounding punctuation and quotes, markdown emphasis)."""

    kind: Literal["exact"]
    aliases: list[NonBlank] = Field(default_factory=list, description="Other spellings that also count as right.")


class SetChecker(_Strict):
    """``expected`` is a list of items; the answer's items are matched against them with partial credit."""

    kind: Literal["set"]
    score: Literal["f1", "recall", "precision"] = Field(
        "f1", description="Which of the three is the task's score (all three are reported).")
    aliases: dict[str, list[NonBlank]] = Field(
        default_factory=dict, description="Per expected item, other spellings that also count as that item.")


class NumberChecker(_Strict):
    """``expected`` is a number; the first number of the answer is right within a tolerance
    (either one suffices; neither given means equal)."""

    kind: Literal["number"]
    abs_tol: float | None = Field(None, ge=0, description="Right if |answer - expected| <= abs_tol.")
    rel_tol: float | None = Field(None, ge=0, description="Right if |answer - expected| <= rel_tol * |expected|.")
    units: list[NonBlank] = Field(
        default_factory=list, description="Unit words, e.g. [\"minutes\", \"min\"]: a number followed by one is preferred.")


class RegexChecker(_Strict):
    """The answer matches ``pattern``; ``expected`` is an example answer that must match it too."""

    kind: Literal["regex"]
    pattern: str = Field(min_length=1)
    mode: Literal["search", "fullmatch"] = Field(
        "search", description="search: anywhere in the answer; fullmatch: the whole (extracted) answer.")
    flags: list[Literal["IGNORECASE", "MULTILINE", "DOTALL", "VERBOSE"]] = Field(default_factory=list)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return pattern

    def compiled(self) -> re.Pattern[str]:
        flags = 0
        for name in self.flags:
            flags |= REGEX_FLAGS[name]
        return re.compile(self.pattern, flags)


Checker = Annotated[ExactChecker | SetChecker | NumberChecker | RegexChecker, Field(discriminator="kind")]
CHECKER_KINDS = ("exact", "set", "number", "regex")


class Budget(_Strict):
    """What one run of the task may spend before it stops (or falls back)."""

    max_calls: int = Field(gt=0, le=100_000, description="Model calls.")
    max_tokens: int = Field(gt=0, le=10**12, description="Prompt and completion tokens, all calls together.")
    max_seconds: float = Field(gt=0, le=7 * 24 * 3600, description="Wall time.")


class Task(_Strict):
    """One task: what to do, over what, the answer a checker accepts, and the budget."""

    id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
                    description="Unique across the task files used together; letters, digits and . _ : -")
    task_class: str = Field(min_length=1, max_length=200, description="e.g. legal-contract-review")
    instruction: NonBlank = Field(description="What the student is asked to do; says what form the answer takes.")
    context: Context
    expected: str | float | int | list[str] = Field(
        description="The right answer: a string (exact; regex: an example it matches), a list of strings (set), a number (number).")
    checker: Checker
    budget: Budget
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free data, e.g. what the generator planted.")

    @field_validator("expected", mode="before")
    @classmethod
    def _keep_json_type(cls, value: Any) -> Any:
        # pydantic would turn true into 1 and "5" into 5 for some unions; the checker decides what fits
        if isinstance(value, bool):
            raise ValueError("a boolean is not an answer; write a string or a number")
        return value


def json_schema() -> dict[str, Any]:
    """The published schema of one line of a task file (docs/task.schema.json): the header or a task."""
    header = TasksHeader.model_json_schema(ref_template="#/$defs/{model}")
    task = Task.model_json_schema(ref_template="#/$defs/{model}")
    defs = {**header.pop("$defs", {}), **task.pop("$defs", {}), "TasksHeader": header, "Task": task}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Trellis task file line",
        "description": (
            "A Trellis task file is JSONL: its first line is a TasksHeader, every other non-blank line a Task. "
            "See docs/tasks.md."
        ),
        "anyOf": [{"$ref": "#/$defs/TasksHeader"}, {"$ref": "#/$defs/Task"}],
        "$defs": dict(sorted(defs.items())),
    }
