"""Running an experiment: every arm on the same tasks with the same seeds, interleaved, resumable.

The arms of one task and repeat run one after another, each time in a rotated order, so that machine noise
(a loaded machine, a model server warming its cache) falls on every arm alike and no arm always goes
first. Each run is stored as it finishes, tagged with the experiment and its arm; running the experiment
again skips the runs finished and redoes the failed ones, like a batch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.auth import Action, Actor
from core.experiments.models import Arm, Experiment, ExperimentError, parse_arm
from core.model_catalog import ModelEntry
from core.runs.batch import BatchSettings, Progress, named_scaffold, outcome, run_task
from core.runs.models import RunRecord
from core.scaffolds.critique import USABLE_REVIEW_STATUSES
from core.scaffolds.models import ScaffoldVersion
from core.store import Store
from core.tasks.load import TaskFile
from core.tasks.models import Task
from core.text import shorten

ADVICE_CHARS = 1_500  # most characters of a critique's points given to the student


@dataclass(frozen=True)
class Resolved:
    """What one arm gives the student."""

    name: str  # as stored: scaffold:ID@VERSION
    scaffold: ScaffoldVersion | None = None
    advice: str | None = None


@dataclass(frozen=True)
class Work:
    task_file: TaskFile
    task: Task
    repeat: int
    arm: Resolved
    run_id: str


@dataclass
class ExperimentResult:
    experiment: Experiment
    runs: list[RunRecord] = field(default_factory=list)  # made by this call, in order
    skipped: int = 0  # finished by an earlier call
    planned: int = 0  # runs the experiment makes in all
    stopped: bool = False  # ``stop`` said to stop before all were done


def define_experiment(
    store: Store, task_files: list[TaskFile], student: str, arms: list[str], *, actor: Actor, repeats: int = 1,
    seed: int = 0, limit: int | None = None, runner: str = "plan", timeout: float = 120.0,
    experiment_id: str | None = None,
) -> Experiment:
    """Store an experiment (or find the one the same settings made, to resume it), its arms resolved to the approved
    versions they run: the first arm is the baseline."""
    actor.require(Action.RUN)
    if len(arms) < 2:
        raise ExperimentError("an experiment compares at least two arms, e.g. --arm none --arm scaffold:ID")
    if len(set(arms)) != len(arms):
        raise ExperimentError(f"an arm is named twice: {', '.join(a for a in arms if arms.count(a) > 1)}")
    paths = [str(f.path) for f in task_files]
    name = experiment_id or "exp-" + hashlib.sha1(
        json.dumps([paths, student, arms, repeats, seed, runner]).encode()).hexdigest()[:8]
    stored = store.find_experiment(name)
    if stored is not None:  # resuming: an arm named without its version runs the version it started with
        resolved = [next((s for s in stored.arms if s == arm or s.startswith(f"{arm}@")), arm) for arm in arms]
    else:
        resolved = [resolve_arm(store, parse_arm(arm), runner).name for arm in arms]
        if len(set(resolved)) != len(resolved):
            raise ExperimentError(f"two arms run the same thing: {', '.join(resolved)}")
    experiment = Experiment(id=name, task_paths=paths, student=student, arms=resolved, repeats=repeats, seed=seed,
                            limit=limit, runner=runner, timeout=timeout)
    return store.save_experiment(experiment, actor=actor)


def resolve_arm(store: Store, arm: Arm, runner: str = "plan") -> Resolved:
    """The scaffold version or the critique an arm gives the student; only approved versions and accepted points."""
    if arm.kind == "none":
        return Resolved("none")
    if arm.kind == "critique":
        if runner != "plan":
            raise ExperimentError(f"arm {arm.name}: advice from a critique is given by the plan runner only")
        store.load_trace(arm.ref)  # a one-line error when there is no such trace
        points = [a for a in store.list_annotations(arm.ref) if a.status in USABLE_REVIEW_STATUSES]  # only what a person accepted
        if not points:
            raise ExperimentError(f"arm {arm.name}: trace {arm.ref!r} has no accepted critique; review it first")
        advice = "\n".join(f"- {shorten(a.rationale, 300)}" + (f" Fix: {shorten(a.suggested_fix, 200)}"
                                                                 if a.suggested_fix else "") for a in points)
        return Resolved(arm.name, advice=shorten(advice, ADVICE_CHARS))
    found = named_scaffold(store, arm.ref)
    if found.content.kind != arm.kind:
        raise ExperimentError(f"arm {arm.name}: {found.scaffold_id} is a {found.content.kind}; "
                              f"name it as {found.content.kind}:{arm.ref}")
    return Resolved(f"{arm.kind}:{found.scaffold_id}@{found.version}", scaffold=found)


def experiment_work(store: Store, experiment: Experiment, task_files: list[TaskFile]) -> list[Work]:
    """Every run the experiment makes, in the order it makes them: task by task, repeat by repeat, the arms of each
    in a rotated order."""
    arms = [resolve_arm(store, parse_arm(name), experiment.runner) for name in experiment.arms]
    tasks = [(f, t) for f in task_files for t in f.tasks[: experiment.limit]]
    work = []
    for place, (task_file, task) in enumerate(tasks):
        for repeat in range(1, experiment.repeats + 1):
            turn = (place * experiment.repeats + repeat - 1) % len(arms)
            for arm in arms[turn:] + arms[:turn]:
                run_id = f"run-{experiment.id}-{parse_arm(arm.name).slug}-{task.id}-{repeat}"
                work.append(Work(task_file, task, repeat, arm, run_id))
    return work


def run_experiment(
    store: Store, experiment: Experiment, task_files: list[TaskFile], student: ModelEntry, *, actor: Actor,
    progress: Progress = lambda line: None, completion: Callable[..., Any] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> ExperimentResult:
    """Make the experiment's runs that are not finished yet; ``stop`` is asked before each run."""
    actor.require(Action.RUN)
    if student.name != experiment.student:
        raise ExperimentError(f"experiment {experiment.id} runs {experiment.student}, not {student.name}")
    work = experiment_work(store, experiment, task_files)
    done = {r.id for r in store.list_runs(experiment_id=experiment.id) if r.status == "ok"}
    result = ExperimentResult(experiment, planned=len(work))
    settings = {arm: BatchSettings(student=student.name, scaffold=arm, runner=experiment.runner,
                                   seed=experiment.seed, temperature=experiment.temperature,
                                   timeout=experiment.timeout) for arm in experiment.arms}
    for number, item in enumerate(work, start=1):
        if item.run_id in done:
            result.skipped += 1
            continue
        if stop():
            result.stopped = True
            break
        where = f"[{number}/{len(work)}] {item.arm.name} · {item.task.id} (repeat {item.repeat})"
        progress(f"{where}: running")
        record = run_task(store, item.task_file, item.task, item.repeat, item.run_id, experiment.id, student,
                          settings[item.arm.name], item.arm.scaffold, {}, actor=actor, progress=progress,
                          completion=completion, experiment_id=experiment.id, arm=item.arm.name,
                          advice=item.arm.advice)
        progress(f"{where}: {outcome(record)}")
        result.runs.append(record)
    return result
