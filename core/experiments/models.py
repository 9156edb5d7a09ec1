"""An experiment as a value: which tasks, which student, which arms, how many repeats, from which seed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.errors import TrellisError

ARM_KINDS = ("none", "scaffold", "strategy", "critique")
ARM_FORMS = "none, scaffold:ID[@VERSION], strategy:ID[@VERSION] or critique:TRACE_ID"


class ExperimentError(TrellisError):
    """An experiment that cannot be set up or run as asked (with what to do instead)."""


@dataclass(frozen=True)
class Arm:
    """One way of running the student: with nothing, an approved scaffold or strategy, or a reviewed critique."""

    kind: Literal["none", "scaffold", "strategy", "critique"]
    ref: str | None = None  # ID or ID@VERSION for a scaffold or strategy; the critiqued trace's id for a critique

    @property
    def name(self) -> str:
        return self.kind if self.ref is None else f"{self.kind}:{self.ref}"

    @property
    def slug(self) -> str:
        """The arm in a run id: letters, digits and dashes."""
        return re.sub(r"[^A-Za-z0-9]+", "-", self.name).strip("-")


def parse_arm(text: str) -> Arm:
    """``none``, ``scaffold:ID[@VERSION]``, ``strategy:ID[@VERSION]`` or ``critique:TRACE_ID``."""
    kind, colon, ref = text.strip().partition(":")
    if kind == "none" and not colon:
        return Arm("none")
    if kind not in ARM_KINDS[1:] or not ref.strip():
        raise ExperimentError(f"--arm {text!r}: an arm is {ARM_FORMS}")
    ref = ref.strip()
    if kind != "critique" and "@" in ref and not ref.partition("@")[2].isdigit():
        raise ExperimentError(f"--arm {text!r}: a version is a whole number, as in {kind}:{ref.partition('@')[0]}@3")
    return Arm(kind, ref)  # type: ignore[arg-type]


class Experiment(BaseModel):
    """What an experiment runs. Its arms are stored as resolved (``scaffold:ID@VERSION``), so that resuming it later
    runs the versions it started with even after a newer one is approved. The first arm is the baseline."""

    model_config = ConfigDict(extra="forbid")

    id: str
    task_paths: list[str] = Field(min_length=1)
    student: str = Field(description="The student model's catalog name.")
    arms: list[str] = Field(min_length=2, description="The first is the baseline every other arm is compared with.")
    repeats: int = Field(1, ge=1)
    seed: int = 0
    limit: int | None = Field(None, ge=1, description="Only the first N tasks of each file.")
    runner: Literal["plan", "rlm"] = "plan"
    temperature: float = 0.2
    timeout: float = Field(120.0, gt=0, description="Seconds per model call.")
    created_by: str = ""
    created_at: datetime | None = None

    @property
    def baseline(self) -> str:
        return self.arms[0]

    def same_design(self, other: Experiment) -> bool:
        """Whether ``other`` runs what this one runs (the task limit aside: a larger one goes on with it)."""
        keys = {"task_paths", "student", "arms", "repeats", "seed", "runner", "temperature"}
        return self.model_dump(include=keys) == other.model_dump(include=keys)
