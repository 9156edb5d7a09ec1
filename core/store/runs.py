"""Student runs: each run's record and its trace, written together."""

from __future__ import annotations

import json

import pyarrow as pa

from core.auth import Action, Actor
from core.errors import StoreError
from core.models import Trace
from core.runs.models import RunRecord
from core.store.connection import audit
from core.store.traces import TraceQueries

_RUN_FIELDS = list(RunRecord.model_fields)
_RUN_COLUMNS = ", ".join(_RUN_FIELDS)


class RunQueries(TraceQueries):
    def add_run(self, run: RunRecord, trace: Trace, nodes: pa.Table, depth: list[int], *, actor: Actor) -> None:
        """Store a run and its trace in one transaction: a run is never without its trace, nor the reverse.
        A run that failed before (a dead model server, say) is replaced, trace and all; a finished one never is."""
        actor.require(Action.RUN)
        values = run.model_dump()
        values["retrieval"] = json.dumps(values["retrieval"])
        with self._transaction() as cur:
            earlier = cur.execute("SELECT status FROM runs WHERE id = ?", [run.id]).fetchone()
            if earlier and earlier[0] != "failed":
                raise StoreError(f"run {run.id!r} is already in {self.path}, finished")
            cur.execute("DELETE FROM runs WHERE id = ?", [run.id])
            self._insert_trace(cur, trace, nodes, depth, None, None, replace=earlier is not None)
            cur.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({', '.join('?' * len(_RUN_FIELDS))})",
                        [values[f] for f in _RUN_FIELDS])
            audit(cur, actor, "run", run.id, task=run.task_id, student=run.student, scaffold=run.scaffold_id,
                  status=run.status)

    def list_runs(
        self, *, batch_id: str | None = None, task_id: str | None = None, scaffold_id: str | None = None,
        student: str | None = None, experiment_id: str | None = None,
    ) -> list[RunRecord]:
        """Runs, oldest first; each filter narrows them."""
        rows = self._cur.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE ($batch IS NULL OR batch_id = $batch) "
            "AND ($task IS NULL OR task_id = $task) AND ($scaffold IS NULL OR scaffold_id = $scaffold) "
            "AND ($student IS NULL OR student = $student) AND ($experiment IS NULL OR experiment_id = $experiment) "
            "ORDER BY started_at, id",
            {"batch": batch_id, "task": task_id, "scaffold": scaffold_id, "student": student,
             "experiment": experiment_id},
        ).fetchall()
        return [_run_from_row(row) for row in rows]


def _run_from_row(row: tuple) -> RunRecord:
    values = dict(zip(_RUN_FIELDS, row, strict=True))
    values["retrieval"] = json.loads(values["retrieval"] or "{}")
    return RunRecord.model_validate(values)
