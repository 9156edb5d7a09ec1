"""The second extractor: a model compresses a trace into a scaffold draft, bottom-up (issue 13 §3).

The deterministic extractor (``core.scaffolds.extract``) copies the decomposition; this one asks a model
(the local one by default, any litellm model) to say what each part of it did. No call ever sees the
whole trace: a leaf is summarised without a call (its sub-problem and the start of its output), and
each internal node of a first-level step's subtree gets one call that sees only its own sub-problem
and aggregation and its children's summaries, cut to SLICE_CHARS. A last call, at the decomposition
point, sees the first-level steps' summaries and writes the draft as JSON of ``ModelDraft``.

What a model writes is untrusted: a summary that cannot be read is replaced by the deterministic one,
and a draft that cannot be read is a ScaffoldError. The result is only ever saved as a draft.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from core.models import LoadedTrace, Node
from core.scaffolds.extract import (
    AGGREGATION_CHARS,
    INSTRUCTION_CHARS,
    ROOT_TASK_CHARS,
    _aggregation,
    _Tree,  # the deterministic extractor's reading of steps and first level, so both drafts split a trace alike
    output_shape,
)
from core.scaffolds.models import Provenance, Scaffold, ScaffoldError, SubProblem
from core.text import json_object_text, shorten

if TYPE_CHECKING:  # the type only: `trellis list` need not load the runner
    from core.runs.plan import Ask

# Only the first DEPTH_CAP levels of each first-level step's subtree get a call of their own (the step itself
# is level 0); a node below them is summarised like a leaf. With MAX_NODE_CALLS, shallowest first, this keeps
# a 100,000-node trace at a few dozen calls.
DEPTH_CAP = 2
MAX_NODE_CALLS = 30
SLICE_CHARS = 3_000  # most characters of children's summaries one call sees
CHILD_CHARS = 300  # most characters of one child's summary
OWN_CHARS = 400  # most characters of a node's own sub-problem, and of its aggregation, in its call
LEAF_OUTPUT_CHARS = 160  # how much of a leaf's output its summary keeps
SUMMARY_CHARS = 400  # a model's summary is cut to this
TITLE_CHARS = 120
SUMMARY_TOKENS = 200
DRAFT_TOKENS = 1_200
MAX_STEPS = 16  # a draft's steps beyond this are dropped: a small model may list the same step again and again
# A step whose shape neither the model nor the source node tells gets this: the plan runner reads "~N words".
DEFAULT_OUTPUT_SHAPE = "short prose, ~40 words"

Progress = Callable[[str], None]


def _text(limit: int) -> Any:
    """A string field a longer answer is cut to, not refused for; its schema's maxLength also keeps a local
    server's grammar from writing past it (and past the call's max_tokens, which would leave the JSON open)."""
    return Annotated[str, BeforeValidator(lambda v: shorten(v, limit) if isinstance(v, str) else v),
                     Field(max_length=limit)]


SummaryText = _text(SUMMARY_CHARS)
TitleText = _text(TITLE_CHARS)
StepText = _text(INSTRUCTION_CHARS)
RuleText = _text(AGGREGATION_CHARS)


class NodeSummary(BaseModel):
    """What one call answers: how its node was solved."""

    summary: SummaryText = Field(min_length=1)


class _Lenient(BaseModel):
    """Model JSON: unknown keys ignored, whitespace stripped, a null or a placeholder copied from the prompt's
    example ("...") read as the field's default."""

    model_config = ConfigDict(str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_defaults(cls, data: Any) -> Any:
        return {k: v for k, v in data.items() if not _placeholder(v)} if isinstance(data, dict) else data


def _placeholder(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip(" .…"))


class DraftStep(_Lenient):
    instruction: StepText = Field(min_length=1, description="What the step does, as an instruction a student can follow.")
    context: StepText = Field("", description="Which part of the input to hand the step.")
    output_shape: StepText = Field("", description="What the step returns: its form and about how many words.")

    @model_validator(mode="before")
    @classmethod
    def _a_bare_instruction(cls, data: Any) -> Any:
        return {"instruction": data} if isinstance(data, str) else data  # small models often list plain strings


class ModelDraft(_Lenient):
    """The last call's answer: the scaffold as the model proposes it."""

    title: TitleText = ""
    applicability: SummaryText = Field("", description="When to use it, in a sentence.")
    steps: list[DraftStep] = Field(min_length=1, max_length=MAX_STEPS)
    aggregation: RuleText = Field("", description="How to combine the steps' results.")

    @model_validator(mode="before")
    @classmethod
    def _at_most_max_steps(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("steps"), list):
            data = {**data, "steps": [s for s in data["steps"] if not _placeholder(s)][:MAX_STEPS]}
        return data


@dataclass(frozen=True)
class Compressed:
    """A model's draft of one trace, and what making it took."""

    scaffold: Scaffold
    nodes_compressed: int  # internal nodes that got a call of their own; one more call wrote the draft
    summaries_fell_back: int  # of those, answers that could not be read: the deterministic summary stood in
    calls: int
    tokens_in: int
    tokens_out: int
    cost: float

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out


SUMMARY_SYSTEM = (
    "You compress one step of an AI agent's work into a short summary: what the step did, what it split "
    "into and how it combined the results. Answer with JSON only, like {\"summary\": \"...\"}."
)
DRAFT_SYSTEM = (
    "You turn the record of how an AI agent solved a task into a reusable plan (a scaffold) for similar tasks. "
    "Answer with JSON only."
)
# Placeholders only: a small model copies an example's values into every step.
DRAFT_SHAPE = ('{"title": "...", "applicability": "...", "steps": [{"instruction": "...", "context": "...", '
               '"output_shape": "..."}], "aggregation": "..."}')


def compress_with_model(loaded: LoadedTrace, ask: Ask, *, progress: Progress = lambda line: None) -> Compressed:
    """A scaffold draft of ``loaded`` written by the model behind ``ask`` (see ``core.llm.asker``),
    bottom-up; raises ScaffoldError when its final answer is not a usable draft."""
    tree = _Tree(loaded)
    point = tree.decomposition_point()
    first = tree.first_level()
    usage = {"calls": 0, "tokens_in": 0, "tokens_out": 0, "cost": 0.0}

    def asked(system: str, prompt: str, max_tokens: int, schema: type[BaseModel]) -> str:
        answer, tokens_in, tokens_out, cost = ask(
            [{"role": "system", "content": system}, {"role": "user", "content": prompt}], max_tokens, schema)
        usage["calls"] += 1
        usage["tokens_in"] += tokens_in
        usage["tokens_out"] += tokens_out
        usage["cost"] += cost
        return answer

    chosen = _nodes_to_compress(tree, first)
    summaries: dict[str, str] = {}
    fell_back = 0
    # Breadth-first order lists every node before its children, so its reverse reaches each node after all of
    # its children's summaries are made: bottom-up, with no recursion however deep the trace.
    for number, node_id in enumerate(reversed(chosen), start=1):
        node = tree.by_id[node_id]
        progress(f"compressing {node_id} ({number} of {len(chosen)}): {shorten(_instruction(node), 60)}")
        prompt = _node_prompt(node, _aggregation(tree, node), _slice(tree.steps(node_id), summaries))
        summary = _read_summary(asked(SUMMARY_SYSTEM, prompt, SUMMARY_TOKENS, NodeSummary))
        if summary is None:
            fell_back += 1
            progress(f"  {node_id}: the answer was not a summary; its deterministic summary stands in")
        summaries[node_id] = summary or _leaf_summary(node)

    progress(f"writing the draft from {len(first)} first-level steps")
    task = loaded.trace.task or point.subproblem or loaded.trace.title or loaded.trace.id
    prompt = _draft_prompt(task, _aggregation(tree, point), _slice(first, summaries, numbered=True))
    answer = asked(DRAFT_SYSTEM, prompt, DRAFT_TOKENS, ModelDraft)
    try:
        draft = ModelDraft.model_validate_json(json_object_text(answer))
    except ValidationError as exc:
        raise ScaffoldError(f"the model's draft is unusable: {_first_problem(exc)} "
                            f"(its answer began: {shorten(answer, 80)!r}); nothing was saved") from None
    scaffold = _scaffold(loaded, draft, first, task, _aggregation(tree, point))
    return Compressed(scaffold, len(chosen), fell_back, usage["calls"], usage["tokens_in"], usage["tokens_out"],
                      usage["cost"])


def _nodes_to_compress(tree: _Tree, first: list[Node]) -> list[str]:
    """The internal nodes of the first-level steps' subtrees down to DEPTH_CAP, shallowest first, at most MAX_NODE_CALLS."""
    chosen: list[str] = []
    queue = deque((node.id, 0) for node in first)
    while queue and len(chosen) < MAX_NODE_CALLS:
        node_id, depth = queue.popleft()
        steps = tree.steps(node_id)
        if not steps:
            continue
        chosen.append(node_id)
        if depth + 1 < DEPTH_CAP:
            queue.extend((step.id, depth + 1) for step in steps)
    return chosen


def _instruction(node: Node) -> str:
    return node.subproblem or node.name or f"{node.kind} step"


def _leaf_summary(node: Node) -> str:
    """A node summarised without a call: the start of what it returned (its sub-problem is shown beside it)."""
    output = shorten(node.output, LEAF_OUTPUT_CHARS)
    return f"returned: {output}" if output else f"returned nothing ({node.status})"


def _slice(children: list[Node], summaries: dict[str, str], *, numbered: bool = False) -> str:
    """The children's summaries one call sees, each cut to CHILD_CHARS, all of them to SLICE_CHARS."""
    lines: list[str] = []
    used = 0
    for number, child in enumerate(children, start=1):
        summary = summaries.get(child.id) or _leaf_summary(child)
        bullet = f"{number}." if numbered else "-"
        line = f"{bullet} {shorten(f'{shorten(_instruction(child), OWN_CHARS)} | {summary}', CHILD_CHARS)}"
        if used + len(line) > SLICE_CHARS:
            lines.append(f"… and {len(children) - number + 1} more steps")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


def _node_prompt(node: Node, aggregation: str, children: str) -> str:
    combined = f"\nIt combined their results this way: {shorten(aggregation, OWN_CHARS)}" if aggregation else ""
    return (f"The step: {shorten(_instruction(node), OWN_CHARS)}{combined}\n"
            f"Its sub-steps (what each was asked | what it did):\n{children}\n\n"
            'Summarise how this step was solved in at most 50 words. Answer with JSON only: {"summary": "..."}')


def _draft_prompt(task: str, aggregation: str, steps: str) -> str:
    combined = f"\nThe agent combined their results this way: {shorten(aggregation, OWN_CHARS)}" if aggregation else ""
    return (f"The task: {shorten(task, OWN_CHARS)}\n"
            f"The agent split it into these steps, in order (what each was asked | how it was solved):\n{steps}"
            f"{combined}\n\n"
            "Write a scaffold for tasks like this one: a short title, when it applies, one step for each step above "
            "(an instruction a student model can follow, which part of the input to give it, what it returns), and "
            f"how to combine the results. Answer with JSON only, in this shape:\n{DRAFT_SHAPE}")


def _read_summary(answer: str) -> str | None:
    try:
        return NodeSummary.model_validate_json(json_object_text(answer)).summary.strip() or None
    except ValidationError:
        return None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


def _scaffold(loaded: LoadedTrace, draft: ModelDraft, first: list[Node], task: str, aggregation: str) -> Scaffold:
    """The model's draft as a scaffold; its steps point to the first-level nodes when there are as many of each."""
    trace = loaded.trace
    sources: list[Node | None] = list(first) if len(first) == len(draft.steps) else [None] * len(draft.steps)
    subproblems = [
        SubProblem(
            id=f"s{number}",
            instruction=step.instruction,
            context=step.context,
            output_shape=step.output_shape or (output_shape(node.output) if node else "") or DEFAULT_OUTPUT_SHAPE,
            source_node_id=node.id if node else None,
        )
        for number, (step, node) in enumerate(zip(draft.steps, sources, strict=True), start=1)
    ]
    return Scaffold(
        title=draft.title or f"{trace.task_class or trace.title or trace.id}: {len(subproblems)}-part decomposition",
        task_class=trace.task_class,
        applicability=draft.applicability,
        root_task=shorten(task, ROOT_TASK_CHARS),
        subproblems=subproblems,
        aggregation=draft.aggregation or shorten(aggregation, AGGREGATION_CHARS),
        provenance=Provenance(method="model", source_traces=[trace.id],
                              teacher_models=[trace.agent] if trace.agent else []),
    )
