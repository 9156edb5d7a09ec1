"""What every importer returns, whatever the source format, and the helpers they share."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import pyarrow as pa
from pydantic import ValidationError

from core.errors import InputError
from core.models import NON_FINITE, TOO_DEEP, Node, NodeKind, Trace, nested_too_deep, whole_number_problem
from core.text import shorten

Model = TypeVar("Model", Node, Trace)
TOO_DEEP_TO_SHOW = "(a value nested too deeply to show)"


@dataclass
class ParsedTrace:
    """A trace read from a file, not yet validated as a tree nor stored."""

    trace: Trace
    nodes: list[Node] | pa.Table  # a JSONL file's nodes come as a table, straight from DuckDB's reader
    warnings: list[str] = field(default_factory=list)


def join_roots(nodes: list[Node], synthetic_id: str, what: str, trace_id: str) -> str | None:
    """Put one synthetic root above several roots, which the rest of Trellis needs; returns the warning."""
    roots = [node for node in nodes if node.parent_id is None]
    if len(roots) < 2:
        return None
    for node in roots:
        node.parent_id = synthetic_id
    starts: list[datetime] = [n.start_time for n in roots if n.start_time]
    ends: list[datetime] = [n.end_time for n in roots if n.end_time]
    nodes.insert(0, Node(
        id=synthetic_id, kind=NodeKind.OTHER, name="(trace root)", start_time=min(starts, default=None),
        end_time=max(ends, default=None), metadata={"synthetic": True},
    ))
    return f"trace {trace_id} has {len(roots)} root {what}; added a synthetic root {synthetic_id!r} above them"


def detach_orphans(
    items: Sequence[Any], what: str, id_field: str, name_of: Callable[[Any], Any], source: str, trace_id: str
) -> list[str]:
    """Span- or run-like items (id, parent_id, line): ids must be unique; one whose parent is not in
    the file becomes a root, which the returned warnings say."""
    seen = set()
    for item in items:
        if item.id in seen:
            raise InputError(source, f"duplicate {id_field} {item.id} in trace {trace_id}", item.line)
        seen.add(item.id)
    warnings = []
    for item in items:
        if item.parent_id is not None and item.parent_id not in seen:
            warnings.append(
                f"{what} {item.id} ({shorten(name_of(item), 40)!r}): parent {what} {item.parent_id} is not in the file; "
                "imported as a root"
            )
            item.parent_id = None
    if all(item.parent_id is not None for item in items):
        raise InputError(source, f"trace {trace_id}: every {what} has a parent, so the parents form a cycle")
    return warnings


def most_used_model(nodes: list[Node]) -> str | None:
    models = Counter(node.model for node in nodes if node.model and node.kind == NodeKind.LLM)
    return models.most_common(1)[0][0] if models else None


def as_text(value: Any) -> str | None:
    """A source value as node text: a string as is, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except RecursionError:
        return TOO_DEEP_TO_SHOW


def validated(make: Callable[[], Model], source: str, line: int | None, what: str) -> Model:
    """make() a Node or Trace; a bad field or metadata nested too deeply is an InputError naming `what`."""
    try:
        model = make()
        too_deep = nested_too_deep(json.dumps(model.metadata))
    except ValidationError as exc:
        raise InputError(source, f"{what}: {describe(exc)}", line) from None
    except RecursionError:  # from json.dumps, or from building the metadata
        too_deep = True
    if too_deep:
        raise InputError(source, f"{what}: {TOO_DEEP}", line)
    return model


def describe(exc: ValidationError) -> str:
    """The first validation problem as 'field.path: message'."""
    error = exc.errors(include_url=False)[0]
    if error["type"] == "json_invalid":
        return f"not valid JSON: {error['msg'].removeprefix('Invalid JSON: ')}"
    parts = []
    for part in error["loc"]:
        parts.append(f"[{part}]" if isinstance(part, int) else ("." if parts else "") + str(part))
    message = error["msg"]
    if error["type"] == "finite_number":
        message = NON_FINITE
    elif error["type"] in ("less_than_equal", "greater_than_equal") and isinstance(error["input"], int):
        message = whole_number_problem(error["input"]) or message  # the bounds of whole numbers are the store's
    return f"{''.join(parts)}: {message}"
