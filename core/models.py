"""The Trellis trace format: a trace and its nodes, stored flat.

A tree is a flat list of nodes linked by ``parent_id``; depth is computed by
``core.tree``, never by nesting, so any depth imports and validates.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT_NAME = "trellis"
FORMAT_VERSION = 1

# JSON libraries (Python's json, pydantic) recurse once per level of nesting, so a
# deeper metadata value could be stored but not read back.
MAX_NESTING = 200
TOO_DEEP = f"metadata nests more than {MAX_NESTING} levels deep"
METADATA_DESCRIPTION = f"Free data; objects and lists nest at most {MAX_NESTING} levels deep."
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
    model_config = ConfigDict(extra="forbid", use_enum_values=True)


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
    order: int = Field(0, description="Position among its siblings, ascending.")
    kind: NodeKind = NodeKind.OTHER
    name: str | None = Field(None, description="Short label, e.g. a span or function name.")
    subproblem: str | None = Field(None, description="The sub-problem this step works on.")
    context: str | None = Field(None, description="Context carried into this step (text or summary).")
    context_chars: int | None = Field(None, ge=0, description="Size of the full context in characters.")
    context_tokens: int | None = Field(None, ge=0)
    output: str | None = None
    aggregation: str | None = Field(None, description="For aggregations: how child results were combined.")
    model: str | None = None
    tokens_in: int | None = Field(None, ge=0)
    tokens_out: int | None = Field(None, ge=0)
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
