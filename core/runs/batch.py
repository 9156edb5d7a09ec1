"""Running a student over task files: pick the scaffold, run each task, score it, store run and trace together.

A batch is named by what it runs (task files, student, scaffold choice, runner, seed, repeats), so the
same command run again after an interruption resumes it: runs finished are not done again. A run that
fails is stored too, marked failed with its reason, and the rest of the batch goes on; running the
batch again does the failed runs again (the model server may be back).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from core.auth import Action, Actor
from core.errors import TrellisError
from core.model_catalog import ModelEntry
from core.node_table import nodes_to_arrow
from core.runs.models import RunRecord, RunResult
from core.runs.plan import run_plan
from core.scaffolds.models import ScaffoldVersion
from core.scaffolds.retrieval import rank_scaffolds
from core.store import Store
from core.tasks.checkers import check
from core.tasks.load import TaskFile
from core.tasks.models import Task
from core.tree import check_tree

Progress = Callable[[str], None]


@dataclass
class BatchSettings:
    student: str  # the catalog name of the student model
    scaffold: str = "none"  # none, auto, ID or ID@VERSION (approved versions only)
    runner: str = "plan"
    repeats: int = 1
    seed: int = 0
    temperature: float = 0.2
    timeout: float = 120.0  # seconds per call
    batch_id: str | None = None  # default: named by the settings and task files, so a rerun resumes
    limit: int | None = None  # only the first N tasks of each file (a larger limit later goes on with the same batch)


@dataclass
class BatchResult:
    batch_id: str
    runs: list[RunRecord] = field(default_factory=list)  # made by this call, in order
    skipped: int = 0  # already stored: an earlier, interrupted call of the same batch did them


def run_batch(
    store: Store, task_files: list[TaskFile], student: ModelEntry, settings: BatchSettings, *, actor: Actor,
    progress: Progress = lambda line: None, completion: Callable[..., Any] | None = None,
) -> BatchResult:
    """Run every task of ``task_files`` ``settings.repeats`` times; returns the runs made."""
    actor.require(Action.RUN)
    batch_id = batch_name(task_files, settings)
    done = {run.id for run in store.list_runs(batch_id=batch_id) if run.status == "ok"}  # failed ones are done again
    result = BatchResult(batch_id)
    named = None if settings.scaffold in ("none", "auto") else named_scaffold(store, settings.scaffold)
    work = [(f, t, r) for f in task_files for t in f.tasks[: settings.limit] for r in range(1, settings.repeats + 1)]
    for number, (task_file, task, repeat) in enumerate(work, start=1):
        run_id = f"run-{batch_id}-{task.id}-{repeat}"
        if run_id in done:
            result.skipped += 1
            continue
        progress(f"[{number}/{len(work)}] {task.id} (repeat {repeat}): running")
        scaffold, retrieval = _auto_scaffold(store, task) if settings.scaffold == "auto" else (named, {})
        record = run_task(store, task_file, task, repeat, run_id, batch_id, student, settings, scaffold, retrieval,
                          actor=actor, progress=progress, completion=completion)
        progress(f"[{number}/{len(work)}] {task.id} (repeat {repeat}): {outcome(record)}")
        result.runs.append(record)
    return result


def outcome(record: RunRecord) -> str:
    """A finished run in a progress line: its score or failure, and its fallback."""
    return (f"score {record.score:.2f}" if record.score is not None else f"failed: {record.error}") + (
        f"; fell back: {record.fallback_reason}" if record.fell_back else "")


def run_task(
    store: Store, task_file: TaskFile, task: Task, repeat: int, run_id: str, batch_id: str, student: ModelEntry,
    settings: BatchSettings, scaffold: ScaffoldVersion | None, retrieval: dict[str, Any], *, actor: Actor,
    progress: Progress, completion: Callable[..., Any] | None, experiment_id: str | None = None,
    arm: str | None = None, advice: str | None = None,
) -> RunRecord:
    """Run one task once, score it and store run and trace together. ``advice`` (a reviewed critique's points)
    goes into the student's prompts; an experiment names itself and the run's arm."""
    started = datetime.now(timezone.utc)
    seed = settings.seed + repeat - 1
    from core.llm import asker  # litellm takes seconds to import: only when a student is asked

    ask = asker(student, seed=seed, temperature=settings.temperature, timeout=settings.timeout,
                completion=completion, progress=progress)
    job = dict(trace_id=run_id, instruction=task.instruction, context=task_file.context_text(task),
               task_class=task.task_class, ask=ask, budget=task.budget, scaffold=scaffold.content if scaffold else None)
    if settings.runner == "rlm":
        from core.runs.rlm_runner import run_rlm  # imports rlms: only for an rlm run

        if advice:
            raise TrellisError("advice from a critique is given by the plan runner only; run this arm with it")
        plan = run_rlm(**job, student=student, timeout=settings.timeout)
    else:
        plan = run_plan(**job, model=student.model, advice=advice)
    score = None if plan.failed else check(task, plan.answer)
    record = RunRecord(
        id=run_id, batch_id=batch_id, task_id=task.id, task_file=task_file.source, task_class=task.task_class,
        student=student.name, runner=settings.runner, scaffold_choice=settings.scaffold,
        scaffold_id=scaffold.scaffold_id if scaffold else None, scaffold_version=scaffold.version if scaffold else None,
        retrieval=retrieval, seed=seed, repeat=repeat, status="failed" if plan.failed else "ok", error=plan.failed,
        fell_back=plan.fell_back, fallback_reason=plan.fallback_reason, adherence=plan.adherence,
        answer=plan.answer, score=score.score if score else None, score_explanation=score.explanation if score else "",
        calls=plan.calls, tokens_in=plan.tokens_in, tokens_out=plan.tokens_out, cost=plan.cost,
        seconds=round(plan.seconds, 3), started_at=started, experiment_id=experiment_id, arm=arm,
    )
    trace = plan.trace.model_copy(update={"metadata": {**plan.trace.metadata, **_linked(record)}})
    _store(store, record, trace, plan, actor)
    return record


def _store(store: Store, record: RunRecord, trace, plan: RunResult, actor: Actor) -> None:
    nodes = nodes_to_arrow(plan.nodes)
    depth = check_tree(nodes.column("id"), nodes.column("parent_id")).tolist()
    store.add_run(record, trace, nodes, depth, actor=actor)


def _linked(record: RunRecord) -> dict[str, Any]:
    """What the trace says of the run it records, so the library can show and filter on it."""
    return {"run": {"task_id": record.task_id, "student": record.student, "scaffold_id": record.scaffold_id,
                    "scaffold_version": record.scaffold_version, "seed": record.seed, "score": record.score,
                    "batch_id": record.batch_id, "experiment_id": record.experiment_id, "arm": record.arm}}


def _auto_scaffold(store: Store, task: Task) -> tuple[ScaffoldVersion | None, dict[str, Any]]:
    """The best approved scaffold version for ``task``, and why it was chosen. Nothing unapproved."""
    fits = rank_scaffolds(store, task.instruction, task_class=task.task_class, limit=1)
    if not fits:
        return None, {"found": False, "why": "no approved scaffold or strategy"}
    best = fits[0]
    return store.reusable_scaffold(best.scaffold_id, best.version), {
        "found": True, "rank": best.rank, "score": best.score, "reasons": best.reasons}


def named_scaffold(store: Store, choice: str) -> ScaffoldVersion:
    """The approved version ``choice`` (ID or ID@VERSION) names; the scaffold's approved version without one."""
    scaffold_id, _, version = choice.partition("@")
    if version and not version.isdigit():
        raise TrellisError(f"--scaffold {choice!r}: a version is a whole number, as in {scaffold_id}@3")
    return store.reusable_scaffold(scaffold_id, int(version) if version else None)


def batch_name(task_files: list[TaskFile], settings: BatchSettings) -> str:
    """The batch's name: the one given, else one made of what it runs, so the same command names the same batch."""
    if settings.batch_id:
        return settings.batch_id
    key = json.dumps([[str(f.path) for f in task_files], settings.student, settings.scaffold, settings.runner,
                      settings.seed, settings.repeats])
    return hashlib.sha1(key.encode()).hexdigest()[:10]
