"""The student adapts a scaffold's plan to its own task, and the adapted plan is aligned back to the scaffold.

The student sees the task, the start of its text and the scaffold's first level, and answers with its
plan: each step names the scaffold step it comes from (or 0 for a step it adds). A scaffold step that
appears twice was split; one that does not appear was skipped. How closely the plan follows the
scaffold (its adherence) is the share of scaffold steps it keeps in the scaffold's order.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from pydantic import BaseModel, Field, ValidationError

from core.errors import TrellisError
from core.scaffolds.models import SubProblem
from core.text import json_object_text, shorten

MAX_PLANNED_STEPS = 12  # a small model may loop; more steps than this is not a plan
OPENING_CHARS = 600  # how much of the task's text the student sees while planning


class PlannedStep(BaseModel):
    from_step: int = Field(0, description="The number of the plan step this comes from; 0 for a new step.")
    instruction: str = Field("", max_length=2000)


class AdaptedPlan(BaseModel):
    steps: list[PlannedStep] = Field(max_length=MAX_PLANNED_STEPS)


class UnreadablePlan(TrellisError):
    """The student's answer is not a plan Trellis can follow."""


@dataclass(frozen=True)
class Step:
    """One step of the adapted plan, as it will be carried out."""

    node_id: str
    instruction: str
    source: SubProblem | None  # the scaffold step it comes from; None for a step the student added
    number: int  # that scaffold step's number (from 1); 0 for an added step
    part: int | None = None  # for a split scaffold step: which part (from 1)


def adapt_prompt(instruction: str, context: str, scaffold_steps: list[SubProblem]) -> str:
    plan = "\n".join(f"{number}. {step.instruction}" for number, step in enumerate(scaffold_steps, start=1))
    return (f"Overall task: {instruction}\n\nThe text is {len(context):,} characters long and begins:\n"
            f"{shorten(context, OPENING_CHARS)}\n\nA plan that worked on a similar task:\n{plan}\n\n"
            "Adapt this plan to the task above. Keep the steps that help, in order; leave out steps that do not "
            "apply; you may split a step into smaller ones or add a step. Answer with JSON only: "
            '{"steps": [{"from_step": <the number of the plan step it comes from, or 0 for a new step>, '
            '"instruction": "<what to do in this step>"}]}')


def read_plan(answer: str, scaffold_steps: list[SubProblem]) -> list[Step]:
    """The steps of the student's adapted plan, in its order; raises UnreadablePlan with the reason."""
    try:
        planned = AdaptedPlan.model_validate_json(json_object_text(answer)).steps
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in error["loc"])
        raise UnreadablePlan(f"{where + ': ' if where else ''}{error['msg']}") from None
    parts: dict[int, int] = {}
    for p in planned:
        if 1 <= p.from_step <= len(scaffold_steps):
            parts[p.from_step] = parts.get(p.from_step, 0) + 1
    steps, added, seen = [], 0, dict.fromkeys(parts, 0)
    for p in planned:
        text = " ".join(p.instruction.split())
        if p.from_step in parts:
            source = scaffold_steps[p.from_step - 1]
            text = text or source.instruction
            if parts[p.from_step] == 1:
                steps.append(Step(f"step-{p.from_step}", text, source, p.from_step))
            else:
                seen[p.from_step] += 1
                part = seen[p.from_step]
                steps.append(Step(f"step-{p.from_step}.{part}", text, source, p.from_step, part))
        elif text:  # a step of its own (or naming a plan step that does not exist)
            added += 1
            steps.append(Step(f"added-{added}", text, None, 0))
    if not steps:
        raise UnreadablePlan("the plan has no steps")
    return steps


def kept_in_order(numbers: list[int]) -> int:
    """How many distinct scaffold steps ``numbers`` (scaffold step numbers, 0 for added steps) keeps in the
    scaffold's order: the longest increasing run of them, so a reordered step counts once, not twice."""
    tails: list[int] = []
    for number in dict.fromkeys(n for n in numbers if n > 0):
        at = bisect.bisect_left(tails, number)
        tails[at:at + 1] = [number]
    return len(tails)


def adaptation(steps: list[Step], scaffold_steps: list[SubProblem]) -> dict:
    """What the student did to the scaffold's plan, for the trace and the run: kept, split, skipped, added."""
    numbers = [s.number for s in steps]
    kept = sorted(set(numbers) - {0})
    return {
        "kept": [scaffold_steps[n - 1].id for n in kept],
        "split": [scaffold_steps[n - 1].id for n in kept if numbers.count(n) > 1],
        "skipped": [s.id for n, s in enumerate(scaffold_steps, start=1) if n not in kept],
        "added": numbers.count(0),
        "in_order": kept_in_order(numbers) == len(kept),
    }
