"""The `plan` runner: Trellis's own decompose, recurse and aggregate executor, for students too weak to write code.

With a scaffold, its first level is the plan. The student first adapts it to its task (keeps, skips,
splits or adds steps: see ``core.runs.adapt``); then each step is one call that gets the step's
instruction and the slice of the context the step says to carry, and the aggregation rule combines
the results.
Without one, the student answers directly when the context fits its window, and otherwise processes
the context piece by piece and combines its notes ("independent processing").

A scaffolded run falls back to independent processing when the adapted plan cannot be read or keeps
under half of the scaffold's steps in order, when a step fails or returns nothing usable, when too few
of the scaffold's steps could be carried out, or when the budget cannot pay for the plan; the trace records that it fell back,
where and why. Every call is a node of the run's trace.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pydantic import BaseModel

from core.errors import ModelUnanswered, TrellisError
from core.models import Node, NodeKind, Role, Status, Trace
from core.runs.adapt import (
    OPENING_CHARS,
    AdaptedPlan,
    Step,
    UnreadablePlan,
    adapt_prompt,
    adaptation,
    kept_in_order,
    read_plan,
)
from core.runs.context import WINDOW_CHARS, pieces, relevant_slice
from core.runs.models import RunResult
from core.scaffolds.models import Scaffold
from core.tasks.models import Budget
from core.text import shorten

# A scaffolded run that carried out less than this share of the scaffold's steps did not follow it.
MIN_ADHERENCE = 0.5
ANSWER_CHARS = 4_000  # most characters of one step's result carried into the aggregation
UNUSABLE = {"", "n/a", "none", "null", "unknown", "i don't know", "i do not know"}
# A short answer saying its slice of the text does not hold what the step asked for: the step found nothing.
NOT_IN_TEXT = re.compile(
    r"\b(does not|doesn't|do not|did not) (contain|mention|provide|specify|include|state)|\bno (information|mention)\b"
    r"|\bnot (mentioned|provided|specified|found|stated|included)\b", re.IGNORECASE)

# A scaffold step's output shape, as extraction writes it: "short prose, ~14 words". A result with under a
# SHORTFALL-th of those words (and under 2) did not carry the step out.
EXPECTED_WORDS = re.compile(r"~\s*(\d+)\s*words")
SHORTFALL = 5

# ask(messages, max_tokens, schema) -> (answer text, tokens in, tokens out, cost); the schema, when given, is the
# JSON the answer should be; raises TrellisError when the model fails.
Ask = Callable[[list[dict[str, str]], int, type[BaseModel] | None], tuple[str, int, int, float]]


class BudgetExceeded(TrellisError):
    """The run reached its budget of calls, tokens or seconds."""


@dataclass
class _Run:
    ask: Ask
    model: str
    budget: Budget
    started: float = field(default_factory=time.monotonic)
    nodes: list[Node] = field(default_factory=list)
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    adaptation: dict | None = None  # what the student did to the scaffold's plan (see core.runs.adapt)
    advice: str | None = None

    def node(self, node_id: str, parent_id: str | None, kind: NodeKind, subproblem: str, **fields) -> Node:
        siblings = sum(1 for n in self.nodes if n.parent_id == parent_id)
        made = Node(id=node_id, parent_id=parent_id, order=siblings, kind=kind, subproblem=shorten(subproblem, 2000),
                    **fields)
        self.nodes.append(made)
        return made

    def call(self, node_id: str, parent_id: str, kind: NodeKind, subproblem: str, prompt: str, context: str,
             max_tokens: int = 400, schema: type[BaseModel] | None = None, metadata: dict | None = None) -> str:
        """One model call, as one node (with ``metadata``); a failed call is an error node and raises."""
        if self.calls >= self.budget.max_calls:
            raise BudgetExceeded(f"the budget of {self.budget.max_calls} calls is spent")
        if self.tokens_in + self.tokens_out >= self.budget.max_tokens:
            raise BudgetExceeded(f"the budget of {self.budget.max_tokens:,} tokens is spent")
        if time.monotonic() - self.started >= self.budget.max_seconds:
            raise BudgetExceeded(f"the budget of {self.budget.max_seconds:g} s is spent")
        messages = [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}]
        start = datetime.now(timezone.utc)
        self.calls += 1
        try:
            answer, tokens_in, tokens_out, cost = self.ask(messages, max_tokens, schema)
        except TrellisError as exc:
            # A call that got no answer (core.errors.ModelUnanswered) is marked: capability gaps do not count it.
            marks = {**(metadata or {}), **({"unanswered": True} if isinstance(exc, ModelUnanswered) else {})}
            self.node(node_id, parent_id, kind, subproblem, context=context, model=self.model, start_time=start,
                      end_time=datetime.now(timezone.utc), status=Status.ERROR, error=str(exc), metadata=marks)
            raise
        self.tokens_in, self.tokens_out, self.cost = self.tokens_in + tokens_in, self.tokens_out + tokens_out, self.cost + cost
        self.node(node_id, parent_id, kind, subproblem, context=context, context_chars=len(context), output=answer,
                  model=self.model, tokens_in=tokens_in, tokens_out=tokens_out, cost=cost or None, start_time=start,
                  end_time=datetime.now(timezone.utc), metadata=metadata or {})
        return answer


_SYSTEM = "You are a careful analyst. Answer briefly and only from the text you are given."


def run_plan(
    *, trace_id: str, instruction: str, context: str, task_class: str | None, model: str, ask: Ask, budget: Budget,
    scaffold: Scaffold | None = None, window: int = WINDOW_CHARS, advice: str | None = None,
) -> RunResult:
    """Run one task with the `plan` runner; the result's trace is ready for ``Store.add_traces``. ``advice``, the
    reviewed points of a critique of an earlier run, is given with the task in every independent call."""
    run = _Run(ask=ask, model=model, budget=budget, advice=advice)
    root = run.node("root", None, NodeKind.DECOMPOSE, instruction, context=shorten(context, 2000),
                    context_chars=len(context))
    answer, fallback, adherence, failed, fallback_node = "", None, None, None, None
    try:
        if scaffold is not None and scaffold.first_level():
            answer, fallback, adherence = _scaffolded(run, instruction, context, scaffold, window)
        else:
            answer = _independent(run, root.id, instruction, context, window)
    except BudgetExceeded as exc:
        failed = f"stopped: {exc}"
    except TrellisError as exc:
        failed = f"the student failed: {exc}"
    if fallback is not None and failed is None:
        fallback_node = "fallback"
        try:
            run.node(fallback_node, root.id, NodeKind.DECOMPOSE, f"Fell back to independent processing: {fallback}",
                     metadata={"fallback": True, "reason": fallback})
            answer = _independent(run, fallback_node, instruction, context, window)
        except BudgetExceeded as exc:
            failed = f"fell back ({fallback}), then stopped: {exc}"
        except TrellisError as exc:
            failed = f"fell back ({fallback}), then the student failed: {exc}"
    root.output = answer or None
    if failed:
        root.status, root.error = Status.ERROR, failed
    seconds = time.monotonic() - run.started
    trace = Trace(
        id=trace_id, title=shorten(instruction, 120), task=instruction, task_class=task_class, role=Role.STUDENT,
        agent=model, created_at=datetime.now(timezone.utc),
        metadata={"runner": "plan", "scaffolded": scaffold is not None, "fell_back": fallback is not None,
                  "fallback_reason": fallback, "adherence": adherence, "adaptation": run.adaptation},
    )
    return RunResult(trace, run.nodes, answer, fallback is not None, fallback, fallback_node, adherence, failed,
                      run.calls, run.tokens_in, run.tokens_out, run.cost, seconds)


def _scaffolded(run: _Run, instruction: str, context: str, scaffold: Scaffold, window: int) -> tuple[str, str | None, float]:
    """The scaffold's first level as the plan, adapted by the student. Returns (answer, why it fell back or None,
    adherence)."""
    plan = scaffold.first_level()
    room = run.budget.max_calls - run.calls
    if len(plan) + 2 > room:  # adapting, the steps, the aggregation: a plan the budget cannot pay for is not started
        return "", f"the scaffold needs {len(plan) + 2} calls; the task's budget leaves {room}", 0.0
    try:
        answer = run.call("adapt", "root", NodeKind.DECOMPOSE, "Adapt the scaffold's plan to this task",
                          adapt_prompt(instruction, context, plan), shorten(context, OPENING_CHARS), max_tokens=400,
                          schema=AdaptedPlan)
        steps = read_plan(answer, plan)
    except BudgetExceeded:
        raise
    except UnreadablePlan as exc:
        return "", f"the student's adapted plan could not be read ({exc})", 0.0
    except TrellisError as exc:
        return "", f"adapting the plan failed: {exc}", 0.0
    run.adaptation = adaptation(steps, plan)
    run.nodes[-1].metadata = {"adaptation": run.adaptation}
    kept = kept_in_order([s.number for s in steps])
    planned = kept / len(plan)
    if planned < MIN_ADHERENCE:
        return "", (f"the student's adapted plan keeps {kept} of {len(plan)} scaffold steps in order "
                    f"(under {MIN_ADHERENCE:.0%})"), planned
    room = run.budget.max_calls - run.calls
    if len(steps) + 1 > room:
        return "", f"the adapted plan needs {len(steps) + 1} calls; the task's budget leaves {room}", planned
    results: list[tuple[Step, str]] = []
    for position, step in enumerate(steps, start=1):
        parent = "root"
        if step.part is not None:
            parent = f"step-{step.number}"
            if step.part == 1:
                run.node(parent, "root", NodeKind.DECOMPOSE, step.source.instruction,
                         metadata={"scaffold_step": step.source.id, "split": True})
        hint = step.source.context if step.source else ""
        carried = relevant_slice(context, f"{instruction} {step.instruction} {hint}", window)
        prompt = (f"Overall task: {instruction}\n\nYour step ({position} of {len(steps)}): {step.instruction}\n"
                  + (f"Return: {step.source.output_shape}\n" if step.source and step.source.output_shape else "")
                  + f"\nText:\n{carried}")
        where = f"step {position} ({shorten(step.instruction, 60)})"
        # What a capability-gap report counts per scaffold step (core.experiments.gaps): the step, and its problem.
        marks = {"scaffold_step": step.source.id} if step.source else {"added": True}
        try:
            result = run.call(step.node_id, parent, NodeKind.RECURSE, step.instruction, prompt, carried,
                              metadata=marks)
        except BudgetExceeded:
            raise
        except TrellisError as exc:
            return "", f"{where} failed: {exc}", _adherence(results, plan)
        problem = _problem(result, step)
        if problem:
            run.nodes[-1].metadata = {**marks, "problem": problem}
            if step.source is None or step.source.optional or _another_part_answers(step, steps):
                continue
            return "", f"{where} {problem}", _adherence(results, plan)
        results.append((step, result))
    carried = kept_in_order([step.number for step, _ in results])
    adherence = carried / len(plan)
    if adherence < MIN_ADHERENCE:
        return "", f"only {carried} of {len(plan)} scaffold steps could be carried out", adherence
    each = min(ANSWER_CHARS, window // len(results))  # the step results together fit one call's window
    notes = "\n\n".join(f"Step: {s.instruction}\nResult: {shorten(r, each)}" for s, r in results)
    rule = scaffold.aggregation or "Combine the step results into one answer."
    prompt = f"Task: {instruction}\n\nHow to combine: {rule}\n\n{notes}\n\nGive the final answer only."
    answer = run.call("aggregate", "root", NodeKind.AGGREGATE, rule, prompt, notes)
    return answer, None, adherence


def _adherence(results: list[tuple[Step, str]], plan: list) -> float:
    """The share of the scaffold's steps carried out with a usable result, in the scaffold's order."""
    return kept_in_order([step.number for step, _ in results]) / len(plan)


def _another_part_answers(step: Step, steps: list[Step]) -> bool:
    """Whether a split scaffold step still has a part to come (or one done): one empty part does not sink it."""
    return step.part is not None and any(s.number == step.number for s in steps if s is not step)


def _independent(run: _Run, parent_id: str, instruction: str, context: str, window: int) -> str:
    """Answer directly when the context fits the window; else take notes piece by piece, then combine them."""
    if run.advice:
        instruction = f"{instruction}\n\nAdvice from a reviewed critique of an earlier attempt:\n{run.advice}"
    if len(context) <= window:
        prompt = f"Task: {instruction}\n\nText:\n{context}\n\nGive the answer only."
        return run.call(f"{parent_id}-answer", parent_id, NodeKind.LEAF, instruction, prompt, context)
    notes = []
    parts = pieces(context, window)
    for number, part in enumerate(parts, start=1):
        prompt = (f"Task: {instruction}\n\nThis is part {number} of {len(parts)} of the text. Note only what in it "
                  f"matters for the task, or say none.\n\nText:\n{part}")
        note = run.call(f"{parent_id}-part-{number}", parent_id, NodeKind.LEAF, f"Read part {number} of {len(parts)}",
                        prompt, part, max_tokens=200)
        if not _unusable(note):
            notes.append(f"Part {number}: {shorten(note, ANSWER_CHARS // len(parts) + 200)}")
    joined = "\n".join(notes) or "No part of the text had anything for the task."
    prompt = f"Task: {instruction}\n\nNotes taken from the text, part by part:\n{joined}\n\nGive the final answer only."
    return run.call(f"{parent_id}-combine", parent_id, NodeKind.AGGREGATE, "Combine the notes", prompt, joined)


def _problem(result: str, step: Step) -> str | None:
    """Why a step's result cannot be used, or None: nothing in it, or far less than the shape its scaffold step
    asks for ("prose, ~60 words"), which is a step not carried out. The parts of a split step may be short."""
    if _unusable(result):
        return "returned nothing usable"
    shape = EXPECTED_WORDS.search(step.source.output_shape) if step.source and step.part is None else None
    if shape:
        wanted, got = int(shape.group(1)), len(result.split())
        if got < max(2, wanted // SHORTFALL):
            return f"returned {got} word{'' if got == 1 else 's'} where the step asks for ~{wanted}"
    return None


def _unusable(answer: str) -> bool:
    text = answer.strip()
    return text.strip(".").lower() in UNUSABLE or (len(text) < 300 and NOT_IN_TEXT.search(text) is not None)
