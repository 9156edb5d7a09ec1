"""The `rlm` runner: the reference RLM implementation (`rlms`) with the student model as its backend.

The scaffold, when there is one, is given to the RLM as a plan in its root prompt; the RLM's own log
is read back through the RLM importer, so the run's trace is the RLM's recursive trace. The RLM runs the
Python its model writes in a local REPL: use it from your own shell with a model you trust (the Runs
page offers only the `plan` runner). When the RLM fails or answers nothing, the run falls back to
independent processing with the plan runner, and says so.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from core.errors import TrellisError
from core.model_catalog import ModelEntry
from core.models import Node
from core.runs.models import RunResult
from core.runs.plan import Ask, run_plan
from core.scaffolds.models import Scaffold
from core.scaffolds.render import to_text
from core.tasks.models import Budget

MAX_ITERATIONS = 8  # root turns of the RLM; each may make several calls


def run_rlm(
    *, trace_id: str, instruction: str, context: str, task_class: str | None, student: ModelEntry, ask: Ask,
    budget: Budget, scaffold: Scaffold | None = None, timeout: float = 120.0,
) -> RunResult:
    """Run one task with rlms; ``ask`` is the plan runner's way to the same student, for the fallback."""
    from rlm import RLM  # rlms starts threads and imports its clients: only when an rlm run starts
    from rlm.logger import RLMLogger

    from core.importers import read_file

    started = time.monotonic()
    plan = ("\n\nFollow this plan, adapting it where the task needs:\n" + to_text(scaffold)) if scaffold else ""
    with tempfile.TemporaryDirectory() as folder:
        logger = RLMLogger(log_dir=folder)
        try:
            with RLM(backend="openai", backend_kwargs=_backend(student, timeout), environment="local", max_depth=2,
                     max_iterations=min(MAX_ITERATIONS, budget.max_calls), max_timeout=budget.max_seconds,
                     logger=logger) as rlm:
                completion = rlm.completion(context, root_prompt=instruction + plan)
            problem = None if completion.response.strip() else "the RLM returned no answer"
        except Exception as exc:  # noqa: BLE001 - rlms raises whatever its client or the model's code raised
            completion, problem = None, f"the RLM failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        log = Path(logger.log_file_path) if getattr(logger, "log_file_path", None) else None
        try:
            traces = read_file(log) if log and log.is_file() else []
        except TrellisError as exc:  # a run that failed at once leaves a log with no iteration in it
            traces, problem = [], problem or f"the RLM's log could not be read: {exc}"
    if problem or not traces:
        fallback = run_plan(trace_id=trace_id, instruction=instruction, context=context, task_class=task_class,
                            model=student.model, ask=ask, budget=budget)
        reason = problem or "the RLM left no log"
        fallback.trace.metadata.update({"runner": "rlm", "fell_back": True, "fallback_reason": reason})
        fallback.fell_back, fallback.fallback_reason = True, reason
        fallback.seconds = time.monotonic() - started
        return fallback
    [read] = traces[:1]
    usage = completion.usage_summary.model_usage_summaries.values()
    trace = read.trace.model_copy(update={
        "id": trace_id, "title": read.trace.title or instruction[:120], "task": instruction, "task_class": task_class,
        "role": "student", "agent": student.model,
        "metadata": {**read.trace.metadata, "runner": "rlm", "scaffolded": scaffold is not None, "fell_back": False},
    })
    return RunResult(
        trace=trace, nodes=_nodes(read.nodes), answer=completion.response,
        calls=sum(u.total_calls for u in usage), tokens_in=sum(u.total_input_tokens for u in usage),
        tokens_out=sum(u.total_output_tokens for u in usage), cost=completion.usage_summary.total_cost or 0.0,
        seconds=time.monotonic() - started,
    )


def _backend(student: ModelEntry, timeout: float) -> dict:
    """rlms's OpenAI client settings for the student: its own endpoint and key, as litellm would send them."""
    kwargs = student.litellm_kwargs()
    provider, _, name = kwargs["model"].partition("/")
    if provider != "openai" or not name:
        raise TrellisError(f"the rlm runner reaches OpenAI-compatible endpoints only; {student.name} is {kwargs['model']}")
    return {"base_url": kwargs["api_base"], "api_key": kwargs["api_key"], "model_name": name, "max_retries": 0,
            "timeout": timeout}


def _nodes(table) -> list[Node]:
    rows = table.to_pylist()
    for row in rows:
        row["metadata"] = json.loads(row["metadata"]) if row["metadata"] else {}
    return [Node.model_validate(row) for row in rows]
