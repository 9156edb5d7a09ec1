"""Capability gaps: the scaffold sub-problems a student model fails to carry out, from its runs (docs/metrics.md).

A teacher's decomposition may hold a step a weaker student cannot do. Each first-level step a `plan` run
carries out is a node of its trace marked with the scaffold step it comes from; the runner judges the step's
result there and then (a failed call, or a result it cannot use: see core.runs.plan). Per scaffold version,
step and student this counts the runs that reached the step, how many got a usable result, and the final
checker score of the runs where it worked against those where it did not; a step that fails in most runs is
flagged, with examples. Pure functions: the store's rows in (core.store.steps), plain values out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from core.scaffolds.models import ScaffoldVersion
from core.text import shorten

MIN_ATTEMPTS = 2  # one failed run is an accident, not a gap: a step is flagged only after this many runs reached it
FLAG_BELOW = 0.5  # ... and when fewer than this share of them got a usable result
EXAMPLES = 3  # failures kept per step, as examples
INSTRUCTION_CHARS = 60  # of the step's instruction, in a warning


@dataclass(frozen=True)
class StepCall:
    """One call a run made for a scaffold step: a node of the run's trace (a part, for a split step)."""

    run_id: str
    student: str
    scaffold_version: int | None
    run_score: float | None  # the run's final checker score; None when the run failed
    scaffold_step: str  # the scaffold sub-problem id
    node_id: str
    status: str  # the node's: "ok", or "error" when the model call failed
    error: str | None
    problem: str | None  # why the runner could not use the result, e.g. "returned nothing usable"
    output: str  # the start of the result
    unanswered: bool = False  # the call got no answer (it timed out, the model was unreachable): it tells nothing

    @property
    def usable(self) -> bool:
        return self.status == "ok" and not self.problem

    @property
    def why(self) -> str:
        return self.problem or self.error or f"status {self.status}"


@dataclass(frozen=True)
class StepRun:
    """A `plan` run of a scaffold: who ran which version, its score, and the steps its adapted plan left out."""

    run_id: str
    student: str
    scaffold_version: int | None
    run_score: float | None
    skipped: tuple[str, ...]


@dataclass(frozen=True)
class Failure:
    run_id: str
    why: str  # the runner's problem with the result, or the call's error
    output: str


@dataclass(frozen=True)
class StepGap:
    """How one student did on one step of one scaffold version."""

    scaffold_version: int | None
    step: str
    instruction: str
    student: str
    runs: int  # runs of this version by this student
    attempted: int  # runs that reached the step (called the model for it)
    succeeded: int  # ... and got a usable result (for a split step: from any part)
    skipped: int  # runs whose adapted plan left the step out
    unanswered: int  # runs whose every call for the step got no answer: not counted as attempted
    score_succeeded: float | None  # mean final checker score of the runs where the step succeeded (scored ones)
    score_failed: float | None  # ... where it failed
    examples: tuple[Failure, ...]

    @property
    def failed(self) -> int:
        return self.attempted - self.succeeded

    @property
    def not_reached(self) -> int:
        """Runs that neither skipped nor reached the step: they fell back (or stopped) at an earlier one."""
        return self.runs - self.attempted - self.skipped - self.unanswered

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.attempted if self.attempted else None

    @property
    def flagged(self) -> bool:
        return self.attempted >= MIN_ATTEMPTS and self.success_rate < FLAG_BELOW


def step_gaps(runs: Iterable[StepRun], calls: Iterable[StepCall], versions: Sequence[ScaffoldVersion]) -> list[StepGap]:
    """One row per (scaffold version, step, student) that has runs: every first-level step of the version, in
    the scaffold's order, plus any step id the runs name that the version does not have. Sorted by version,
    then student, then step."""
    contents = {v.version: v.content for v in versions}
    runs = list(runs)
    calls_of: dict[tuple[str, str], list[StepCall]] = {}  # (run id, step) -> its calls, in trace order
    steps_of: dict[str, set[str]] = {}  # run id -> the steps it called the model for
    for call in calls:
        calls_of.setdefault((call.run_id, call.scaffold_step), []).append(call)
        steps_of.setdefault(call.run_id, set()).add(call.scaffold_step)
    groups: dict[tuple[int | None, str], list[StepRun]] = {}
    for run in runs:
        groups.setdefault((run.scaffold_version, run.student), []).append(run)
    gaps = []
    for (version, student), group in sorted(groups.items(), key=lambda item: (item[0][0] or 0, item[0][1])):
        content = contents.get(version)
        steps = {s.id: s.instruction for s in content.first_level()} if content else {}
        named = {step for run in group for step in [*steps_of.get(run.run_id, ()), *run.skipped]}
        for step in [*steps, *sorted(named - steps.keys())]:
            gaps.append(_gap(version, step, steps.get(step, step), student, group, calls_of))
    return gaps


def _gap(version: int | None, step: str, instruction: str, student: str, runs: list[StepRun],
         calls_of: dict[tuple[str, str], list[StepCall]]) -> StepGap:
    called = [(run, calls_of[(run.run_id, step)]) for run in runs if (run.run_id, step) in calls_of]
    # A machine too loaded to answer in time is not a student unable to do the step.
    reached = [(run, calls) for run, calls in called if not all(c.unanswered for c in calls)]
    worked = [run for run, calls in reached if any(c.usable for c in calls)]
    broke = [(run, calls) for run, calls in reached if not any(c.usable for c in calls)]
    # A split step failed in every part: its first part says why as well as any.
    examples = tuple(Failure(run.run_id, shorten(calls[0].why, 200), calls[0].output)
                     for run, calls in broke[:EXAMPLES])
    return StepGap(
        scaffold_version=version, step=step, instruction=instruction, student=student, runs=len(runs),
        attempted=len(reached), succeeded=len(worked), skipped=sum(step in run.skipped for run in runs),
        unanswered=len(called) - len(reached),
        score_succeeded=_mean_score(worked), score_failed=_mean_score([run for run, _ in broke]), examples=examples,
    )


def _mean_score(runs: list[StepRun]) -> float | None:
    scores = [run.run_score for run in runs if run.run_score is not None]
    return float(np.mean(scores)) if scores else None


def flagged(gaps: Iterable[StepGap]) -> list[StepGap]:
    return [gap for gap in gaps if gap.flagged]


def warning(gap: StepGap) -> str:
    """A flagged step in one sentence: "v1 step s2 (State the cap...) fails for small: 3 of 4 runs (75%), e.g. ..."."""
    version = f"v{gap.scaffold_version} " if gap.scaffold_version is not None else ""
    sentence = (f"{version}step {gap.step} ({shorten(gap.instruction, INSTRUCTION_CHARS)}) fails for {gap.student}: "
                f"{gap.failed} of {gap.attempted} runs ({gap.failed / gap.attempted:.0%})")
    if gap.examples:
        sentence += f", e.g. '{gap.examples[0].why}' ({gap.examples[0].run_id})"
    return sentence


def warnings(gaps: Iterable[StepGap]) -> list[str]:
    """The warning sentence of every flagged step."""
    return [warning(gap) for gap in flagged(gaps)]


def as_record(gap: StepGap) -> dict:
    """A gap as JSON holds it, with its derived counts and its warning (None when it is not flagged)."""
    return {
        "scaffold_version": gap.scaffold_version, "step": gap.step, "instruction": gap.instruction,
        "student": gap.student, "runs": gap.runs, "attempted": gap.attempted, "succeeded": gap.succeeded,
        "failed": gap.failed, "skipped": gap.skipped, "unanswered": gap.unanswered, "not_reached": gap.not_reached,
        "success_rate": gap.success_rate, "score_succeeded": gap.score_succeeded, "score_failed": gap.score_failed,
        "flagged": gap.flagged, "warning": warning(gap) if gap.flagged else None,
        "examples": [{"run_id": f.run_id, "why": f.why, "output": f.output} for f in gap.examples],
    }
