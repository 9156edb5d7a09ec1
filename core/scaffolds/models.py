"""Scaffolds and strategies as values, and the rules of their review.

A scaffold is a partial decomposition of a task class that a person approves
before any agent reuses it. Its sub-problems are stored flat (id, parent_id),
like trace nodes, so no depth of nesting is ever a problem.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.auth import Action, Actor, PermissionDenied
from core.errors import TrellisError


class ScaffoldStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    DEPRECATED = "deprecated"


# Which status a version may move to from the one it has. Approval needs a version
# submitted for review; a rejected or deprecated version is final: the way forward is a new version.
TRANSITIONS: dict[ScaffoldStatus, set[ScaffoldStatus]] = {
    ScaffoldStatus.DRAFT: {ScaffoldStatus.IN_REVIEW, ScaffoldStatus.REJECTED},
    ScaffoldStatus.IN_REVIEW: {ScaffoldStatus.APPROVED, ScaffoldStatus.REJECTED},
    ScaffoldStatus.APPROVED: {ScaffoldStatus.DEPRECATED},
    ScaffoldStatus.REJECTED: set(),
    ScaffoldStatus.DEPRECATED: set(),
}
DECISIONS = {ScaffoldStatus.APPROVED, ScaffoldStatus.REJECTED, ScaffoldStatus.DEPRECATED}


class ScaffoldError(TrellisError):
    """A scaffold action that its rules do not allow (with what to do instead)."""


class ScaffoldConflict(ScaffoldError):
    """A save based on a version that is no longer the latest one."""

    def __init__(self, scaffold_id: str, based_on: int | None, latest: ScaffoldVersion):
        self.scaffold_id = scaffold_id
        self.based_on = based_on
        self.latest = latest
        super().__init__(
            f"scaffold {scaffold_id!r} changed while you edited it: you started from version {based_on}, "
            f"but {latest.author} saved version {latest.version} at {latest.created_at:%H:%M:%S}; "
            "review their change, then re-apply yours on top"
        )


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=True)


class SubProblem(_Value):
    id: str = Field(min_length=1, max_length=60)
    parent_id: str | None = Field(None, description="null for a first-level sub-problem.")
    instruction: str = Field(min_length=1, max_length=2000)
    context: str = Field("", max_length=2000, description="Which context to carry into the call.")
    output_shape: str = Field("", max_length=500, description="What the call should return.")
    optional: bool = False
    seen_in: int | None = Field(None, ge=0, description="For strategies: how many source traces had it.")
    source_node_id: str | None = Field(None, description="The node of the source trace it came from.")


class Anchor(_Value):
    """A worked sub-result from the source trace, shown to the student as an example."""

    subproblem_id: str
    result: str = Field(max_length=2000)
    source: str = Field("", description="trace id / node id it was taken from.")


class Provenance(_Value):
    method: Literal["trace", "strategy", "critique", "manual", "model"] = "manual"  # "model": compress.py
    source_traces: list[str] = Field(default_factory=list)
    teacher_models: list[str] = Field(default_factory=list)
    annotations: list[str] = Field(default_factory=list, description="Accepted annotations a critique draft applied.")


class Scaffold(_Value):
    """The content of one scaffold version. Storage ids and review state live outside it."""

    kind: Literal["scaffold", "strategy"] = "scaffold"
    title: str = Field(min_length=1, max_length=300)
    task_class: str | None = None
    applicability: str = Field("", max_length=2000, description="When to use it, in a sentence or two.")
    root_task: str = Field("", max_length=2000, description="The pattern of task it decomposes.")
    subproblems: list[SubProblem] = Field(default_factory=list)
    anchors: list[Anchor] = Field(default_factory=list)
    aggregation: str = Field("", max_length=2000, description="How to combine the sub-results.")
    provenance: Provenance = Field(default_factory=Provenance)

    @model_validator(mode="after")
    def _one_forest(self) -> Scaffold:
        ids = [s.id for s in self.subproblems]
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"sub-problem id {duplicate!r} is used twice")
        parent = {s.id: s.parent_id for s in self.subproblems}
        for s in self.subproblems:
            if s.parent_id is not None and s.parent_id not in parent:
                raise ValueError(f"sub-problem {s.id!r}: parent {s.parent_id!r} is not a sub-problem")
            seen, current = {s.id}, s.parent_id
            while current is not None:
                if current in seen:
                    raise ValueError(f"sub-problem {s.id!r} is its own ancestor")
                seen.add(current)
                current = parent[current]
        known = set(ids)
        for anchor in self.anchors:
            if anchor.subproblem_id not in known:
                raise ValueError(f"anchor for {anchor.subproblem_id!r}, which is not a sub-problem")
        return self

    def first_level(self) -> list[SubProblem]:
        return [s for s in self.subproblems if s.parent_id is None]

    def outline(self) -> list[tuple[str, SubProblem]]:
        """Sub-problems in reading order, each with its outline number ("2", "2.1")."""
        children: dict[str | None, list[SubProblem]] = {}
        for s in self.subproblems:
            children.setdefault(s.parent_id, []).append(s)
        result: list[tuple[str, SubProblem]] = []
        stack = [(str(i), s) for i, s in reversed(list(enumerate(children.get(None, []), start=1)))]
        while stack:
            number, sub = stack.pop()
            result.append((number, sub))
            below = children.get(sub.id, [])
            stack.extend((f"{number}.{i}", s) for i, s in reversed(list(enumerate(below, start=1))))
        return result

    def anchors_for(self, subproblem_id: str) -> list[Anchor]:
        return [a for a in self.anchors if a.subproblem_id == subproblem_id]


@dataclass(frozen=True)
class ScaffoldVersion:
    """One saved, immutable version of a scaffold, with the review state it is in now."""

    scaffold_id: str
    version: int
    content: Scaffold
    status: ScaffoldStatus
    author: str
    comment: str
    created_at: datetime
    based_on: int | None
    reviewer: str | None = None  # who made the last decision (approve, reject, deprecate)
    review_comment: str | None = None

    @property
    def label(self) -> str:
        return f"{self.scaffold_id} v{self.version}"

    @property
    def reusable(self) -> bool:
        return self.status == ScaffoldStatus.APPROVED


@dataclass(frozen=True)
class ScaffoldEvent:
    scaffold_id: str
    version: int
    status: ScaffoldStatus
    actor: str
    comment: str
    happened_at: datetime


@dataclass(frozen=True)
class ScaffoldSummary:
    """One row of the scaffold list."""

    scaffold_id: str
    title: str
    kind: str
    task_class: str | None
    latest_version: int
    latest_status: ScaffoldStatus
    approved_version: int | None  # the newest approved one: what reuse is offered
    updated_at: datetime
    updated_by: str


def check_transition(version: ScaffoldVersion, target: ScaffoldStatus, actor: Actor) -> None:
    """Raise PermissionDenied or ScaffoldError unless ``actor`` may move ``version`` to ``target``."""
    target = ScaffoldStatus(target)
    actor.require(Action.DECIDE if target in DECISIONS else Action.SUBMIT)
    if target == ScaffoldStatus.APPROVED and version.author == actor.name and not actor.single_user:
        raise PermissionDenied(f"{actor.name} saved {version.label}; another approver has to approve it")
    if target not in TRANSITIONS[ScaffoldStatus(version.status)]:
        allowed = ", ".join(sorted(TRANSITIONS[ScaffoldStatus(version.status)])) or "nothing (save a new version instead)"
        who = f" by {version.reviewer}" if version.reviewer else ""
        raise ScaffoldError(f"{version.label} is {version.status}{who}; it can move to {allowed}, not {target}")


def new_scaffold_id(content: Scaffold) -> str:
    """A readable, unique id: the task class (or title) as a slug, then a short random suffix."""
    slug = re.sub(r"[^a-z0-9]+", "-", (content.task_class or content.title).lower()).strip("-")[:40] or "scaffold"
    return f"{slug}-{uuid.uuid4().hex[:6]}"
