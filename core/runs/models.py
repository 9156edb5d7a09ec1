"""What the store keeps of one student run, beside its trace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.models import Node, Trace

RUNNERS = ("plan", "rlm")


class RunRecord(BaseModel):
    """One run of one task by one student: how it was set up, what it cost, how it scored, whether it fell back."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Also the id of the run's trace.")
    batch_id: str
    task_id: str
    task_file: str
    task_class: str
    student: str = Field(description="The student model's catalog name.")
    runner: Literal["plan", "rlm"] = "plan"
    scaffold_choice: str = Field(description="none, auto, or the scaffold asked for (ID or ID@VERSION).")
    scaffold_id: str | None = None
    scaffold_version: int | None = None
    retrieval: dict[str, Any] = Field(default_factory=dict, description="With auto: rank, score and reasons.")
    seed: int = 0
    repeat: int = 1
    status: Literal["ok", "failed"]
    error: str | None = None
    fell_back: bool = False
    fallback_reason: str | None = None
    adherence: float | None = None
    answer: str = ""
    score: float | None = Field(None, description="The checker's score in [0, 1]; None when the run failed.")
    score_explanation: str = ""
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    seconds: float = 0.0
    started_at: datetime
    experiment_id: str | None = Field(None, description="The experiment the run is part of, if any.")
    arm: str | None = Field(None, description="In an experiment: the arm it ran in (none, scaffold:ID@V, ...).")

    @property
    def followed(self) -> str:
        """The scaffold version the run followed, as it is asked for (``ID@VERSION``), or "none"."""
        return f"{self.scaffold_id}@{self.scaffold_version}" if self.scaffold_id else "none"

    @property
    def outcome(self) -> str:
        """Why the run ended as it did, in one line: its failure, else its fallback, else the checker's verdict."""
        return self.error or self.fallback_reason or self.score_explanation


@dataclass
class RunResult:
    """What a runner did: its trace and nodes, its final answer, and whether and why it fell back."""

    trace: Trace
    nodes: list[Node]
    answer: str
    fell_back: bool = False
    fallback_reason: str | None = None
    fallback_node: str | None = None
    adherence: float | None = None  # share of the scaffold's first-level steps carried out; None without one
    failed: str | None = None  # why the run produced no answer at all
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    seconds: float = 0.0
