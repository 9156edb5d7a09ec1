"""Experiments: what each one runs; its runs are rows of ``runs`` tagged with its id and their arm."""

from __future__ import annotations

from datetime import datetime, timezone

from core.auth import Action, Actor
from core.errors import StoreError
from core.experiments.models import Experiment
from core.store.connection import audit
from core.store.runs import RunQueries


class ExperimentQueries(RunQueries):
    def save_experiment(self, experiment: Experiment, *, actor: Actor) -> Experiment:
        """Store a new experiment; for one already stored with the same design, keep it (a larger task limit is
        taken) and return it as stored, so the same command resumes it. A different design under the same id is
        refused."""
        actor.require(Action.RUN)
        with self._transaction() as cur:
            row = cur.execute("SELECT settings FROM experiments WHERE id = ?", [experiment.id]).fetchone()
            if row:
                stored = Experiment.model_validate_json(row[0])
                if not stored.same_design(experiment):
                    raise StoreError(f"experiment {experiment.id!r} is already in {self.path} with other settings; "
                                     "give the new one another id")
                if experiment.limit != stored.limit:
                    stored = stored.model_copy(update={"limit": experiment.limit})
                    cur.execute("UPDATE experiments SET settings = ? WHERE id = ?",
                                [stored.model_dump_json(), stored.id])
                return stored
            made = experiment.model_copy(update={"created_by": actor.name, "created_at": datetime.now(timezone.utc)})
            cur.execute("INSERT INTO experiments VALUES (?, ?, ?, ?)",
                        [made.id, made.model_dump_json(), made.created_by, made.created_at])
            audit(cur, actor, "experiment", made.id, arms=made.arms, student=made.student)
            return made

    def find_experiment(self, experiment_id: str) -> Experiment | None:
        row = self._cur.execute("SELECT settings FROM experiments WHERE id = ?", [experiment_id]).fetchone()
        return None if row is None else Experiment.model_validate_json(row[0])

    def get_experiment(self, experiment_id: str) -> Experiment:
        found = self.find_experiment(experiment_id)
        if found is None:
            known = ", ".join(e.id for e in self.list_experiments()[:5]) or "none yet"
            raise StoreError(f"no experiment {experiment_id!r} in {self.path} (known: {known})")
        return found

    def list_experiments(self) -> list[Experiment]:
        """Experiments, newest first."""
        rows = self._cur.execute("SELECT settings FROM experiments ORDER BY created_at DESC, id").fetchall()
        return [Experiment.model_validate_json(row[0]) for row in rows]
