"""A scaffold's version history as a line: each version, who approved it, and how the runs that followed it did.

A version's runs are the finished runs (status ok) that followed it; those that fell back count too, since what
a version does to a student includes how often the student gives up on it. Score and tokens are means over
tasks with bootstrap intervals, as every experiment statistic is (core.experiments.metrics, docs/metrics.md).
Pure functions: versions, review events and run records in, rows out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.experiments.metrics import Estimate, task_mean, tokens
from core.runs.models import RunRecord
from core.scaffolds.models import ScaffoldEvent, ScaffoldStatus, ScaffoldVersion


@dataclass(frozen=True)
class VersionPoint:
    version: int
    status: str
    approved_by: str | None  # who approved it, even if it was deprecated since; None if it never was
    runs: int  # finished runs that followed it
    score: Estimate  # mean over tasks of the runs' checker scores
    tokens: Estimate  # mean over tasks of the runs' tokens in + out


def version_history(versions: Sequence[ScaffoldVersion], events: Iterable[ScaffoldEvent],
                    runs: Iterable[RunRecord]) -> list[VersionPoint]:
    """One point per version, oldest first; a version no run followed has 0 runs and no score or tokens."""
    # From the events, not ScaffoldVersion.reviewer: that is whoever decided last, the deprecator of a deprecated one.
    approvers = {(e.scaffold_id, e.version): e.actor for e in events if e.status == ScaffoldStatus.APPROVED}
    followed: dict[tuple[str | None, int], list[RunRecord]] = {}
    for run in runs:
        if run.status == "ok" and run.scaffold_version is not None:
            followed.setdefault((run.scaffold_id, run.scaffold_version), []).append(run)
    points = []
    for v in sorted(versions, key=lambda v: v.version):
        mine = followed.get((v.scaffold_id, v.version), [])
        points.append(VersionPoint(
            version=v.version, status=str(v.status), approved_by=approvers.get((v.scaffold_id, v.version)),
            runs=len(mine), score=task_mean(mine, lambda r: r.score), tokens=task_mean(mine, tokens),
        ))
    return points
