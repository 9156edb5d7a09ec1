"""LangSmith runs, as the ``langsmith`` SDK and API write them.

A file holds a run tree (a run with nested ``child_runs``, as ``read_run(...,
load_child_runs=True)`` gives it), a flat list of runs linked by
``parent_run_id`` (as ``list_runs`` gives them, with ``trace_id`` and
``dotted_order``), ``{"runs": [...]}`` (the API's query answer), or JSONL with
one run or run tree a line. Runs of one ``trace_id`` make one trace.

How runs become nodes:

- kind from ``run_type``: llm -> llm; tool, retriever, embedding -> tool;
  chain -> recurse if the run has children, else leaf; prompt, parser and
  anything else -> other. ``run_type`` itself stays in metadata.
- subproblem = ``inputs`` as compact text (the value when there is one key,
  else JSON); output = ``outputs`` likewise. An llm run whose inputs hold chat
  ``messages`` gets the last user message as subproblem and the inputs as
  context; its output is the reply text when the outputs are an OpenAI chat
  completion or LangChain generations.
- ``error`` -> status error. Tokens (``prompt_tokens``/``completion_tokens``,
  else ``outputs.usage_metadata``) and cost (``total_cost``, else
  ``prompt_cost + completion_cost``) are read on llm runs only: on other runs
  LangSmith's API reports the sums over their descendants, which would count
  twice, so those go to metadata. model = ``extra.metadata.ls_model_name``,
  else ``extra.invocation_params.model``.
- siblings are ordered by ``dotted_order`` when they all have one, else by
  ``start_time``; times without a zone are UTC.

A run whose parent is not in the file becomes a root, with a warning; a trace
left with several roots gets one synthetic root above them, with a warning.
Nested ``child_runs`` are walked with an explicit stack, so no depth is too deep.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import InputError
from core.importers.base import ParsedTrace, as_text, detach_orphans, join_roots, most_used_model, validated
from core.importers.reading import json_documents, read_text
from core.models import Node, NodeKind, SourceFormat, Status, Trace
from core.text import shorten

SYNTHETIC_ROOT = "langsmith-root"

_KINDS: dict[str, NodeKind | None] = {  # None: recurse if it has children, else leaf
    "llm": NodeKind.LLM,
    "tool": NodeKind.TOOL,
    "retriever": NodeKind.TOOL,
    "embedding": NodeKind.TOOL,
    "chain": None,
}
_RUN_KEYS = ("run_type", "child_runs", "dotted_order", "parent_run_id")
_TOTALS = ("prompt_tokens", "completion_tokens", "total_tokens", "prompt_cost", "completion_cost", "total_cost")


def looks_like(value: Any) -> bool:
    if isinstance(value, dict) and isinstance(value.get("runs"), list):
        value = value["runs"]
    if isinstance(value, list) and value:
        value = value[0]
    return isinstance(value, dict) and "id" in value and any(key in value for key in _RUN_KEYS)


def parse(path: Path, source: str) -> list[ParsedTrace]:
    text = read_text(path, source)
    return runs_to_traces(json_documents(text, source), source)


@dataclass
class _Run:
    id: str
    parent_id: str | None
    trace_id: str | None
    data: dict[str, Any]
    line: int | None
    start: datetime | None
    end: datetime | None


def runs_to_traces(documents: list[tuple[int | None, Any]], source: str) -> list[ParsedTrace]:
    """Traces from (line or None, run tree / list of runs / {"runs": [...]}) values."""
    runs = _flatten(documents, source)
    if not runs:
        raise InputError(source, "no runs in the file")
    _fill_trace_ids(runs)
    by_trace: dict[str, list[_Run]] = {}
    for run in runs:
        by_trace.setdefault(run.trace_id, []).append(run)
    return [_build_trace(trace_id, trace_runs, source) for trace_id, trace_runs in by_trace.items()]


# ------------------------------------------------------------------ reading the file


def _flatten(documents: list[tuple[int | None, Any]], source: str) -> list[_Run]:
    """Every run, parents before children, nested child_runs walked with an explicit stack."""
    stack: list[tuple[Any, str | None, str | None, int | None]] = []  # (run, nesting parent id, its trace id, line)
    for line, value in reversed(documents):
        if isinstance(value, dict) and isinstance(value.get("runs"), list):
            value = value["runs"]
        for run in reversed(value if isinstance(value, list) else [value]):
            stack.append((run, None, None, line))
    runs = []
    while stack:
        data, nesting_parent, nesting_trace, line = stack.pop()
        if not isinstance(data, dict):
            raise InputError(source, f"expected a run (a JSON object), got {shorten(data)}", line)
        if data.get("id") in (None, ""):
            raise InputError(source, f"run {shorten(data.get('name'))!r} has no id", line)
        run_id = str(data["id"])
        parent = nesting_parent or _optional_id(data.get("parent_run_id"))
        trace_id = _optional_id(data.get("trace_id")) or nesting_trace
        runs.append(
            _Run(
                id=run_id,
                parent_id=parent,
                trace_id=trace_id,
                data=data,
                line=line,
                start=_time(data, "start_time", run_id, source, line),
                end=_time(data, "end_time", run_id, source, line),
            )
        )
        children = data.get("child_runs") or []
        if not isinstance(children, list):
            raise InputError(source, f"run {run_id}: child_runs is not a list", line)
        for child in reversed(children):
            stack.append((child, run_id, trace_id, line))
    return runs


def _optional_id(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _time(data: dict, key: str, run_id: str, source: str, line: int | None) -> datetime | None:
    value = data.get(key)
    if value in (None, ""):
        return None
    try:
        time = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InputError(source, f"run {run_id}: {key} {shorten(value)!r} is not an ISO 8601 time", line) from None
    return time if time.tzinfo else time.replace(tzinfo=UTC)


def _fill_trace_ids(runs: list[_Run]) -> None:
    """A run without trace_id takes its nearest ancestor's, or its top ancestor's id."""
    by_id = {run.id: run for run in runs}
    for run in runs:
        path, seen, current = [], set(), run
        while current.trace_id is None and current.id not in seen:  # seen: a parent cycle ends the walk
            path.append(current)
            seen.add(current.id)
            parent = by_id.get(current.parent_id) if current.parent_id else None
            if parent is None:
                break
            current = parent
        trace_id = current.trace_id or current.id
        for r in path:
            r.trace_id = trace_id


# ------------------------------------------------------------------ building the trace


def _build_trace(trace_id: str, runs: list[_Run], source: str) -> ParsedTrace:
    warnings = detach_orphans(runs, "run", "run id", lambda run: run.data.get("name"), source, trace_id)
    roots = [run for run in runs if run.parent_id is None]
    has_children = {run.parent_id for run in runs}
    order = _sibling_order(runs)
    nodes = [
        validated(lambda: _node(run, order[run.id], run.id in has_children), source, run.line, f"run {run.id}")
        for run in runs
    ]

    root = min(roots, key=lambda run: order[run.id])
    joined = join_roots(nodes, SYNTHETIC_ROOT, "runs", trace_id)
    if joined:
        warnings.append(joined)

    root_node = next(node for node in nodes if node.id == root.id)
    metadata = {"trace_id": trace_id}
    for key in ("session_name", "session_id"):
        if root.data.get(key):
            metadata[key] = str(root.data[key])
    trace = validated(lambda: Trace(
        id=f"langsmith-{trace_id}",
        title=root_node.name or "",
        task=root_node.subproblem,
        agent=most_used_model(nodes),
        source_format=SourceFormat.LANGSMITH,
        created_at=min((r.start for r in runs if r.start), default=None),
        metadata=metadata,
    ), source, root.line, "trace")
    return ParsedTrace(trace=trace, nodes=nodes, warnings=warnings)


def _sibling_order(runs: list[_Run]) -> dict[str, int]:
    """Position among siblings: by dotted_order when every sibling has one, else by start time, then file order."""
    siblings: dict[str | None, list[_Run]] = defaultdict(list)
    for run in runs:
        siblings[run.parent_id].append(run)
    order = {}
    for group in siblings.values():
        if all(isinstance(run.data.get("dotted_order"), str) and run.data["dotted_order"] for run in group):
            group = sorted(group, key=lambda run: run.data["dotted_order"])
        else:
            group = sorted(group, key=lambda run: (run.start is None, run.start or datetime.min.replace(tzinfo=UTC)))
        for position, run in enumerate(group):
            order[run.id] = position
    return order


def _node(run: _Run, order: int, has_children: bool) -> Node:
    data = run.data
    run_type = data.get("run_type")
    kind = _KINDS.get(run_type, NodeKind.OTHER) if isinstance(run_type, str) else NodeKind.OTHER
    if kind is None:
        kind = NodeKind.RECURSE if has_children else NodeKind.LEAF
    extra = data.get("extra") if isinstance(data.get("extra"), dict) else {}
    run_metadata = extra.get("metadata") if isinstance(extra.get("metadata"), dict) else {}
    inputs, outputs = data.get("inputs"), data.get("outputs")

    subproblem, context, output = _compact(inputs), None, _compact(outputs)
    metadata: dict[str, Any] = {}
    for key in ("run_type", "tags", "events"):
        if data.get(key):
            metadata[key] = data[key]
    if run_metadata:
        metadata["metadata"] = run_metadata
    tokens_in = tokens_out = cost = model = None
    if kind == NodeKind.LLM:
        user_message = _last_user_message(inputs)
        if user_message is not None:
            subproblem, context = user_message, subproblem
        output = _reply_text(outputs) or output
        usage = outputs.get("usage_metadata") if isinstance(outputs, dict) else None
        usage = usage if isinstance(usage, dict) else {}
        tokens_in = _count(data.get("prompt_tokens"), usage.get("input_tokens"))
        tokens_out = _count(data.get("completion_tokens"), usage.get("output_tokens"))
        cost = _cost(data.get("total_cost"))
        if cost is None and _cost(data.get("prompt_cost")) is not None and _cost(data.get("completion_cost")) is not None:
            cost = _cost(data["prompt_cost"]) + _cost(data["completion_cost"])
        params = extra.get("invocation_params") if isinstance(extra.get("invocation_params"), dict) else {}
        model = run_metadata.get("ls_model_name") or params.get("model") or params.get("model_name")
    else:
        metadata.update({key: data[key] for key in _TOTALS if data.get(key)})

    error = data.get("error")
    is_error = bool(error) or data.get("status") == "error"
    return Node(
        id=run.id,
        parent_id=run.parent_id,
        order=order,
        kind=kind,
        name=data.get("name") if isinstance(data.get("name"), str) else None,
        subproblem=subproblem,
        context=context,
        context_chars=len(context) if context is not None else None,
        output=output,
        model=model if isinstance(model, str) else None,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost=cost,
        start_time=run.start,
        end_time=run.end,
        status=Status.ERROR if is_error else Status.OK,
        error=as_text(error) if error else ("error" if is_error else None),
        metadata=json.loads(json.dumps(metadata, default=str)),  # plain JSON, whatever the SDK put there
    )


def _compact(value: Any) -> str | None:
    """Inputs or outputs as shorten text: the value when there is one key, else JSON."""
    if value is None or value == {} or value == "":
        return None
    if isinstance(value, dict) and len(value) == 1:
        (value,) = value.values()
    return as_text(value)


def _last_user_message(inputs: Any) -> str | None:
    """The last user message of chat inputs {"messages": [{"role": "user", "content": "..."}, ...]}."""
    messages = inputs.get("messages") if isinstance(inputs, dict) else None
    if isinstance(messages, list) and messages and isinstance(messages[0], list):  # LangChain: one list per prompt
        messages = messages[-1]
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role", message.get("type")) in ("user", "human"):
            content = message.get("content")
            return content if isinstance(content, str) else None
    return None


def _reply_text(outputs: Any) -> str | None:
    """The reply of an OpenAI chat completion or of LangChain generations, if the outputs are one."""
    if not isinstance(outputs, dict):
        return None
    try:
        if "choices" in outputs:
            text = outputs["choices"][0]["message"]["content"]
        else:
            generation = outputs["generations"][0]
            text = (generation[0] if isinstance(generation, list) else generation)["text"]
    except (KeyError, IndexError, TypeError):
        return None
    return text if isinstance(text, str) and text else None


def _count(*values: Any) -> int | None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def _cost(value: Any) -> float | None:
    try:
        cost = float(value)  # the API and SDK write Decimal costs as strings or numbers
    except (TypeError, ValueError):
        return None
    return cost if cost >= 0 else None
