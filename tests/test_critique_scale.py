"""The structural critic and the offline teacher on traces far larger than their reference.

Large results are grouped by subtree, never a failure and never thousands of notes.
How fast this runs is measured in bench/bench_critique.py, not here.
"""

import json
import re
import sys

import litellm
import pytest
from pydantic import ValidationError

from core import import_files
from core.critique.models import TeacherOutput
from core.critique.structural import critique
from core.critique.teacher import PROMPT_NODE_LIMIT, CritiqueError, build_messages, run_critique
from core.models import LoadedTrace, Node, Trace
from core.traceview import TraceView
from tests.conftest import ROOT, SAMPLES, trellis_json

sys.path.insert(0, str(ROOT / "bench"))
from generate import write_jsonl  # noqa: E402

TEACHER = "legal-msa-teacher-70b"  # 37 nodes
MOST_FINDINGS = 12 * 8 + 1  # twelve grouped checks of at most eight, and one wrong-decomposition finding


@pytest.fixture
def big_student(store, tmp_path):
    """A generated 10,000-node student beside the 37-node sample teacher: 7,689 findings before grouping."""
    path = tmp_path / "big.jsonl"
    write_jsonl(path, 10_000, trace_id="big")
    import_files(store, [path, SAMPLES / f"{TEACHER}.json"])
    return store.load_trace("big"), store.load_trace(TEACHER)


def grouped(findings):
    """(finding, count, example node ids) for each grouped finding."""
    found = []
    for f in findings:
        match = re.match(r"([\d,]+) findings in the subtree of .* e\.g\. at nodes ([^.]+)\. ", f.rationale)
        if match:
            found.append((f, int(match.group(1).replace(",", "")), match.group(2).split(", ")))
    return found


def test_a_10k_student_against_the_37_node_teacher_gets_a_handful_of_grouped_findings(big_student):
    student, teacher = big_student
    findings = critique(student, teacher)
    TeacherOutput(findings=findings)  # what the offline teacher answers must pass the model-output check
    assert len(findings) <= MOST_FINDINGS
    groups = grouped(findings)
    assert sum(count for _, count, _ in groups) > 5_000, "the thousands of findings are counted, not dropped"
    assert {f.category for f, _, _ in groups} >= {"redundant_subproblem", "too_shallow", "aggregation_loss"}
    view = TraceView.build(student)
    for f, count, examples in groups:
        assert count > 1 and 1 <= len(examples) <= 5
        assert set(examples) <= set(view.subtree(f.node_id)), "examples lie in the subtree the finding names"
    assert any(f.category == "missing_subproblem" for f in findings)


def test_the_offline_teacher_stores_grouped_findings_for_a_10k_student(store, big_student):
    result = run_critique(store, "big", TEACHER)
    assert not result.warnings
    assert 0 < len(result.annotations) <= MOST_FINDINGS
    assert result.run.finding_count == len(result.annotations)


def test_the_prompt_for_a_10k_student_is_bounded_and_keeps_the_nodes_findings_name(big_student):
    student, teacher = big_student
    findings = critique(student, teacher)
    [prompt] = [m["content"] for m in build_messages(student, teacher, findings, {}) if m["role"] == "user"]
    body = prompt.split("<student_trace>\n", 1)[1].split("\n</student_trace>", 1)[0]
    lines = [json.loads(line) for line in body.splitlines()]
    assert len(lines) == PROMPT_NODE_LIMIT + 1 and lines[-1] == {"omitted_nodes": 10_000 - PROMPT_NODE_LIMIT}
    assert {f.node_id for f in findings} <= {line.get("id") for line in lines}


def test_a_100k_deep_chain_gets_one_grouped_finding_per_flaw(store):
    import_files(store, [SAMPLES / f"{TEACHER}.json"])
    nodes = [Node(id=f"n{i}", parent_id=f"n{i - 1}" if i else None, kind="recurse",
                  subproblem="Summarise the rest of the log") for i in range(100_000)]
    chain = LoadedTrace(Trace(id="chain"), nodes)
    findings = critique(chain, store.load_trace(TEACHER))
    TeacherOutput(findings=findings)
    assert len(findings) <= MOST_FINDINGS
    counts = {(f.category, f.node_id, count) for f, count, _ in grouped(findings)}
    assert ("failed_step", "n0", 100_000) in counts, "every level returned nothing: one finding, at the top"
    assert ("too_deep", "n0", 99_999) in counts, "every level but the last only wraps the next"
    assert not any("repeats the sub-problem" in f.rationale for f in findings), \
        "restating an ancestor's sub-problem is no repeat"
    [prompt] = [m["content"] for m in build_messages(chain, None, findings, {}) if m["role"] == "user"]
    assert prompt.count('"kind": "recurse"') == PROMPT_NODE_LIMIT


def test_a_model_answering_with_thousands_of_findings_is_still_rejected(store, tmp_path):
    path = tmp_path / "small.json"
    path.write_text(trellis_json("small", [{"id": "root", "kind": "leaf", "output": "Done."}]))
    import_files(store, [path])
    flood = json.dumps({"findings": [
        {"node_id": "root", "category": "other", "severity": "low", "rationale": f"note {i}"} for i in range(10_000)
    ]})
    with pytest.raises(ValidationError):
        TeacherOutput.model_validate_json(flood)

    def completion(**kwargs):
        return litellm.completion(**kwargs, mock_response=flood)

    with pytest.raises(CritiqueError, match="at most 200"):
        run_critique(store, "small", completion=completion)
    assert store.list_annotations("small") == [] and store.list_critique_runs("small") == []
