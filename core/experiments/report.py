"""An experiment's results: each arm's figures, each arm against the baseline, and every run as a row to export."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from core.experiments import metrics
from core.experiments.models import Experiment
from core.runs.models import RunRecord

ROW_FIELDS = ["experiment_id", "arm", "task_id", "task_class", "repeat", "seed", "id", "student", "scaffold_id",
              "scaffold_version", "status", "error", "score", "fell_back", "fallback_reason", "adherence", "calls",
              "tokens_in", "tokens_out", "cost", "seconds", "started_at"]
# A spreadsheet runs a cell that starts with one of these as a formula; a run's error or fallback reason is model
# text, so such a cell is exported with a leading apostrophe, which keeps it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ArmReport:
    summary: metrics.ArmSummary
    difference: metrics.PairedDifference | None  # against the baseline; None for the baseline itself
    verdict: str | None
    fallbacks: metrics.FallbackSummary
    adherence: metrics.Estimate
    coverage: metrics.Estimate
    competence: metrics.Competence
    competence_ratio: float | None  # this arm's tokens to competence over the baseline's


@dataclass(frozen=True)
class ExperimentReport:
    experiment: Experiment
    arms: list[ArmReport]  # in the experiment's order, the baseline first
    runs: int  # stored so far
    finished: int
    failed: int


def experiment_report(experiment: Experiment, runs: list[RunRecord], *, threshold: float = metrics.THRESHOLD,
                      window: int = metrics.WINDOW) -> ExperimentReport:
    """The figures of every arm over the runs stored so far (an unfinished experiment included)."""
    arms = metrics.by_arm(runs)
    baseline_runs = arms.get(experiment.baseline, [])
    baseline_competence = metrics.tokens_to_competence(baseline_runs, threshold=threshold, window=window)
    reports = []
    for name in experiment.arms:
        mine = arms.get(name, [])
        difference = None if name == experiment.baseline else metrics.paired_difference(
            mine, baseline_runs, arm=name, baseline=experiment.baseline)
        competence = metrics.tokens_to_competence(mine, threshold=threshold, window=window)
        reports.append(ArmReport(
            summary=metrics.summarize_arm(mine, name), difference=difference,
            verdict=metrics.verdict(difference) if difference else None, fallbacks=metrics.fallbacks(mine),
            adherence=metrics.adherence(mine), coverage=metrics.coverage(mine), competence=competence,
            competence_ratio=None if name == experiment.baseline else metrics.competence_ratio(
                competence, baseline_competence),
        ))
    return ExperimentReport(experiment, reports, runs=len(runs), finished=sum(r.status == "ok" for r in runs),
                            failed=sum(r.status == "failed" for r in runs))


def run_rows(runs: list[RunRecord]) -> list[dict]:
    """Every run as one flat row: what an export holds."""
    rows = []
    for run in runs:
        values = run.model_dump(mode="json")
        rows.append({name: values[name] for name in ROW_FIELDS} | {"arm": metrics.arm_of(run)})
    return rows


def rows_csv(runs: list[RunRecord]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ROW_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({name: _as_text_cell(value) for name, value in row.items()} for row in run_rows(runs))
    return out.getvalue()


def _as_text_cell(value):
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def rows_json(runs: list[RunRecord]) -> str:
    return json.dumps(run_rows(runs), indent=2)


def interval(estimate: metrics.Estimate, digits: int = 2, unit: str = "", *, signed: bool = False) -> str:
    """ "0.42 [0.30, 0.55]" ("+0.42 [+0.30, +0.55]" ``signed``), "0.42" without an interval, "—" without a value."""
    if estimate.value is None:
        return "—"
    form = f"{'+' if signed else ''},.{digits}f"
    value = f"{estimate.value:{form}}{unit}"
    return value if estimate.ci is None else f"{value} [{estimate.low:{form}}{unit}, {estimate.high:{form}}{unit}]"
