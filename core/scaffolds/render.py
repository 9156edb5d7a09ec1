"""Scaffolds as text, JSON, YAML, a prompt block for a student model, and a graphviz tree.

Only approved versions are exported: ``export`` refuses anything else, so
neither the CLI nor the app can hand an unreviewed scaffold to an agent.
"""

from __future__ import annotations

import json
import textwrap

import yaml

from core.dot import dot_string
from core.scaffolds.models import Scaffold, ScaffoldError, ScaffoldVersion

EXPORT_FORMAT = "trellis-scaffold"
EXPORT_FORMATS = ("json", "yaml", "prompt")


def to_text(scaffold: Scaffold) -> str:
    """The scaffold as an indented outline, for reading and for line-by-line comparison."""
    lines = [scaffold.title, f"{scaffold.kind} · task class: {scaffold.task_class or '—'}"]
    if scaffold.applicability:
        lines.append(f"Applies to: {scaffold.applicability}")
    if scaffold.root_task:
        lines.append(f"Root task: {scaffold.root_task}")
    lines.append("")
    sources = len(scaffold.provenance.source_traces)
    for number, sub in scaffold.outline():
        indent = "   " * number.count(".")
        lines.append(f"{indent}{number}. {sub.instruction}")
        if sub.optional or sub.seen_in is not None:
            seen = f"seen in {sub.seen_in} of {sources} traces" if sub.seen_in is not None else ""
            lines.append(f"{indent}   {' · '.join(p for p in ('optional' if sub.optional else '', seen) if p)}")
        if sub.context:
            lines.append(f"{indent}   context: {sub.context}")
        if sub.output_shape:
            lines.append(f"{indent}   returns: {sub.output_shape}")
        for anchor in scaffold.anchors_for(sub.id):
            lines.append(f"{indent}   example result: {anchor.result}")
    lines += ["", f"Aggregation: {scaffold.aggregation or '—'}"]
    origin = scaffold.provenance
    if origin.source_traces:
        models = f" · teacher model {', '.join(origin.teacher_models)}" if origin.teacher_models else ""
        lines.append(f"Drawn from ({origin.method}): {', '.join(origin.source_traces)}{models}")
    return "\n".join(lines)


def to_prompt(version: ScaffoldVersion, task: str | None = None) -> str:
    """A block to put in a student model's prompt: the structure to follow, the worked examples, the aggregation."""
    scaffold = version.content
    sources = len(scaffold.provenance.source_traces)
    lines = [
        f"=== SCAFFOLD {version.scaffold_id} v{version.version}: {scaffold.title} ===",
        f"A reviewed decomposition for tasks of class {scaffold.task_class or '(any)'}.",
    ]
    if scaffold.applicability:
        lines.append(f"Use it for: {scaffold.applicability}")
    if task:
        lines += ["", "Your task:", task.strip()]
    elif scaffold.root_task:
        lines.append(f"The task it was drawn from: {scaffold.root_task}")
    lines += [
        "",
        "Split the task into these sub-problems, in this order. Solve each in its own call, handing it only",
        "the context named, and return the shape asked for. Deeper steps are yours to choose.",
    ]
    for number, sub in scaffold.outline():
        indent = "   " * number.count(".")
        optional = "(optional: only if the task needs it) " if sub.optional else ""
        seen = f" [used in {sub.seen_in} of {sources} earlier runs]" if sub.seen_in is not None and sources > 1 else ""
        lines.append(f"{indent}{number}. {optional}{sub.instruction}{seen}")
        if sub.context:
            lines.append(f"{indent}   Context to hand over: {sub.context}")
        if sub.output_shape:
            lines.append(f"{indent}   Return: {sub.output_shape}")
        for anchor in scaffold.anchors_for(sub.id):
            lines.append(f"{indent}   Worked example from an earlier run: {anchor.result}")
    if scaffold.aggregation:
        lines += ["", f"Then combine the results: {scaffold.aggregation}"]
    lines.append(f"=== END SCAFFOLD {version.scaffold_id} v{version.version} ===")
    return "\n".join(lines)


def export_document(version: ScaffoldVersion) -> dict:
    return {
        "format": EXPORT_FORMAT,
        "version": 1,
        "scaffold_id": version.scaffold_id,
        "scaffold_version": version.version,
        "status": str(version.status),
        "approved_by": version.reviewer,
        "approval_comment": version.review_comment,
        "scaffold": version.content.model_dump(mode="json"),
    }


def export(version: ScaffoldVersion, format: str = "json") -> str:
    """An approved version as JSON, YAML or a prompt block; anything unapproved is refused."""
    if not version.reusable:
        raise ScaffoldError(f"{version.label} is {version.status}; only approved versions are exported")
    if format == "json":
        return json.dumps(export_document(version), indent=2, ensure_ascii=False)
    if format == "yaml":
        return yaml.safe_dump(export_document(version), sort_keys=False, allow_unicode=True, width=100)
    if format == "prompt":
        return to_prompt(version)
    raise ScaffoldError(f"unknown export format {format!r}; choose one of {', '.join(EXPORT_FORMATS)}")


def read_export(text: str) -> tuple[dict, Scaffold]:
    """An exported scaffold (JSON or YAML) back as (its metadata, the scaffold)."""
    try:
        document = yaml.safe_load(text)  # YAML reads JSON too
    except yaml.YAMLError as exc:
        raise ScaffoldError(f"not JSON or YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise ScaffoldError(f'not an exported scaffold (expected "format": "{EXPORT_FORMAT}")')
    try:
        scaffold = Scaffold.model_validate(document.get("scaffold"))
    except ValueError as exc:
        raise ScaffoldError(f"the exported scaffold is not valid: {str(exc).splitlines()[0]}") from None
    return {k: v for k, v in document.items() if k != "scaffold"}, scaffold


def to_dot(scaffold: Scaffold) -> str:
    """A graphviz tree: the task, its sub-problems (optional ones dashed), and the aggregation.

    Two columns, the combining step under the task, so that at 14 px the picture fits a 1024 px window's page
    (about 560 px) without being scaled down below readable text."""
    def label(text: str, width: int = 26, lines: int = 3) -> str:
        wrapped = textwrap.wrap(text, width, break_long_words=True, max_lines=lines, placeholder="…") or [""]
        # \n between escaped lines is graphviz's centred line break.
        return '"' + "\\n".join(dot_string(line)[1:-1] for line in wrapped) + '"'

    out = [
        "digraph scaffold {",
        '  graph [rankdir=LR, nodesep=0.2, ranksep=0.4];',
        '  node [shape=box, style="rounded,filled", fillcolor="#d5f0d5", fontname="Helvetica", fontsize=14];',
        f'  task [label={label(scaffold.root_task or scaffold.title, 26, 4)}, fillcolor="#cfe0fc"];',
    ]
    names = {sub.id: f"sub{i}" for i, sub in enumerate(scaffold.subproblems)}
    for number, sub in scaffold.outline():
        style = ', style="rounded,dashed,filled", fillcolor="#f4f4f4"' if sub.optional else ""
        out.append(f"  {names[sub.id]} [label={label(f'{number}. {sub.instruction}')}{style}];")
        out.append(f"  {names[sub.parent_id] if sub.parent_id else 'task'} -> {names[sub.id]};")
    if scaffold.aggregation:
        out.append(f'  aggregate [label={label("combine: " + scaffold.aggregation, 26, 4)}, shape=box, '
                   'fillcolor="#ead7f7"];')
        out.append("  { rank=same; task; aggregate; }")
        out.append("  task -> aggregate [style=invis];")  # keeps the combining step under the task
        out += [f"  {names[sub.id]} -> aggregate [style=dotted, constraint=false];" for sub in scaffold.first_level()]
    out.append("}")
    return "\n".join(out)


def searchable_text(scaffold: Scaffold) -> str:
    """The words retrieval matches a new task against."""
    parts = [scaffold.title, scaffold.task_class or "", scaffold.applicability, scaffold.root_task, scaffold.aggregation]
    parts += [f"{s.instruction} {s.output_shape}" for s in scaffold.subproblems]
    return "\n".join(p for p in parts if p)
