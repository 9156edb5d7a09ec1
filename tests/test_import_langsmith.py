"""Importing LangSmith runs, as made by the langsmith SDK (offline), and bad input."""

import json
import os
import random
from datetime import UTC, datetime, timedelta

import pytest

os.environ["LANGSMITH_TRACING"] = "false"  # nothing here may reach the network
from langsmith.run_trees import RunTree  # noqa: E402
from langsmith.schemas import Run  # noqa: E402

from core import InputError, import_files, read_file  # noqa: E402
from core.importers import langsmith  # noqa: E402
from core.tree import check_tree  # noqa: E402

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def agent_run() -> RunTree:
    """An agent that asks a model, then hands a sub-task to a sub-agent whose tool fails.

    Children are created out of time order, so only dotted_order / start_time can order them.
    """
    root = RunTree(name="research", run_type="chain", inputs={"question": "Is the MSA risky?"}, start_time=at(0))
    summary = root.create_child(name="summarize", run_type="chain", inputs={"notes": "n", "style": "short"}, start_time=at(500))
    summary.end(outputs={"summary": "Moderately."}, end_time=at(600))
    llm = root.create_child(
        name="ChatOpenAI",
        run_type="llm",
        inputs={"messages": [{"role": "system", "content": "You are a lawyer."}, {"role": "user", "content": "Find clause 9."}]},
        extra={"metadata": {"ls_model_name": "gpt-4o-mini", "ls_provider": "openai"}},
        start_time=at(100),
    )
    llm.end(
        outputs={
            "choices": [{"message": {"role": "assistant", "content": "Clause 9 caps liability."}}],
            "usage_metadata": {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150},
        },
        end_time=at(200),
    )
    sub = root.create_child(name="sub-agent", run_type="chain", inputs={"task": "check indemnity"}, start_time=at(300))
    tool = sub.create_child(name="search", run_type="tool", inputs={"query": "indemnity"}, start_time=at(310), tags=["web"])
    tool.end(error="TimeoutError: search timed out", end_time=at(320))
    retriever = sub.create_child(name="docs", run_type="retriever", inputs={"query": "indemnity"}, start_time=at(330))
    retriever.end(outputs={"documents": [{"page_content": "9.1 ..."}]}, end_time=at(340))
    prompt = sub.create_child(name="prompt", run_type="prompt", inputs={}, start_time=at(350))
    prompt.end(outputs={"output": "Summarize 9.1"}, end_time=at(360))
    sub.end(outputs={"answer": "capped"}, end_time=at(400))
    root.end(outputs={"answer": "Moderately.", "confidence": 0.7}, end_time=at(700))
    return root


def all_runs(root: RunTree) -> list[RunTree]:
    runs, stack = [], [root]
    while stack:
        run = stack.pop()
        runs.append(run)
        stack.extend(reversed(run.child_runs))
    return runs


def as_api_run(run: RunTree) -> Run:
    """The run as the API gives it back (client.read_run(..., load_child_runs=True)): a Run with child_runs.

    Like the API, token counts and cost are set on the llm run and summed on every ancestor.
    """
    children = [as_api_run(child) for child in run.child_runs]
    totals = {}
    if run.run_type == "llm":
        usage = (run.outputs or {}).get("usage_metadata", {})
        totals = {"prompt_tokens": usage["input_tokens"], "completion_tokens": usage["output_tokens"], "total_cost": "0.0004"}
    elif children:
        totals = {
            "prompt_tokens": sum(c.prompt_tokens or 0 for c in children),
            "completion_tokens": sum(c.completion_tokens or 0 for c in children),
        }
    return Run(**run.model_dump(), child_runs=children, **totals)


def write(tmp_path, text: str, name="runs.json"):
    path = tmp_path / name
    path.write_text(text)
    return path


def nodes_by_name(read_trace) -> dict[str, dict]:
    return {node["name"]: node for node in read_trace.nodes.to_pylist()}


EXPECTED_PARENTS = {
    "research": None,
    "summarize": "research",
    "ChatOpenAI": "research",
    "sub-agent": "research",
    "search": "sub-agent",
    "docs": "sub-agent",
    "prompt": "sub-agent",
}
EXPECTED_KINDS = {
    "research": "recurse",
    "summarize": "leaf",
    "ChatOpenAI": "llm",
    "sub-agent": "recurse",
    "search": "tool",
    "docs": "tool",
    "prompt": "other",
}


def assert_agent_tree(imported, root: RunTree):
    nodes = nodes_by_name(imported)
    names = {node["id"]: name for name, node in nodes.items()}
    assert {name: names.get(node["parent_id"]) for name, node in nodes.items()} == EXPECTED_PARENTS
    assert {name: node["kind"] for name, node in nodes.items()} == EXPECTED_KINDS
    assert [nodes[n]["order"] for n in ("ChatOpenAI", "sub-agent", "summarize")] == [0, 1, 2]
    assert [nodes[n]["order"] for n in ("search", "docs", "prompt")] == [0, 1, 2]

    llm = nodes["ChatOpenAI"]
    assert (llm["model"], llm["tokens_in"], llm["tokens_out"]) == ("gpt-4o-mini", 120, 30)
    assert llm["subproblem"] == "Find clause 9."
    assert json.loads(llm["context"])[0]["content"] == "You are a lawyer."
    assert llm["output"] == "Clause 9 caps liability."

    assert nodes["research"]["subproblem"] == "Is the MSA risky?"  # one input key: its value
    assert json.loads(nodes["research"]["output"]) == {"answer": "Moderately.", "confidence": 0.7}
    assert json.loads(nodes["summarize"]["subproblem"]) == {"notes": "n", "style": "short"}
    assert nodes["prompt"]["subproblem"] is None and nodes["prompt"]["output"] == "Summarize 9.1"

    tool = nodes["search"]
    assert (tool["status"], tool["error"]) == ("error", "TimeoutError: search timed out")
    assert json.loads(tool["metadata"])["tags"] == ["web"]
    assert nodes["research"]["start_time"] == T0 and nodes["research"]["end_time"] == at(700)

    assert imported.trace.id == f"langsmith-{root.trace_id}"
    assert imported.trace.source_format == "langsmith"
    assert (imported.trace.title, imported.trace.task, imported.trace.agent) == ("research", "Is the MSA risky?", "gpt-4o-mini")
    assert imported.trace.created_at == T0
    assert imported.warnings == []


# ------------------------------------------------------------------ the SDK's shapes


def test_run_tree_with_nested_child_runs(tmp_path, store):
    root = agent_run()
    path = write(tmp_path, as_api_run(root).model_dump_json(indent=2))
    [imported] = import_files(store, [path])  # detected as LangSmith
    assert_agent_tree(imported, root)
    # tokens and cost count once: the sums LangSmith puts on ancestors go to metadata
    nodes = nodes_by_name(imported)
    assert nodes["ChatOpenAI"]["cost"] == pytest.approx(0.0004)
    assert nodes["research"]["tokens_in"] is None
    assert json.loads(nodes["research"]["metadata"])["prompt_tokens"] == 120
    assert sum(n.tokens for n in store.load_trace(imported.trace.id).nodes) == 150


def test_flat_list_of_runs_ordered_by_dotted_order(tmp_path):
    """RunTree.model_dump() of every run, shuffled, as a script saving runs would write them."""
    root = agent_run()
    runs = [run.model_dump() for run in all_runs(root)]
    random.Random(4).shuffle(runs)
    [imported] = read_file(write(tmp_path, json.dumps(runs, default=str)))
    assert_agent_tree(imported, root)


def test_dotted_order_alone_orders_siblings(tmp_path):
    root = agent_run()
    runs = [json.loads(as_api_run(run).model_dump_json(exclude={"child_runs"})) for run in all_runs(root)]
    for run in runs:
        del run["start_time"], run["end_time"]
    runs.reverse()
    [imported] = read_file(write(tmp_path, json.dumps({"runs": runs})))
    nodes = nodes_by_name(imported)
    assert [nodes[n]["order"] for n in ("ChatOpenAI", "sub-agent", "summarize")] == [0, 1, 2]


def test_jsonl_one_run_a_line_with_two_traces(tmp_path):
    first, second = agent_run(), agent_run()
    lines = [json.dumps(run.model_dump(), default=str) for root in (first, second) for run in all_runs(root)]
    traces = read_file(write(tmp_path, "\n".join(lines) + "\n", "runs.jsonl"))
    assert [t.trace.id for t in traces] == [f"langsmith-{first.trace_id}", f"langsmith-{second.trace_id}"]
    assert_agent_tree(traces[1], second)


def test_start_time_orders_siblings_without_dotted_order(tmp_path):
    runs = [
        {"id": "r", "name": "root", "run_type": "chain"},
        {"id": "b", "name": "b", "run_type": "llm", "parent_run_id": "r", "start_time": "2025-03-01T12:00:02"},
        {"id": "a", "name": "a", "run_type": "llm", "parent_run_id": "r", "start_time": "2025-03-01T12:00:01Z"},
    ]
    [imported] = read_file(write(tmp_path, json.dumps(runs)))
    nodes = nodes_by_name(imported)
    assert (nodes["a"]["order"], nodes["b"]["order"]) == (0, 1)
    assert nodes["b"]["start_time"] == datetime(2025, 3, 1, 12, 0, 2, tzinfo=UTC)  # no zone: UTC
    assert imported.trace.id == "langsmith-r"  # no trace_id: the root run's id


def test_five_thousand_deep_nesting_is_walked_without_recursion():
    run = {"id": "run-4999", "name": "deepest", "run_type": "llm", "inputs": {"q": "x"}}
    for i in range(4998, -1, -1):
        run = {"id": f"run-{i}", "name": f"level {i}", "run_type": "chain", "child_runs": [run]}
    [parsed] = langsmith.runs_to_traces([(None, run)], "deep.json")
    assert len(parsed.nodes) == 5000
    assert max(check_tree([n.id for n in parsed.nodes], [n.parent_id for n in parsed.nodes])) == 4999
    assert parsed.nodes[0].kind == "recurse" and parsed.nodes[-1].kind == "llm"


# ------------------------------------------------------------------ unusual and bad input


def test_run_whose_parent_is_missing_becomes_a_root_with_a_warning(tmp_path):
    root = agent_run()
    runs = [run.model_dump() for run in all_runs(root) if run.name != "research"]  # keep everything below the root
    [imported] = read_file(write(tmp_path, json.dumps(runs, default=str)))
    nodes = nodes_by_name(imported)
    assert nodes["(trace root)"]["id"] == "langsmith-root" and nodes["(trace root)"]["parent_id"] is None
    assert json.loads(nodes["(trace root)"]["metadata"]) == {"synthetic": True}
    for name in ("ChatOpenAI", "sub-agent", "summarize"):
        assert nodes[name]["parent_id"] == "langsmith-root"
    assert [nodes[n]["order"] for n in ("ChatOpenAI", "sub-agent", "summarize")] == [0, 1, 2]
    assert nodes["search"]["parent_id"] == nodes["sub-agent"]["id"]
    assert imported.trace.title == "ChatOpenAI"
    assert len(imported.warnings) == 4
    assert all(str(root.id) in w for w in imported.warnings[:3]) and "synthetic root" in imported.warnings[3]


def test_a_single_orphan_is_the_root(tmp_path):
    runs = [{"id": "b", "name": "b", "run_type": "chain", "parent_run_id": "gone", "trace_id": "t"}]
    [imported] = read_file(write(tmp_path, json.dumps(runs)))
    assert [n["id"] for n in imported.nodes.to_pylist()] == ["b"]
    [warning] = imported.warnings
    assert "parent run gone is not in the file" in warning


def assert_rejected(tmp_path, text, message, name="bad.json", line=None, format="auto"):
    with pytest.raises(InputError) as caught:
        read_file(write(tmp_path, text, name), format)
    assert message in caught.value.message, caught.value.message
    assert caught.value.line == line
    assert "\n" not in str(caught.value)


def test_missing_id(tmp_path):
    runs = [{"id": "a", "run_type": "chain"}, {"name": "orphan", "run_type": "tool", "parent_run_id": "a"}]
    assert_rejected(tmp_path, json.dumps(runs), "run 'orphan' has no id")
    lines = [json.dumps(r) for r in runs]
    assert_rejected(tmp_path, "\n".join(lines), "run 'orphan' has no id", "bad.jsonl", line=2)


def test_duplicate_id_and_bad_fields(tmp_path):
    runs = [{"id": "a", "run_type": "chain"}, {"id": "a", "run_type": "tool", "parent_run_id": "a"}]
    assert_rejected(tmp_path, json.dumps(runs), "duplicate run id a")
    bad_time = [{"id": "a", "run_type": "chain", "start_time": "last tuesday"}]
    assert_rejected(tmp_path, json.dumps(bad_time), "run a: start_time 'last tuesday' is not an ISO 8601 time")
    bad_children = {"id": "a", "run_type": "chain", "child_runs": {"id": "b"}}
    assert_rejected(tmp_path, json.dumps(bad_children), "run a: child_runs is not a list")
    assert_rejected(tmp_path, json.dumps([{"id": "a", "run_type": "chain"}, 7]), "expected a run")


def test_numbers_the_store_cannot_keep_are_rejected_naming_the_run(tmp_path):
    huge = [{"id": "a", "run_type": "llm", "prompt_tokens": 10**30}]
    assert_rejected(tmp_path, json.dumps(huge), "run a: tokens_in: 1e30 is larger than the largest whole number Trellis stores")
    refused = "non-finite numbers (NaN, Infinity) are not allowed"
    infinite = [{"id": "a", "run_type": "llm", "total_cost": float("inf")}]
    assert_rejected(tmp_path, json.dumps(infinite), f"run a: cost: {refused}")
    nan = [{"id": "a", "run_type": "chain", "extra": {"metadata": {"score": float("nan")}}}]
    assert_rejected(tmp_path, json.dumps(nan), f"run a: metadata: {refused} (NaN at metadata.score)")


def test_run_tree_nested_deeper_than_the_json_module_allows(tmp_path):
    text = "".join(f'{{"id": "r{i}", "run_type": "chain", "child_runs": [' for i in range(3000)) + "]}" * 3000
    path = tmp_path / "deep.json"
    path.write_text(text)
    [trace] = read_file(path)
    assert trace.node_count == 3000 and trace.depth.max() == 2999


def test_looks_like():
    assert langsmith.looks_like({"id": "a", "run_type": "chain"})
    assert langsmith.looks_like([{"id": "a", "parent_run_id": None, "dotted_order": "x"}])
    assert langsmith.looks_like({"runs": [{"id": "a", "child_runs": []}]})
    assert not langsmith.looks_like({"resourceSpans": []})
    assert not langsmith.looks_like([{"id": "a", "name": "b"}])
    assert not langsmith.looks_like([])


def nested(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


def test_inputs_nested_too_deep_to_show_become_a_placeholder(tmp_path):
    runs = f'[{{"id": "a", "run_type": "chain", "inputs": {{"question": {nested(3000)}}}}}]'
    [imported] = read_file(write(tmp_path, runs))
    [node] = imported.nodes.to_pylist()
    assert node["subproblem"] == "(a value nested too deeply to show)"


def test_metadata_nested_deeper_than_trellis_keeps_is_rejected(tmp_path):
    runs = f'[{{"id": "a", "run_type": "chain", "extra": {{"metadata": {{"x": {nested(250)}}}}}}}]'
    assert_rejected(tmp_path, runs, "run a: metadata nests more than 200 levels deep")
    lines = f'{{"id": "a", "run_type": "chain"}}\n{{"id": "b", "run_type": "chain", "extra": {{"metadata": {nested(3000)}}}}}'
    assert_rejected(tmp_path, lines, "run b: metadata nests more than 200 levels deep", "bad.jsonl", line=2)
