"""The Trellis trace format: a trace and its nodes, stored flat.

A tree is a flat list of nodes linked by ``parent_id``; depth is computed by
``core.tree``, never by nesting, so any depth imports and validates.
"""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

FORMAT_NAME = "trellis"
FORMAT_VERSION = 1

# JSON libraries (Python's json, pydantic) recurse once per level of nesting, so a
# deeper metadata value could be stored but not read back.
MAX_NESTING = 200
TOO_DEEP = f"metadata nests more than {MAX_NESTING} levels deep"
METADATA_DESCRIPTION = f"Free data; objects and lists nest at most {MAX_NESTING} levels deep."

# How big an import may be, the same in every format: the whole file at most `trellis import
# --max-mb` (200 MB by default), and each node at most MAX_NODE_BYTES of text and metadata, which
# in Trellis JSONL is about the size of its line. DuckDB's JSON reader holds buffers of that size
# per thread, so it sets the memory a big JSONL import needs.
MB = 1024 * 1024
MAX_NODE_BYTES = 16 * MB
NODE_LIMIT = f"the {MAX_NODE_BYTES // MB} MB limit for one node"
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def nested_too_deep(json_text: str) -> bool:
    """Whether a JSON text nests objects and lists more than MAX_NESTING levels deep."""
    if json_text.count("{") + json_text.count("[") <= MAX_NESTING:
        return False
    depth = 0
    for match in _JSON_TOKEN.finditer(json_text):  # strings are whole tokens: their brackets don't count
        token = match.group()
        if token in ("{", "["):
            depth += 1
            if depth > MAX_NESTING:
                return True
        elif token in ("}", "]"):
            depth -= 1
    return False


# The store keeps whole numbers as 64-bit integers (DuckDB BIGINT, Arrow int64).
MAX_WHOLE = 2**63 - 1
# NaN and Infinity are not JSON: a stored one could not be exported, nor summed into totals.
NON_FINITE = "non-finite numbers (NaN, Infinity) are not allowed"


def whole_number_problem(value: int) -> str | None:
    """Why the store cannot keep this whole number, or None if it can."""
    shown = f"{value:.3g}".replace("e+", "e")
    if value > MAX_WHOLE:
        return f"{shown} is larger than the largest whole number Trellis stores (2^63-1)"
    if value < -MAX_WHOLE - 1:
        return f"{shown} is smaller than the smallest whole number Trellis stores (-2^63)"
    return None


def non_finite_at(value: Any) -> str | None:
    """Where a JSON value holds NaN or Infinity, e.g. 'NaN at runs[2].score', or None.

    Walked with a stack, as metadata may nest deeper than Python's recursion limit; paths are
    only worked out once one is found, as this runs on every node's metadata.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float) and not math.isfinite(item):
            return _non_finite_path(value)
    return None


def _non_finite_path(value: Any) -> str | None:
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            spelled = "NaN" if math.isnan(item) else ("Infinity" if item > 0 else "-Infinity")
            return f"{spelled} at {path}" if path else spelled
        if isinstance(item, dict):
            stack.extend((f"{path}.{key}" if path else str(key), v) for key, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(item))))
    return None


class NodeKind(StrEnum):
    DECOMPOSE = "decompose"
    RECURSE = "recurse"
    LEAF = "leaf"
    AGGREGATE = "aggregate"
    LLM = "llm"
    TOOL = "tool"
    OTHER = "other"


class Role(StrEnum):
    TEACHER = "teacher"
    STUDENT = "student"
    UNKNOWN = "unknown"


class Status(StrEnum):
    OK = "ok"
    ERROR = "error"


class SourceFormat(StrEnum):
    TRELLIS = "trellis"
    RLM = "rlm"
    OTLP = "otlp"
    LANGSMITH = "langsmith"


class _Strict(BaseModel):
    # Unknown keys are mistakes in a hand-written trace; free data goes in `metadata`.
    model_config = ConfigDict(extra="forbid", use_enum_values=True, allow_inf_nan=False)

    @field_validator("metadata", check_fields=False)
    @classmethod
    def _finite_metadata(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        found = non_finite_at(metadata)
        if found:
            raise PydanticCustomError("non_finite", "{message}", {"message": f"{NON_FINITE} ({found})"})
        return metadata


class Trace(_Strict):
    """One run of one agent on one task."""

    id: str = Field(min_length=1, max_length=200)
    title: str = ""
    task: str | None = Field(None, description="The problem statement the run was given.")
    task_class: str | None = Field(None, description="e.g. legal-contract-review")
    role: Role = Role.UNKNOWN
    agent: str | None = Field(None, description="Agent or model name, e.g. llama-3.1-70b-instruct.")
    model_size: str | None = Field(None, description="Parameter count if known, e.g. 70B.")
    source_format: SourceFormat = SourceFormat.TRELLIS
    created_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict, description=METADATA_DESCRIPTION)


class Node(_Strict):
    """One step of a trace."""

    id: str = Field(min_length=1, max_length=200)
    parent_id: str | None = Field(None, description="null for the root.")
    order: int = Field(0, ge=-MAX_WHOLE - 1, le=MAX_WHOLE, description="Position among its siblings, ascending.")
    kind: NodeKind = NodeKind.OTHER
    name: str | None = Field(None, description="Short label, e.g. a span or function name.")
    subproblem: str | None = Field(None, description="The sub-problem this step works on.")
    context: str | None = Field(None, description="Context carried into this step (text or summary).")
    context_chars: int | None = Field(None, ge=0, le=MAX_WHOLE, description="Size of the full context in characters.")
    context_tokens: int | None = Field(None, ge=0, le=MAX_WHOLE)
    output: str | None = None
    aggregation: str | None = Field(None, description="For aggregations: how child results were combined.")
    model: str | None = None
    tokens_in: int | None = Field(None, ge=0, le=MAX_WHOLE)
    tokens_out: int | None = Field(None, ge=0, le=MAX_WHOLE)
    cost: float | None = Field(None, ge=0, description="US dollars.")
    start_time: datetime | None = None
    end_time: datetime | None = None
    status: Status = Status.OK
    error: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict, description=METADATA_DESCRIPTION)

    @classmethod
    def from_store(cls, values: dict[str, Any]) -> Node:
        """A node from values the store already validated, skipping validation.

        model_construct costs ~10 µs a node; this costs ~1 µs, which keeps a
        10,000-node trace loading in tens of milliseconds.
        """
        node = cls.__new__(cls)
        _set(node, "__dict__", values)
        _set(node, "__pydantic_fields_set__", _ALL_NODE_FIELDS)
        _set(node, "__pydantic_extra__", None)
        _set(node, "__pydantic_private__", None)
        return node

    @property
    def tokens(self) -> int:
        return (self.tokens_in or 0) + (self.tokens_out or 0)


_set = object.__setattr__
_ALL_NODE_FIELDS = set(Node.model_fields)


class TraceDocument(_Strict):
    """A Trellis JSON file: one trace and its flat list of nodes.

    In Trellis JSONL the same content is one header line
    ``{"format": "trellis", "version": 1, "trace": {...}}`` followed by one
    node per line; a new header line starts the next trace.
    """

    format: Literal["trellis"] = FORMAT_NAME
    version: Literal[1] = FORMAT_VERSION
    trace: Trace
    nodes: list[Node]


def json_schema() -> dict[str, Any]:
    """The published schema of a Trellis JSON file (docs/trace.schema.json)."""
    schema = TraceDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Trellis trace"
    return schema


# ------------------------------------------------------- what the store returns


@dataclass
class LoadedTrace:
    """A stored trace and all its nodes, in the order they were imported."""

    trace: Trace
    nodes: list[Node]


# A trace that received a span (from `trellis collect`) this recently is live: still being written.
LIVE_WINDOW = timedelta(seconds=30)


@dataclass(frozen=True)
class TraceSummary:
    """One row of the library: a trace and its computed totals."""

    id: str
    title: str
    task_class: str | None
    role: str
    agent: str | None
    model_size: str | None
    source_format: str
    created_at: datetime | None
    imported_at: datetime
    node_count: int
    depth: int
    tokens: int
    cost: float | None
    error_count: int
    last_span_at: datetime | None = None  # when `trellis collect` last added a span to it (None: imported whole)
    tags: tuple[str, ...] = ()  # a person's labels, in alphabetical order

    def live(self, now: datetime | None = None) -> bool:
        """Whether it received a span within LIVE_WINDOW (of ``now``, else of this moment)."""
        return self.last_span_at is not None and (now or datetime.now(timezone.utc)) - self.last_span_at < LIVE_WINDOW


# The text fields a person searches, in the order a match is reported: a node matches on the first that holds
# the query. The library's search (in the store) and a trace's search (core.search) both read this.
SEARCHED_FIELDS = ("subproblem", "name", "output", "context", "aggregation", "error", "id")


@dataclass(frozen=True)
class NodeMatch:
    """A node whose text holds what was searched for."""

    trace_id: str
    node_id: str
    kind: str
    field: str  # the first of SEARCHED_FIELDS that holds it
    snippet: str  # one line around its first occurrence there


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause garbage collection while building many nodes: its repeated full passes would free nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
