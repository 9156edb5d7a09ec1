"""A small trace library for the explorer's tests: the sample traces when they exist, plus the hostile trace.

Until sample_traces/ holds files, a teacher and a student trace of one task
stand in for them, so the pages always have a pair to compare.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from core import Store, import_files

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_traces"
HOSTILE = ROOT / "tests" / "data" / "hostile_trace.json"

SECTIONS = ["Definitions", "Fees and Payment", "Termination", "Liability", "Data Protection"]


def sample_files() -> list[Path]:
    return sorted(p for p in SAMPLES.glob("*.json*") if p.is_file()) if SAMPLES.is_dir() else []


def build_library(db: Path, workdir: Path) -> list[str]:
    """Import the library into a new database file; returns the trace ids."""
    files = sample_files() or write_stand_in_traces(workdir)
    with Store(db) as store:
        traces = import_files(store, [*files, HOSTILE])
    return [t.trace.id for t in traces]


def write_stand_in_traces(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for trace, nodes in (teacher_trace(), student_trace()):
        path = folder / f"{trace['id']}.json"
        path.write_text(json.dumps({"format": "trellis", "version": 1, "trace": trace, "nodes": nodes}))
        paths.append(path)
    return paths


def _timed(nodes: list[dict]) -> list[dict]:
    start = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
    for i, node in enumerate(nodes):
        node["start_time"] = (start + timedelta(seconds=i)).isoformat()
        node["end_time"] = (start + timedelta(seconds=i + 2)).isoformat()
    return nodes


def teacher_trace() -> tuple[dict, list[dict]]:
    trace = {"id": "msa-teacher", "title": "Services agreement review (teacher)", "role": "teacher",
             "task_class": "legal-contract-review", "agent": "llama-3.1-70b-instruct", "model_size": "70B",
             "task": "Assess the risk in a master services agreement."}
    nodes = [{"id": "root", "kind": "decompose", "subproblem": "Assess the risk in the master services agreement",
              "model": "llama-3.1-70b-instruct", "tokens_in": 1200, "tokens_out": 300, "cost": 0.004}]
    for i, section in enumerate(SECTIONS):
        sid = f"s{i}"
        nodes.append({"id": sid, "parent_id": "root", "order": i, "kind": "recurse",
                      "subproblem": f"Review the {section} section for risk", "context": f"Full text of {section}.",
                      "context_chars": 4000, "model": "llama-3.1-70b-instruct", "tokens_in": 900, "tokens_out": 200,
                      "cost": 0.002, "output": f"{section}: moderate risk."})
        for j, aspect in enumerate(["obligations", "deadlines"]):
            nodes.append({"id": f"{sid}-{aspect}", "parent_id": sid, "order": j, "kind": "leaf",
                          "subproblem": f"List the {aspect} in the {section} section",
                          "model": "llama-3.1-70b-instruct", "tokens_in": 400, "tokens_out": 90, "cost": 0.001,
                          "output": f"The {aspect} of {section}."})
    nodes.append({"id": "combine", "parent_id": "root", "order": len(SECTIONS), "kind": "aggregate",
                  "subproblem": "Combine the section findings into one risk summary",
                  "aggregation": "rank findings by severity, keep every high one", "tokens_in": 800,
                  "tokens_out": 250, "cost": 0.002})
    return trace, _timed(nodes)


def student_trace() -> tuple[dict, list[dict]]:
    trace = {"id": "msa-student", "title": "Services agreement review (student)", "role": "student",
             "task_class": "legal-contract-review", "agent": "llama-3.1-8b-instruct", "model_size": "8B",
             "task": "Assess the risk in a master services agreement."}
    nodes = [{"id": "root", "kind": "decompose", "subproblem": "Assess the risk in the master services agreement",
              "model": "llama-3.1-8b-instruct", "tokens_in": 1500, "tokens_out": 200, "cost": 0.0005}]
    for i, section in enumerate(SECTIONS[:3]):
        nodes.append({"id": f"part{i}", "parent_id": "root", "order": i, "kind": "leaf",
                      "subproblem": f"Review the {section} section for risk", "model": "llama-3.1-8b-instruct",
                      "tokens_in": 2500, "tokens_out": 150, "cost": 0.0003,
                      **({"status": "error", "error": "context window exceeded"} if i == 2 else {})})
    nodes.append({"id": "guess", "parent_id": "root", "order": 3, "kind": "leaf",
                  "subproblem": "Guess the overall contract value", "tokens_in": 300, "tokens_out": 40})
    nodes.append({"id": "merge", "parent_id": "root", "order": 4, "kind": "aggregate",
                  "subproblem": "Combine the section findings into one risk summary", "aggregation": "concatenate",
                  "tokens_in": 600, "tokens_out": 120})
    return trace, _timed(nodes)


def open_page(page: str, **query):
    """Run the app at a page with AppTest, the way a link with ?query opens it."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update(query)
    if page != "home":
        at.switch_page(f"pages/{page}.py")
    return at.run()
