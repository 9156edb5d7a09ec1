"""Critique: findings a teacher proposes, and annotations a person reviews."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.errors import TrellisError


class Category(StrEnum):
    MISSING_SUBPROBLEM = "missing_subproblem"
    REDUNDANT_SUBPROBLEM = "redundant_subproblem"
    TOO_SHALLOW = "too_shallow"
    TOO_DEEP = "too_deep"
    AGGREGATION_LOSS = "aggregation_loss"
    CONTEXT_LOSS = "context_loss"
    WRONG_DECOMPOSITION = "wrong_decomposition"
    FAILED_STEP = "failed_step"
    OTHER = "other"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2}


class ReviewStatus(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    EDITED = "edited"
    REJECTED = "rejected"


class Finding(BaseModel):
    """One point of critique, as a teacher states it (the teacher's JSON output schema)."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    node_id: str | None = Field(None, description="The student node it is about; null for the whole trace.")
    category: Category
    severity: Severity
    rationale: str = Field(min_length=1, max_length=4000, description="Why, in terms a person can check.")
    suggested_fix: str | None = Field(None, max_length=4000)
    suggested_subproblems: list[str] = Field(
        default_factory=list, max_length=20, description="A suggested sub-decomposition, one sub-problem each."
    )


class TeacherOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    findings: list[Finding] = Field(max_length=200)


class Annotation(Finding):
    """A stored finding under review."""

    id: str
    trace_id: str
    run_id: str | None
    author: str
    status: ReviewStatus = ReviewStatus.PROPOSED
    reviewer: str | None = None
    reviewed_at: datetime | None = None
    created_at: datetime


class AnnotationEvent(BaseModel):
    annotation_id: str
    happened_at: datetime
    actor: str
    action: str  # proposed | accepted | edited | rejected
    changes: dict[str, Any] = Field(default_factory=dict)


class CritiqueRun(BaseModel):
    id: str
    trace_id: str
    reference_id: str | None
    teacher: str
    settings: dict[str, Any] = Field(default_factory=dict)
    started_at: datetime
    duration_s: float
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost: float | None = None
    finding_count: int


class CritiqueError(TrellisError):
    """The teacher could not be reached, or its answer could not be used."""
