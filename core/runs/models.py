"""What the store keeps of one student run, beside its trace."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RUNNERS = ("plan",)


class RunRecord(BaseModel):
    """One run of one task by one student: how it was set up, what it cost, how it scored, whether it fell back."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Also the id of the run's trace.")
    batch_id: str
    task_id: str
    task_file: str
    task_class: str
    student: str = Field(description="The student model's catalog name.")
    runner: Literal["plan"] = "plan"
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
