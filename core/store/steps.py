"""The scaffold steps of student runs, as their traces record them: what a capability-gap report counts."""

from __future__ import annotations

import json

from core.experiments.gaps import StepCall, StepRun
from core.store.traces import TraceQueries
from core.text import shorten

OUTPUT_CHARS = 200  # of a step's result, kept as an example

# A run `r` of the scaffold $scaffold (of version $version, or any) by the `plan` runner: only that runner marks
# its step calls with the scaffold step they carry out (core.runs.plan).
_OF_SCAFFOLD = "r.scaffold_id = $scaffold AND ($version IS NULL OR r.scaffold_version = $version) AND r.runner = 'plan'"


class StepQueries(TraceQueries):
    def scaffold_step_runs(self, scaffold_id: str, version: int | None = None) -> list[StepRun]:
        """The scaffold's `plan` runs, oldest first, each with the scaffold steps its adapted plan skipped."""
        rows = self._cur.execute(
            "SELECT r.id, r.student, r.scaffold_version, r.score, json_extract(t.metadata, '$.adaptation.skipped') "
            f"FROM runs r JOIN traces t ON t.id = r.id WHERE {_OF_SCAFFOLD} ORDER BY r.started_at, r.id",
            {"scaffold": scaffold_id, "version": version},
        ).fetchall()
        return [StepRun(run_id, student, number, score, tuple(json.loads(skipped or "null") or ()))
                for run_id, student, number, score, skipped in rows]

    def scaffold_step_calls(self, scaffold_id: str, version: int | None = None) -> list[StepCall]:
        """Every call the scaffold's `plan` runs made for a scaffold step, run by run (oldest first), each run's
        in trace order. The parent node of a split step's parts is no call, and is left out."""
        rows = self._cur.execute(
            "SELECT r.id, r.student, r.scaffold_version, r.score, json_extract_string(n.metadata, '$.scaffold_step'), "
            "n.id, n.status, n.error, json_extract_string(n.metadata, '$.problem'), left(n.output, $chars), "
            "coalesce(json_extract_string(n.metadata, '$.unanswered'), 'false') = 'true' "
            "FROM nodes n JOIN runs r ON n.trace_id = r.id "
            f"WHERE {_OF_SCAFFOLD} AND json_extract_string(n.metadata, '$.scaffold_step') IS NOT NULL "
            "AND coalesce(json_extract_string(n.metadata, '$.split'), 'false') <> 'true' "
            "ORDER BY r.started_at, r.id, n.rowid",
            {"scaffold": scaffold_id, "version": version, "chars": 4 * OUTPUT_CHARS},
        ).fetchall()
        return [StepCall(*row[:-2], output=shorten(row[-2], OUTPUT_CHARS), unanswered=row[-1]) for row in rows]
