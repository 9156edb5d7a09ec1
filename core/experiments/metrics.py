"""The statistics of a transfer experiment, over the run records its arms made (docs/metrics.md).

An *arm* is one way of running the student ("none", "scaffold:legal@3", "scaffold:auto"); every arm runs
the same tasks with the same seeds. The unit of every statistic is the *task*: a task's repeats are
averaged first, and the bootstrap resamples tasks, so a task run five times weighs as much as one run
once. Pure functions: they take run records (or plain values) and return frozen dataclasses; nothing
here reads the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.runs.models import RunRecord

RESAMPLES = 2000  # bootstrap resamples of the tasks
SEED = 0  # the bootstrap's seed: the same runs give the same intervals
LEVEL = 0.95  # a percentile interval from the 2.5th to the 97.5th percentile
THRESHOLD = 0.7  # tokens to competence: the running mean score to reach ...
WINDOW = 5  # ... over this many most recent tasks
TIE = 1e-9  # task scores closer than this are the same score (neither helped nor hurt)


@dataclass(frozen=True)
class Estimate:
    """A mean over tasks and its bootstrap interval; no interval (None) with fewer than two tasks."""

    value: float | None
    low: float | None
    high: float | None
    tasks: int

    @property
    def ci(self) -> tuple[float, float] | None:
        return None if self.low is None or self.high is None else (self.low, self.high)

    @property
    def measurable(self) -> bool:
        """Whether the interval leaves 0 out (by more than TIE, so that rounding is not a finding): a difference
        that is there beyond resampling noise."""
        return self.ci is not None and (self.low > TIE or self.high < -TIE)


# --- runs, arms and tasks


def tokens(run: RunRecord) -> int:
    return run.tokens_in + run.tokens_out


def applied(run: RunRecord) -> bool:
    """Whether a scaffold was found and carried through: the run had one and did not fall back."""
    return run.scaffold_id is not None and not run.fell_back


def arm_of(run: RunRecord) -> str:
    """The arm a run belongs to: its experiment's arm; else by what its batch asked for: "none", "scaffold:auto",
    or "scaffold:ID@VERSION"."""
    if run.arm:
        return run.arm
    if run.scaffold_choice in ("none", "auto"):
        return "none" if run.scaffold_choice == "none" else "scaffold:auto"
    return f"scaffold:{run.scaffold_id}@{run.scaffold_version}"


def by_arm(runs: Iterable[RunRecord], arm: Callable[[RunRecord], str] = arm_of) -> dict[str, list[RunRecord]]:
    """The runs of each arm, in the order given."""
    arms: dict[str, list[RunRecord]] = {}
    for run in runs:
        arms.setdefault(arm(run), []).append(run)
    return arms


def per_task(runs: Iterable[RunRecord], value: Callable[[RunRecord], float | None]) -> dict[str, float]:
    """Each task's mean of ``value`` over its runs (its repeats), runs where it is None left out; tasks sorted by id,
    a task with no value at all left out."""
    values: dict[str, list[float]] = {}
    for run in runs:
        v = value(run)
        if v is not None:
            values.setdefault(run.task_id, []).append(float(v))
    return {task: float(np.mean(values[task])) for task in sorted(values)}


# --- the bootstrap


def resample(tasks: int, *, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """``resamples`` rows of ``tasks`` task indices drawn with replacement: row r is bootstrap sample r."""
    return np.random.default_rng(seed).integers(0, tasks, size=(resamples, tasks))


def percentile_ci(statistics: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The percentile interval of a statistic's bootstrap values (numpy's linear interpolation)."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(statistics, [tail, 100 - tail])
    return float(low), float(high)


def mean_estimate(values: Sequence[float], *, resamples: int = RESAMPLES, seed: int = SEED) -> Estimate:
    """The mean of per-task values, with the percentile interval of the means of resampled tasks."""
    if not values:
        return Estimate(None, None, None, 0)
    array = np.asarray(values, dtype=float)
    mean = float(array.mean())
    if len(array) < 2:
        return Estimate(mean, None, None, 1)
    low, high = percentile_ci(array[resample(len(array), resamples=resamples, seed=seed)].mean(axis=1))
    return Estimate(mean, low, high, len(array))


def task_mean(runs: Iterable[RunRecord], value: Callable[[RunRecord], float | None], *,
              resamples: int = RESAMPLES, seed: int = SEED) -> Estimate:
    """The mean over tasks of each task's mean ``value``, with its interval."""
    return mean_estimate(list(per_task(runs, value).values()), resamples=resamples, seed=seed)


# --- one arm


@dataclass(frozen=True)
class ArmSummary:
    arm: str
    runs: int
    tasks: int
    failed: int  # runs with no score (they failed): left out of the score, counted in tokens, cost, seconds, calls
    score: Estimate
    tokens: Estimate  # tokens in + out
    cost: Estimate
    seconds: Estimate
    calls: Estimate


def summarize_arm(runs: Sequence[RunRecord], arm: str, *, resamples: int = RESAMPLES, seed: int = SEED) -> ArmSummary:
    """An arm's means over tasks, each with a bootstrap interval resampling tasks."""
    def mean(value: Callable[[RunRecord], float | None]) -> Estimate:
        return task_mean(runs, value, resamples=resamples, seed=seed)

    return ArmSummary(
        arm=arm, runs=len(runs), tasks=len({r.task_id for r in runs}), failed=sum(r.score is None for r in runs),
        score=mean(lambda r: r.score), tokens=mean(tokens), cost=mean(lambda r: r.cost),
        seconds=mean(lambda r: r.seconds), calls=mean(lambda r: r.calls),
    )


# --- an arm against a baseline, task by task


@dataclass(frozen=True)
class PairedDifference:
    arm: str
    baseline: str
    tasks: int  # tasks both arms ran
    score: Estimate  # mean over the tasks scored in both arms of (arm's task score - baseline's)
    tokens_change: Estimate  # percent: 100 x (arm's mean tokens / baseline's mean tokens - 1), over the paired tasks
    helped: int  # paired tasks where the arm scored higher than the baseline
    hurt: int  # ... lower
    failed: int  # runs of the paired tasks, in either arm, with no score
    only_arm: int  # tasks only the arm ran: not compared
    only_baseline: int  # tasks only the baseline ran: not compared
    task_class: str | None  # the paired tasks' class when they share one


def paired_difference(runs: Sequence[RunRecord], baseline_runs: Sequence[RunRecord], *, arm: str,
                      baseline: str = "none", resamples: int = RESAMPLES, seed: int = SEED) -> PairedDifference:
    """The arm against the baseline on the tasks both ran; the bootstrap resamples those tasks, both arms together."""
    arm_tasks, baseline_tasks = {r.task_id for r in runs}, {r.task_id for r in baseline_runs}
    paired = arm_tasks & baseline_tasks
    mine = [r for r in runs if r.task_id in paired]
    theirs = [r for r in baseline_runs if r.task_id in paired]
    arm_score, baseline_score = per_task(mine, lambda r: r.score), per_task(theirs, lambda r: r.score)
    scored = [t for t in arm_score if t in baseline_score]
    differences = [arm_score[t] - baseline_score[t] for t in scored]
    arm_tokens, baseline_tokens = per_task(mine, tokens), per_task(theirs, tokens)  # every paired task has tokens
    classes = {r.task_class for r in mine + theirs}
    return PairedDifference(
        arm=arm, baseline=baseline, tasks=len(paired),
        score=mean_estimate(differences, resamples=resamples, seed=seed),
        tokens_change=relative_change([arm_tokens[t] for t in sorted(paired)],
                                      [baseline_tokens[t] for t in sorted(paired)], resamples=resamples, seed=seed),
        helped=sum(d > TIE for d in differences), hurt=sum(d < -TIE for d in differences),
        failed=sum(r.score is None for r in mine + theirs),
        only_arm=len(arm_tasks - paired), only_baseline=len(baseline_tasks - paired),
        task_class=classes.pop() if len(classes) == 1 else None,
    )


def relative_change(values: Sequence[float], baseline: Sequence[float], *, resamples: int = RESAMPLES,
                    seed: int = SEED) -> Estimate:
    """100 x (mean(values) / mean(baseline) - 1), the two lists paired by position (by task); no value when the
    baseline's mean is 0. Each bootstrap sample takes the same tasks from both lists."""
    a, b = np.asarray(values, dtype=float), np.asarray(baseline, dtype=float)
    if len(a) != len(b):
        raise ValueError(f"paired values: {len(a)} against {len(b)}")
    if not len(b) or b.mean() == 0:
        return Estimate(None, None, None, len(b))
    change = float(100 * (a.mean() / b.mean() - 1))
    if len(b) < 2:
        return Estimate(change, None, None, 1)
    rows = resample(len(b), resamples=resamples, seed=seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        changes = 100 * (a[rows].mean(axis=1) / b[rows].mean(axis=1) - 1)
    changes = changes[np.isfinite(changes)]  # a sample of only token-free baseline tasks says nothing
    if not len(changes):
        return Estimate(change, None, None, len(b))
    low, high = percentile_ci(changes)
    return Estimate(change, low, high, len(b))


# --- fallbacks, adherence, coverage


@dataclass(frozen=True)
class FallbackSummary:
    scaffolded: int  # runs that had a scaffold
    fell_back: int
    rate: float | None  # fell_back / scaffolded; None without a scaffolded run
    reasons: dict[str, int]  # each fallback reason and how many runs gave it, most frequent first


def fallbacks(runs: Iterable[RunRecord]) -> FallbackSummary:
    """How often the runs that had a scaffold fell back to independent processing, and why."""
    scaffolded = [r for r in runs if r.scaffold_id is not None]
    fell = [r for r in scaffolded if r.fell_back]
    reasons = Counter(r.fallback_reason or "(no reason recorded)" for r in fell)
    return FallbackSummary(len(scaffolded), len(fell), len(fell) / len(scaffolded) if scaffolded else None,
                           dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))))


def adherence(runs: Iterable[RunRecord], *, resamples: int = RESAMPLES, seed: int = SEED) -> Estimate:
    """The mean over tasks of the adherence of the runs that had a scaffold (those that fell back included)."""
    return task_mean([r for r in runs if r.scaffold_id is not None], lambda r: r.adherence,
                     resamples=resamples, seed=seed)


def coverage(runs: Iterable[RunRecord], *, task_class: str | None = None, resamples: int = RESAMPLES,
             seed: int = SEED) -> Estimate:
    """The share of tasks (of ``task_class``, or all) where a scaffold was found and applied: the mean over tasks
    of the share of a task's runs that had a scaffold and did not fall back."""
    chosen = [r for r in runs if task_class is None or r.task_class == task_class]
    return task_mean(chosen, lambda r: float(applied(r)), resamples=resamples, seed=seed)


@dataclass(frozen=True)
class AdaptationSummary:
    plans: int  # adapted plans read
    in_order: float | None  # share of plans that keep the scaffold's steps in its order
    kept: float | None  # mean per plan: scaffold steps kept
    split: float | None  # ... split into parts
    skipped: float | None  # ... left out
    added: float | None  # ... steps the student added
    skipped_steps: dict[str, int]  # scaffold step id: plans that skipped it, most often first


def adaptations(plans: Iterable[Mapping[str, Any]]) -> AdaptationSummary:
    """What students did to the scaffold's plan, from each run's ``adaptation`` (kept, split, skipped, added,
    in_order; see core.runs.adapt), e.g. the trace metadata of the runs that had a scaffold."""
    plans = list(plans)

    def mean(value: Callable[[Mapping[str, Any]], float]) -> float | None:
        return float(np.mean([value(p) for p in plans])) if plans else None

    skipped = Counter(step for p in plans for step in p.get("skipped", []))
    return AdaptationSummary(
        plans=len(plans), in_order=mean(lambda p: bool(p.get("in_order"))), kept=mean(lambda p: len(p.get("kept", []))),
        split=mean(lambda p: len(p.get("split", []))), skipped=mean(lambda p: len(p.get("skipped", []))),
        added=mean(lambda p: p.get("added", 0)),
        skipped_steps=dict(sorted(skipped.items(), key=lambda item: (-item[1], item[0]))),
    )


# --- tokens to competence


@dataclass(frozen=True)
class Competence:
    tokens: int | None  # tokens spent up to and including the task where the running mean reached the threshold
    tasks: int | None  # that task's place in the sequence (from 1); None: never reached
    seen: int  # tasks in the sequence
    threshold: float
    window: int


def tokens_to_competence(runs: Iterable[RunRecord], *, threshold: float = THRESHOLD,
                         window: int = WINDOW) -> Competence:
    """One arm's tasks in the order they were first started: the cumulative tokens spent until the mean score of
    the last ``window`` tasks first reaches ``threshold`` (never before ``window`` tasks). A task's score is the
    mean of its runs', a failed run counting 0 (it gave no answer); its tokens are all its runs' tokens."""
    if window < 1:
        raise ValueError(f"window must be at least 1, not {window}")
    sequence = task_sequence(runs)
    scores, spent = [], 0
    for place, (score, task_tokens) in enumerate(sequence, start=1):
        scores.append(score)
        spent += task_tokens
        if place >= window and float(np.mean(scores[-window:])) >= threshold:
            return Competence(spent, place, len(sequence), threshold, window)
    return Competence(None, None, len(sequence), threshold, window)


def task_sequence(runs: Iterable[RunRecord]) -> list[tuple[float, int]]:
    """Each task's (score, tokens) in the order its first run started: the score the mean of its runs' (a failed run
    counting 0), the tokens all its runs' together."""
    tasks: dict[str, list[RunRecord]] = {}
    for run in sorted(runs, key=lambda r: (r.started_at, r.id)):
        tasks.setdefault(run.task_id, []).append(run)
    return [(float(np.mean([r.score or 0.0 for r in task_runs])), sum(tokens(r) for r in task_runs))
            for task_runs in tasks.values()]


def competence_ratio(arm: Competence, baseline: Competence) -> float | None:
    """The arm's tokens to competence over the baseline's (0.5: half the tokens); None unless both reached it."""
    if arm.tokens is None or not baseline.tokens:
        return None
    return arm.tokens / baseline.tokens


# --- the verdict


def arm_label(arm: str) -> str:
    """ "scaffold:legal@3" as a sentence says it: "scaffold legal@3"; "none" as "no scaffold". """
    return "no scaffold" if arm == "none" else arm.replace(":", " ", 1)


def verdict(difference: PairedDifference) -> str:
    """The paired difference in one plain sentence (or three), saying so when the data cannot tell."""
    d = difference
    who, against = arm_label(d.arm), "" if d.baseline == "none" else f" against {arm_label(d.baseline)}"
    if d.tasks == 0:
        return f"{who} and {arm_label(d.baseline)} ran no task in common: there is nothing to compare."
    where = f"on {_tasks(d.tasks, d.task_class)}{against}"
    if 0 < d.score.tasks < d.tasks:
        where += f" ({d.score.tasks} scored in both)"
    pause = "," if d.score.ci is not None and not d.score.measurable else ""  # after "measurably: +0.02 [...]"
    sentence = f"{who} {_score_phrase(d.score)}{pause} and {_tokens_phrase(d.tokens_change)} {where}"
    if d.score.tasks:
        sentence += f"; it helped on {_tasks(d.helped)} and hurt on {_tasks(d.hurt)}"
    sentence += "."
    if d.failed:
        sentence += (f" {d.failed} run failed and is left out of the score." if d.failed == 1
                     else f" {d.failed} runs failed and are left out of the score.")
    if d.tasks == 1:
        sentence += " One task gives no confidence interval: this is an anecdote, not a measurement."
    elif d.score.tasks == 1:
        sentence += " Only one task has a score in both arms: the score's change has no confidence interval."
    return sentence


def _score_phrase(score: Estimate) -> str:
    if score.value is None:
        return "left the score unknown (no task has a score in both arms)"
    if score.ci is None:
        return f"changed the score by {score.value:+.2f}"
    if not score.measurable:
        return f"did not change the score measurably: {score.value:+.2f} [{score.low:+.2f}, {score.high:+.2f}]"
    if score.low > TIE:
        return f"raised the score by {score.value:.2f} [{score.low:.2f}, {score.high:.2f}]"
    return f"lowered the score by {-score.value:.2f} [{-score.high:.2f}, {-score.low:.2f}]"


def _tokens_phrase(change: Estimate) -> str:
    if change.value is None:
        return "its tokens cannot be compared (the baseline spent none)"
    if change.ci is None:
        return f"changed tokens by {change.value:+.0f}%"
    if not change.measurable:
        return f"did not change tokens measurably: {change.value:+.0f}% [{change.low:+.0f}%, {change.high:+.0f}%]"
    if change.high < -TIE:
        return f"cut tokens by {-change.value:.0f}% [{-change.high:.0f}%, {-change.low:.0f}%]"
    return f"raised tokens by {change.value:.0f}% [{change.low:.0f}%, {change.high:.0f}%]"


def _tasks(count: int, task_class: str | None = None) -> str:
    noun = f"{task_class} task" if task_class else "task"
    return f"no {noun}" if count == 0 else f"1 {noun}" if count == 1 else f"{count} {noun}s"
