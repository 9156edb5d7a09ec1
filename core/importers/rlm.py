"""RLM logs: the JSONL written by ``RLMLogger`` of the Recursive Language Models
reference implementation (``rlms`` on PyPI, github.com/alexzhang13/rlm).

The file, as ``rlm/logger/rlm_logger.py`` and ``rlm/core/types.py`` write it:

- line 1: ``{"type": "metadata", "timestamp", "root_model", "max_depth",
  "max_iterations", "backend", "backend_kwargs", "environment_type",
  "environment_kwargs", "other_backends"}`` (``RLMMetadata``), once per RLM
  object;
- optionally ``{"type": "run_context", "prompt", "root_prompt", ...}`` at the
  start of each ``completion()`` call (written by some branches of rlms, e.g.
  the published example; rlms 0.1.3 does not write it);
- ``{"type": "iteration", "iteration": n, "timestamp", "prompt": [messages],
  "response", "code_blocks": [{"code", "result": {"stdout", "stderr",
  "locals", "execution_time", "rlm_calls": [...], "final_answer"}}],
  "final_answer", "iteration_time"}`` (``RLMIteration``), one per turn.

Each ``rlm_calls`` entry is an ``RLMChatCompletion`` (``root_model``,
``prompt``, ``response``, ``usage_summary``, ``execution_time``, optional
``error``). A recursive ``rlm_query`` sub-call also carries ``metadata``:
``{"run_metadata": {...}, "iterations": [...]}``, the child RLM's whole
trajectory in the same shape, nested to any depth inside the parent's line.

One log file may hold several ``completion()`` calls of the same RLM object;
each becomes its own trace. A call starts at a ``run_context`` line, or at an
iteration that follows a final answer or restarts the iteration count.

How the log becomes nodes (ids in brackets):

- the RLM call itself -> ``recurse`` root [``root``]: subproblem = the root
  prompt (else the context), context = the context payload, output = the final
  answer; status ``error`` if the log ends without one;
- each iteration -> ``llm`` [``it1``, ``it2``...]: output = the response,
  context = the messages new since the model's last turn, context_chars = the
  size of the whole prompt;
- each code block -> ``tool`` under its iteration [``it1.cb0``]: context = the
  code, output = stdout, status ``error`` with error = stderr when stderr is
  not empty (as rlms itself counts errors);
- each ``rlm_calls`` entry -> under its code block: a recursive call (one with
  ``metadata.iterations``) is a ``recurse`` node [``rlm1``, ``rlm2``... in
  order of discovery] whose iterations become its children
  [``rlm1.it1.cb0``...]; any other entry is a plain sub-LM call, ``llm``
  [``it1.cb0.call0``].

Tokens: iterations log no usage, so only sub-calls have tokens. A recursive
call's ``usage_summary`` covers its own iterations plus the plain sub-LM calls
made through its handler; those are nodes of their own, so the recursive node
gets the remainder (never below 0) and the raw summary stays in its metadata.
(At ``max_depth`` an ``rlm_query`` is a plain call through another client, left
out of that total yet logged alike, so the remainder can come out low.)
Times: the log's timestamps have no zone and are read as UTC; an iteration
ends at its timestamp and lasts ``iteration_time``; code blocks run one after
another at the end of their iteration; a recursive call ends with its last
iteration and lasts ``execution_time``; plain sub-calls keep only their
``execution_time`` (in metadata).

The tree is built with an explicit stack and lines too deeply nested for
``json.loads`` are read by an iterative parser, so any depth imports.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.errors import InputError
from core.importers.base import ParsedTrace, as_text, validated
from core.importers.reading import iter_jsonl, read_text
from core.models import NON_FINITE, Node, NodeKind, SourceFormat, Status, Trace
from core.text import shorten

ROOT_ID = "root"
RECORD_TYPES = ("metadata", "run_context", "iteration")

_ROOT_PROMPT = re.compile(r"\AAnswer the following: (.*?)\n\nYour context is a ", re.DOTALL)
_CONTEXT_SIZE = re.compile(r"Your context is a (\w+) of (\d+) total characters")


def parse(path: Path, source: str) -> list[ParsedTrace]:
    text = read_text(path, source)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    records = list(_records(text, source))
    if not records:
        raise InputError(source, "no records; an RLM log starts with a metadata line")
    line, first = records[0]
    if first.get("type") != "metadata":
        raise InputError(
            source,
            f'the first record should be the RLMLogger metadata line ({{"type": "metadata", ...}}), '
            f"got type {_show(first.get('type'))}",
            line,
        )
    meta = _Reader(source, line, "metadata line")
    settings = meta.settings(first)
    logged_at = meta.time(first)
    runs, warnings = _split_runs(records[1:], source)
    if not runs:
        raise InputError(source, "no iterations: the log holds no RLM run, only its metadata line", line)
    parsed = []
    for number, run in enumerate(runs, start=1):
        trace_id = f"rlm-{digest}" if len(runs) == 1 else f"rlm-{digest}-{number}"
        built = _Builder(source, settings, run).build(trace_id, number, len(runs), logged_at)
        parsed.append(ParsedTrace(trace=built[0], nodes=built[1], warnings=warnings if number == 1 else []))
    return parsed


# ------------------------------------------------------------------ reading lines


def _records(text: str, source: str):
    """(line number, record) for each non-blank line; each record must be an object with a known type."""
    for number, value in iter_jsonl(text, source):
        if not isinstance(value, dict):
            raise InputError(source, f"a record should be a JSON object, got {_show(value)}", number)
        kind = value.get("type")
        if kind not in RECORD_TYPES:
            raise InputError(
                source,
                f"unknown record type {_show(kind)}; an RLM log holds {', '.join(RECORD_TYPES)} records",
                number,
            )
        yield number, value


# ------------------------------------------------------------------ splitting into runs


@dataclass
class _Run:
    """One ``completion()`` call: its optional run_context line and its iteration lines."""

    context: dict | None = None
    context_line: int | None = None
    iterations: list[tuple[int, dict]] = field(default_factory=list)


def _split_runs(records: list[tuple[int, dict]], source: str) -> tuple[list[_Run], list[str]]:
    runs: list[_Run] = []
    warnings: list[str] = []
    current: _Run | None = None
    last_number: int | None = None
    for line, record in records:
        kind = record["type"]
        if kind == "metadata":
            raise InputError(source, "a second metadata line; an RLM log has one, on its first line", line)
        if kind == "run_context":
            current = _Run(context=record, context_line=line)
            runs.append(current)
            last_number = None
            continue
        number = record.get("iteration")
        if number is not None and (not isinstance(number, int) or isinstance(number, bool)):
            raise InputError(source, f"iteration: 'iteration' should be an integer, got {_show(number)}", line)
        finished = bool(current and current.iterations and current.iterations[-1][1].get("final_answer") is not None)
        restarted = number is not None and last_number is not None and number <= last_number
        if current is None or finished or restarted:
            current = _Run()
            runs.append(current)
        current.iterations.append((line, record))
        last_number = number
    kept = []
    for run in runs:
        if run.iterations:
            kept.append(run)
        else:
            warnings.append(f"line {run.context_line}: an RLM run with no iterations was skipped")
    return kept, warnings


# ------------------------------------------------------------------ checking values


_KINDS: dict[Any, str] = {
    str: "a string",
    int: "an integer",
    dict: "an object",
    list: "a list",
    (int, float): "a number",
    (str, list, dict): "a string, a list of messages or an object",
}


class _Reader:
    """Typed access to a record's fields, raising InputError at the record's line."""

    def __init__(self, source: str, line: int, where: str):
        self.source, self.line, self.where = source, line, where

    def at(self, where: str) -> _Reader:
        return _Reader(self.source, self.line, where)

    def fail(self, message: str) -> InputError:
        return InputError(self.source, f"{self.where}: {message}", self.line)

    def get(self, record: Any, key: str, kind: Any, required: bool = False) -> Any:
        if not isinstance(record, dict):
            raise self.fail(f"should be an object, got {_show(record)}")
        value = record.get(key)
        if value is None:
            if required:
                raise self.fail(f"missing {key!r}")
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not str):
            raise self.fail(f"{key!r} should be {_KINDS[kind]}, got {_show(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(f"{key!r}: {NON_FINITE}")
        if isinstance(value, (int, float)) and abs(value) >= 2**53:
            raise self.fail(f"{key!r} is out of range: {_show(value)}")
        return value

    def time(self, record: dict, key: str = "timestamp") -> datetime | None:
        value = self.get(record, key, str)
        if value is None:
            return None
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(f"{key!r} is not an ISO time: {_show(value)}") from None
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)

    def seconds(self, record: dict, key: str) -> float | None:
        value = self.get(record, key, (int, float))
        if value is not None and value < 0:
            raise self.fail(f"{key!r} should not be negative, got {value}")
        return value

    def settings(self, record: dict) -> dict[str, Any]:
        """The RLM's configuration (``RLMMetadata``) from a metadata line or a child's run_metadata."""
        self.get(record, "root_model", str, required=record.get("type") == "metadata")
        for key in ("max_depth", "max_iterations"):
            self.get(record, key, int)
        for key in ("backend", "environment_type"):
            self.get(record, key, str)
        for key in ("backend_kwargs", "environment_kwargs"):
            self.get(record, key, dict)
        self.get(record, "other_backends", list)
        return {k: v for k, v in record.items() if k not in ("type", "timestamp")}


# ------------------------------------------------------------------ building the tree


@dataclass
class _Trajectory:
    """A run still to be turned into nodes: the recurse node it hangs from and its iterations."""

    node: dict
    iterations: list[tuple[int, dict]]  # (line, iteration)
    prefix: str  # for the ids of its nodes
    depth: int  # RLM depth: 0 for the root
    model: str | None
    where: str  # how error messages name it


class _Builder:
    def __init__(self, source: str, settings: dict, run: _Run):
        self.source, self.settings, self.run = source, settings, run
        self.nodes: list[dict] = []
        self.lines: dict[str, int] = {}
        self.recursive_calls = 0
        self.totals: dict[str, tuple[int, int, float | None]] = {}  # usage_summary totals of recursive calls

    def build(self, trace_id: str, number: int, count: int, logged_at: datetime | None) -> tuple[Trace, list[Node]]:
        run, settings = self.run, self.settings
        first_line = run.context_line or run.iterations[0][0]
        ctx = _Reader(self.source, first_line, "run_context")
        model = settings.get("root_model")
        root_prompt = context = context_type = None
        if run.context is not None:
            prompt = ctx.get(run.context, "prompt", (str, list, dict))
            root_prompt = ctx.get(run.context, "root_prompt", str)
            context = _text(prompt) if prompt is not None else None
        context_chars = len(context) if context is not None else None
        if context is None:  # rlms 0.1.3 logs no run_context: recover what the iterations show
            root_prompt, context, context_type, context_chars = _context_from_iterations(run.iterations)
        task = root_prompt or context

        root = self._add(
            ROOT_ID,
            None,
            0,
            first_line,
            kind=NodeKind.RECURSE,
            name="RLM call",
            subproblem=task,
            context=context,
            context_chars=context_chars,
            model=model,
            metadata={"depth": 0},
        )
        if context_type:
            root["metadata"]["context_type"] = context_type
        stack = [_Trajectory(root, run.iterations, "", 0, model, "")]
        while stack:
            stack.extend(reversed(self._trajectory(stack.pop())))
        iterations = [n for n in self.nodes if n["parent_id"] == ROOT_ID]
        final = next(
            (n["metadata"]["final_answer"] for n in reversed(iterations) if "final_answer" in n["metadata"]), None
        )
        root["output"] = final
        if final is None:
            root["status"] = Status.ERROR
            root["error"] = f"the run ended without a final answer (the log stops after iteration {len(iterations)})"

        created = ctx.time(run.context) if run.context is not None else None
        if created is None and number == 1:
            created = logged_at  # the metadata line is written when the RLM is made, just before its first run
        metadata: dict[str, Any] = dict(settings)
        if run.context is not None:
            metadata["run_context"] = {k: v for k, v in run.context.items() if k not in ("type", "prompt")}
        if count > 1:
            metadata["completion"] = {"number": number, "of": count}
        metadata["iterations"] = len(iterations)
        metadata["recursive_calls"] = self.recursive_calls
        metadata["lines"] = [first_line, run.iterations[-1][0]]
        title = shorten(task, 80) if task else f"RLM run with {model or 'an unknown model'}"
        if count > 1 and not task:
            title += f" ({number} of {count})"
        trace = validated(lambda: Trace(
            id=trace_id,
            title=title,
            task=task,
            agent=model,
            source_format=SourceFormat.RLM,
            created_at=created or root["start_time"],
            metadata=metadata,
        ), self.source, first_line, "trace")
        return trace, self._validated()

    def _add(self, node_id: str, parent_id: str | None, order: int, line: int, **fields: Any) -> dict:
        node = {"id": node_id, "parent_id": parent_id, "order": order, "start_time": None, "end_time": None, **fields}
        node.setdefault("metadata", {})
        self.nodes.append(node)
        self.lines[node_id] = line
        return node

    def _validated(self) -> list[Node]:
        result = []
        for values in self.nodes:
            values = {k: v for k, v in values.items() if v is not None or k == "parent_id"}
            node_id = values["id"]
            result.append(validated(lambda: Node(**values), self.source, self.lines[node_id], f"node {node_id}"))
        return result

    def _trajectory(self, job: _Trajectory) -> list[_Trajectory]:
        """Nodes of one run's iterations, code blocks and plain sub-calls; returns its recursive sub-calls."""
        children: list[_Trajectory] = []
        plain_in = plain_out = 0
        plain_cost = 0.0
        first_start = last_end = None
        for position, (line, iteration) in enumerate(job.iterations):
            where = f"{job.where}, iterations[{position}]" if job.where else f"iteration {position + 1}"
            sep = "." if job.where else ", "
            read = _Reader(self.source, line, where)
            response = read.get(iteration, "response", str, required=True)
            blocks = read.get(iteration, "code_blocks", list, required=True)
            prompt = read.get(iteration, "prompt", (str, list, dict))
            final_answer = _answer(read, iteration, "final_answer")
            took = read.seconds(iteration, "iteration_time")
            end = read.time(iteration)
            start = _before(end, took)
            first_start = first_start or start or end
            last_end = end or last_end
            it_id = f"{job.prefix}it{position + 1}"
            metadata: dict[str, Any] = {"code_blocks": len(blocks)}
            for key, value in (("iteration", iteration.get("iteration")), ("iteration_time", took)):
                if value is not None:
                    metadata[key] = value
            if isinstance(prompt, list):
                metadata["prompt_messages"] = len(prompt)
            if final_answer is not None:
                metadata["final_answer"] = final_answer
            new_input, prompt_chars = _new_input(prompt)
            self._add(
                it_id,
                job.node["id"],
                position,
                line,
                kind=NodeKind.LLM,
                name=f"iteration {position + 1}",
                context=new_input,
                context_chars=prompt_chars,
                output=response,
                model=job.model,
                start_time=start,
                end_time=end,
                metadata=metadata,
            )
            block_end = end
            timings = [_execution_time(block) for block in blocks]
            for k, block in enumerate(blocks):
                cb_where = f"{where}{sep}code_blocks[{k}]"
                read = _Reader(self.source, line, cb_where)
                code = read.get(block, "code", str, required=True)
                result = read.get(block, "result", dict, required=True)
                read = read.at(f"{cb_where}.result")
                stdout = read.get(result, "stdout", str) or ""
                stderr = read.get(result, "stderr", str) or ""
                took = read.seconds(result, "execution_time")
                calls = read.get(result, "rlm_calls", list) or []
                locals_ = read.get(result, "locals", dict) or {}
                block_metadata: dict[str, Any] = {"locals": sorted(locals_)}
                if took is not None:
                    block_metadata["execution_time"] = took
                answer = _answer(read, result, "final_answer")
                if answer is not None:
                    block_metadata["final_answer"] = answer
                if calls:
                    block_metadata["sub_calls"] = len(calls)
                # Blocks run one after another once the response is in; the iteration is timed when the last ends.
                later = sum(timings[k + 1 :])
                b_end = _before(block_end, later)
                b_start = _before(b_end, took)
                cb_id = f"{it_id}.cb{k}"
                self._add(
                    cb_id,
                    it_id,
                    k,
                    line,
                    kind=NodeKind.TOOL,
                    name="repl: " + shorten(next((s for s in code.splitlines() if s.strip()), ""), 60),
                    context=code,
                    context_chars=len(code),
                    output=stdout,
                    start_time=b_start,
                    end_time=b_end,
                    status=Status.ERROR if stderr.strip() else Status.OK,
                    error=stderr.strip() or None,
                    metadata=block_metadata,
                )
                for j, call in enumerate(calls):
                    call_where = f"{cb_where}.result.rlm_calls[{j}]"
                    child, usage = self._call(call, cb_id, j, line, call_where, job)
                    if child is not None:
                        children.append(child)
                    elif usage is not None:
                        plain_in += usage[0] or 0
                        plain_out += usage[1] or 0
                        plain_cost += usage[2] or 0.0

        node = job.node
        if node["id"] != ROOT_ID:
            took = node["metadata"].get("execution_time")
            node["end_time"] = last_end
            node["start_time"] = _before(last_end, took) or first_start
            if node["id"] in self.totals:  # its own iterations' tokens: the total less its direct plain sub-calls
                total_in, total_out, total_cost = self.totals[node["id"]]
                node["tokens_in"] = max(total_in - plain_in, 0)
                node["tokens_out"] = max(total_out - plain_out, 0)
                if total_cost is not None:
                    node["cost"] = max(total_cost - plain_cost, 0.0)
        else:
            node["start_time"], node["end_time"] = first_start, last_end
        return children

    def _call(self, call: Any, parent_id: str, order: int, line: int, where: str, job: _Trajectory):
        """Add one rlm_calls entry; returns (child trajectory or None, (tokens in, out, cost) of a plain call)."""
        read = _Reader(self.source, line, where)
        prompt = read.get(call, "prompt", (str, list, dict))
        response = read.get(call, "response", str) or ""
        model = read.get(call, "root_model", str)
        took = read.seconds(call, "execution_time")
        error = read.get(call, "error", str)
        child_log = read.get(call, "metadata", dict)
        tokens_in, tokens_out, cost, usage = _usage(read, call)
        text = _text(prompt) if prompt is not None else None
        # rlms reports a failed sub-call as a response "Error: ..." with no usage, or (in batches) an error field
        failed = bool(error) or (response.startswith("Error: ") and tokens_in is None)
        metadata: dict[str, Any] = {}
        if took is not None:
            metadata["execution_time"] = took
        common = dict(
            subproblem=text,
            context=text,
            context_chars=len(text) if text is not None else None,
            output=response,
            model=model,
            status=Status.ERROR if failed else Status.OK,
            error=(error or response) if failed else None,
        )
        if child_log is not None and child_log.get("iterations") is not None:
            read = read.at(f"{read.where}.metadata")
            iterations = read.get(child_log, "iterations", list)
            run_metadata = read.get(child_log, "run_metadata", dict) or {}
            read.at(f"{read.where}.run_metadata").settings(run_metadata)
            self.recursive_calls += 1
            node_id = f"rlm{self.recursive_calls}"
            depth = job.depth + 1
            metadata.update(depth=depth, run_metadata=run_metadata, iterations=len(iterations))
            if usage:
                metadata["usage_summary"] = usage
                self.totals[node_id] = (tokens_in or 0, tokens_out or 0, cost)
            node = self._add(
                node_id,
                parent_id,
                order,
                line,
                kind=NodeKind.RECURSE,
                name=f"rlm_query (depth {depth})",
                metadata=metadata,
                **common,
            )
            child_model = run_metadata.get("root_model") if isinstance(run_metadata.get("root_model"), str) else model
            where = f"sub-RLM {node_id} (depth {depth})"
            return _Trajectory(node, [(line, it) for it in iterations], f"{node_id}.", depth, child_model, where), None
        if child_log is not None:
            metadata["metadata"] = child_log
        self._add(
            f"{parent_id}.call{order}",
            parent_id,
            order,
            line,
            kind=NodeKind.LLM,
            name="sub-LM call",
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost=cost,
            metadata=metadata,
            **common,
        )
        return None, (tokens_in, tokens_out, cost)


def _usage(read: _Reader, call: dict) -> tuple[int | None, int | None, float | None, dict]:
    """Tokens in, out and cost summed over a ``UsageSummary`` dict, and the dict."""
    summary = read.get(call, "usage_summary", dict)
    if not summary:
        return None, None, None, {}
    read = read.at(f"{read.where}.usage_summary")
    per_model = read.get(summary, "model_usage_summaries", dict) or {}
    tokens_in = tokens_out = 0
    costs = []
    for model, usage in per_model.items():
        model_read = read.at(f"{read.where}.model_usage_summaries[{model!r}]")
        tokens_in += model_read.get(usage, "total_input_tokens", int) or 0
        tokens_out += model_read.get(usage, "total_output_tokens", int) or 0
        cost = model_read.get(usage, "total_cost", (int, float))
        if cost is not None:
            costs.append(cost)
    total_cost = read.get(summary, "total_cost", (int, float))
    if total_cost is None and costs:
        total_cost = sum(costs)
    if not per_model:
        return None, None, total_cost, summary
    return tokens_in, tokens_out, total_cost, summary


def _show(value: Any) -> str:
    """A JSON value quoted for an error message (containers by kind only: they may nest too deep to print)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return shorten(repr(value) if isinstance(value, str) else value, 40)


def _before(end: datetime | None, seconds: float | None) -> datetime | None:
    if end is None or seconds is None:
        return None
    try:
        return end - timedelta(seconds=seconds)
    except OverflowError:
        return None


def _execution_time(block: Any) -> float:
    result = block.get("result") if isinstance(block, dict) else None
    took = result.get("execution_time") if isinstance(result, dict) else None
    ok = isinstance(took, (int, float)) and not isinstance(took, bool) and 0 < took < 2**53
    return took if ok else 0.0


def _answer(read: _Reader, record: dict, key: str) -> str | None:
    value = record.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise read.fail(f"{key!r} should be a string, got {_show(value)}")


def _text(value: Any) -> str:
    """A prompt or context as text: a string as is, a message list as 'role: content' paragraphs, else JSON."""
    if isinstance(value, list) and value and all(isinstance(m, dict) and "content" in m for m in value):
        return "\n\n".join(f"{as_text(m.get('role', '?')) or ''}: {as_text(m['content']) or ''}" for m in value)
    return as_text(value) or ""


def _new_input(prompt: Any) -> tuple[str | None, int | None]:
    """The messages new on this turn (those after the model's last reply), and the whole prompt's size."""
    if prompt is None:
        return None, None
    if not isinstance(prompt, list):
        text = _text(prompt)
        return text, len(text)
    size = sum(
        len(m["content"]) if isinstance(m, dict) and isinstance(m.get("content"), str) else len(_text(m))
        for m in prompt
    )
    last_reply = max(
        (i for i, m in enumerate(prompt) if isinstance(m, dict) and m.get("role") == "assistant"), default=-1
    )
    return _text(prompt[last_reply + 1 :]) if last_reply + 1 < len(prompt) else None, size


def _context_from_iterations(
    iterations: list[tuple[int, dict]],
) -> tuple[str | None, str | None, str | None, int | None]:
    """(root prompt, context, context type, context size) as far as the iterations show them.

    rlms tells the model "Answer the following: <root prompt>" and "Your context
    is a <type> of <n> total characters" in its first user message, and the
    REPL's ``locals`` hold the ``context`` variable itself.
    """
    root_prompt = context = context_type = None
    context_chars = None
    prompt = iterations[0][1].get("prompt")
    if isinstance(prompt, list):
        for message in prompt[:3]:
            content = message.get("content") if isinstance(message, dict) else None
            if not isinstance(content, str) or message.get("role") != "user":
                continue
            if match := _ROOT_PROMPT.match(content):
                root_prompt = match.group(1)
            if (match := _CONTEXT_SIZE.search(content)) and len(match.group(2)) < 16:
                context_type, context_chars = match.group(1), int(match.group(2))
                break
    for _, iteration in iterations:
        blocks = iteration.get("code_blocks")
        for block in blocks if isinstance(blocks, list) else []:
            result = block.get("result") if isinstance(block, dict) else None
            value = (
                result.get("locals", {}).get("context")
                if isinstance(result, dict) and isinstance(result.get("locals"), dict)
                else None
            )
            if value is not None:
                context = _text(value)
                break
        if context is not None:
            break
    if context is not None and context_type in (None, "str"):
        context_chars = len(context)
    return root_prompt, context, context_type, context_chars
