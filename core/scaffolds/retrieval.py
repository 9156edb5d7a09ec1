"""Finding the approved scaffolds and strategies that fit a new task, and saying why.

Fit is lexical: BM25 over the scaffold's words (computed in DuckDB by the
store), plus a bonus for the task class, when the task names it or the caller
gives it. No embedding model: none installs here without a multi-gigabyte
torch, and words a person can see make the ranking easy to explain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.store import Store

# The task class asked for outranks any amount of shared wording; a task that
# merely names the class's words gets this much per share of them.
CLASS_NAMED_BONUS = 2.0
SHOWN_TERMS = 5


@dataclass(frozen=True)
class Fit:
    rank: int
    scaffold_id: str
    version: int
    title: str
    kind: str
    task_class: str | None
    score: float
    reasons: list[str] = field(default_factory=list)

    @property
    def why(self) -> str:
        return "; ".join(self.reasons)


def rank_scaffolds(store: Store, task: str, *, task_class: str | None = None, limit: int = 10) -> list[Fit]:
    """Approved scaffolds and strategies ranked by how well they fit ``task``, best first."""
    task_words = set(re.findall(r"[a-z0-9]+", task.lower()))
    scored = []
    for row in store.rank_approved_scaffolds(task):
        reasons = []
        asked_class = task_class is not None and row["task_class"] == task_class
        bonus = 0.0
        if asked_class:
            reasons.append(f"task class {row['task_class']}, as asked")
        elif row["task_class"]:
            class_words = [w for w in re.findall(r"[a-z0-9]+", row["task_class"].lower()) if len(w) > 2]
            named = [w for w in class_words if w in task_words]
            if named:
                bonus = CLASS_NAMED_BONUS * len(named) / len(class_words)
                reasons.append(f"the task names its class {row['task_class']} ({', '.join(named)}: +{bonus:.1f})")
        if row["terms"]:
            shown = ", ".join(f"{term} {weight:.1f}" for term, weight in row["terms"][:SHOWN_TERMS])
            more = len(row["terms"]) - SHOWN_TERMS
            reasons.append(f"{len(row['terms'])} words in common, by weight: {shown}{f' (+{more} more)' if more > 0 else ''}")
        else:
            reasons.append("no words in common with the task")
        score = row["score"] + bonus
        scored.append(((asked_class, score), row, score, reasons))
    scored.sort(key=lambda s: s[0], reverse=True)
    return [
        Fit(rank, row["scaffold_id"], row["version"], row["title"], row["kind"], row["task_class"], round(score, 3), reasons)
        for rank, (_, row, score, reasons) in enumerate(scored[:limit], start=1)
    ]
