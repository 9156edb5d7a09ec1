"""Importing the logs that RLMLogger of the RLM reference implementation (rlms) writes."""

import json
from pathlib import Path

import pytest

from core import InputError, import_files, read_file
from core.importers import rlm
from core.importers.reading import loads_iterative
from tests.support.rlm_fake_backend import (
    FakeChatServer,
    deep_log,
    dumps_iterative,
    failing_child_model,
    recursive_model,
    run_rlm,
)

EXAMPLE = Path(__file__).resolve().parents[1] / ".." / "shared" / "external_traces" / "rlm" / "trace-log-example.jsonl"


def nodes_by_id(parsed):
    return {node.id: node for node in parsed.nodes}


def depth_of(node_id: str, nodes: dict) -> int:
    depth = 0
    while nodes[node_id].parent_id is not None:
        node_id, depth = nodes[node_id].parent_id, depth + 1
    return depth


# --- the published example: six completion() calls of one RLM, each a trace


def test_the_published_example_imports_one_trace_per_completion(store):
    imported = import_files(store, [EXAMPLE])
    assert [t.trace.title for t in imported] == [
        "Generate a random number between 1 and 100.",
        "What was the number you just generated?",
        "Pick a color.",
        "Why did you pick that one?",
        "Set x = 500 in the repl",
        "Read the value of x from the repl. do not assume the value. Then set x to the d…",
    ]
    assert [t.node_count for t in imported] == [8, 6, 5, 2, 6, 6]
    assert store.count_traces() == 6
    assert len({t.trace.id for t in imported}) == 6
    assert all(t.trace.id.startswith("rlm-") for t in imported)


def test_the_example_tree_root_iterations_and_final_answer():
    first, *_, last = rlm.parse(EXAMPLE, "example")
    trace, nodes = first.trace, nodes_by_id(first)
    assert trace.source_format == "rlm"
    assert trace.agent == "gpt-4o"
    assert trace.task == "Generate a random number between 1 and 100."
    assert trace.metadata["max_depth"] == 1 and trace.metadata["environment_type"] == "jupyter"
    assert trace.created_at.isoformat().startswith("2026-01-13T13:25:38")

    root = nodes["root"]
    assert root.kind == "recurse" and root.parent_id is None
    assert root.context == "Generate a random number between 1 and 100." and root.context_chars == 43
    assert [n.id for n in first.nodes if n.parent_id == "root"] == ["it1", "it2", "it3", "it4"]
    assert {nodes[f"it{i}"].kind for i in range(1, 5)} == {"llm"}
    assert nodes["it1.cb0"].kind == "tool"
    assert nodes["it1.cb0"].context == "print(completion_context)"
    assert nodes["it1.cb0"].output == "Generate a random number between 1 and 100.\n"
    assert nodes["it4"].metadata["final_answer"] == root.output == "random_number"
    assert nodes["it1"].start_time < nodes["it1"].end_time <= nodes["it2"].start_time

    assert last.nodes[0].output == "1000"  # the last completion answers FINAL(1000)


def test_reimporting_the_same_file_gives_the_same_ids():
    once, again = rlm.parse(EXAMPLE, "a"), rlm.parse(EXAMPLE, "b")
    assert [t.trace.id for t in once] == [t.trace.id for t in again]
    assert [n.id for n in once[0].nodes] == [n.id for n in again[0].nodes]


# --- logs written by rlms itself, running against a scripted local model


@pytest.fixture
def fake_model():
    with FakeChatServer(recursive_model(levels=2)) as server:
        yield server


def test_a_recursive_call_inside_a_recursive_call(tmp_path, fake_model):
    log = run_rlm(tmp_path, fake_model.base_url, ["level 0: the whole task"], max_depth=3)
    [parsed] = rlm.parse(log, str(log))
    nodes = nodes_by_id(parsed)

    outer, inner = nodes["rlm1"], nodes["rlm2"]
    assert (outer.kind, outer.parent_id) == ("recurse", "it2.cb0")
    assert (inner.kind, inner.parent_id) == ("recurse", "rlm1.it2.cb0")
    assert inner.subproblem == "level 2: the part below level 1"
    assert depth_of("rlm2", nodes) == 6  # root > it2 > cb0 > rlm1 > it2 > cb0 > rlm2
    assert [n.metadata["depth"] for n in (nodes["root"], outer, inner)] == [0, 1, 2]

    # The deepest RLM made plain sub-LM calls: llm nodes with their own tokens.
    leaves = [n for n in parsed.nodes if n.parent_id == "rlm2.it2.cb0"]
    assert [n.kind for n in leaves] == ["llm", "llm"]
    assert leaves[0].output == "leaf answer to 'leaf question at level 2'"
    assert all(n.tokens_in and n.tokens_out for n in leaves)
    assert inner.tokens_in and inner.start_time <= nodes["rlm2.it1"].start_time

    # Answers flow back up; the code block that failed is an error.
    root = nodes["root"]
    assert root.output.startswith("L0[L1[L2[leaf answer to")
    assert outer.output == root.output[3:-1]
    assert nodes["it1.cb1"].status == "error" and "NameError" in nodes["it1.cb1"].error
    assert parsed.trace.metadata["recursive_calls"] == 2

    [read] = read_file(log)  # format detected, and one valid tree
    assert read.node_count == len(parsed.nodes) == 20 and read.depth.max() == 9


def test_each_completion_call_is_a_trace(tmp_path, fake_model):
    log = run_rlm(
        tmp_path, fake_model.base_url, ["level 2: first", "level 2: second"], max_depth=1, root_prompt="Solve it"
    )
    first, second = rlm.parse(log, str(log))
    assert first.trace.id.endswith("-1") and second.trace.id.endswith("-2")
    assert first.trace.task == second.trace.task == "Solve it"  # rlms tells the model "Answer the following: ..."
    assert second.nodes[0].context == "level 2: second"
    # max_depth=1: rlm_query is a plain LM call, so no recursion
    assert {n.kind for n in first.nodes} == {"recurse", "llm", "tool"}
    assert [n.id for n in first.nodes if n.kind == "recurse"] == ["root"]


def test_a_failed_recursive_call_is_an_error(tmp_path):
    with FakeChatServer(failing_child_model) as server:
        log = run_rlm(tmp_path, server.base_url, ["level 0"], max_depth=2)
    [parsed] = rlm.parse(log, str(log))
    nodes = nodes_by_id(parsed)
    # rlms logs a sub-RLM that raised as a plain completion "Error: ..." without its trajectory
    failed = nodes["it2.cb0.call0"]
    assert (failed.kind, failed.status, failed.subproblem) == ("llm", "error", "EXPLODE, please")
    assert failed.error.startswith("Error: Child RLM completion failed")
    assert nodes["root"].status == "ok" and nodes["root"].output == failed.output


# --- any depth: a chain of 500 nested rlm_query calls


def test_a_500_level_chain_imports_without_recursion(tmp_path):
    log = deep_log(tmp_path, levels=500)  # its second line nests 4,000 JSON containers deep
    [read] = read_file(log)
    assert read.depth.max() == 3 * 500 + 3  # root > (it > cb > rlm) x 500 > it > cb > call
    [parsed] = rlm.parse(log, str(log))
    recursive = [n for n in parsed.nodes if n.kind == "recurse"]
    assert len(recursive) == 501
    assert recursive[-1].metadata["depth"] == 500 and recursive[-1].output == "answer 500"
    assert parsed.nodes[0].output == "answer 0"


def test_the_iterative_parser_reads_json_like_json_loads():
    text = '{"a": [1, -2.5e3, true, false, null, "x\\u00e9\\n"], "b": {}, "c": [], "d": {"e": [[{}]]}}'
    assert loads_iterative(text) == json.loads(text)
    assert dumps_iterative(json.loads(text)) == json.dumps(json.loads(text))
    deep = "[" * 5000 + "]" * 5000
    assert dumps_iterative(loads_iterative(deep)) == deep
    with pytest.raises(ValueError):
        loads_iterative('{"a": [1, 2}')


# --- bad input: an InputError naming the line, never a traceback


def write(tmp_path, lines, name="bad.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def example_lines() -> list[str]:
    return EXAMPLE.read_text().splitlines()


def rejected(path: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        read_file(path, format="rlm")
    assert "\n" not in str(caught.value)
    return caught.value


def test_a_truncated_line_names_the_line(tmp_path):
    lines = example_lines()
    lines[4] = lines[4][: len(lines[4]) // 2]
    error = rejected(write(tmp_path, lines[:6]))
    assert error.line == 5 and "not valid JSON" in error.message


def test_a_missing_metadata_line(tmp_path):
    error = rejected(write(tmp_path, example_lines()[1:]))
    assert error.line == 1 and "metadata" in error.message and "'run_context'" in error.message


def test_a_record_of_an_unknown_type(tmp_path):
    lines = example_lines()[:4] + [json.dumps({"type": "summary"})]
    error = rejected(write(tmp_path, lines))
    assert error.line == 5 and "unknown record type 'summary'" in error.message


def test_an_iteration_without_a_response(tmp_path):
    lines = example_lines()[:3]
    iteration = json.loads(lines[2])
    del iteration["response"]
    error = rejected(write(tmp_path, lines[:2] + [json.dumps(iteration)]))
    assert (error.line, error.message) == (3, "iteration 1: missing 'response'")


def test_a_wrongly_typed_field_deep_in_a_sub_call(tmp_path):
    log = deep_log(tmp_path, levels=3)
    record = json.loads(log.read_text().splitlines()[1])
    inner = record["code_blocks"][0]["result"]["rlm_calls"][0]["metadata"]["iterations"][0]
    inner["code_blocks"][0]["result"]["stdout"] = 42
    error = rejected(write(tmp_path, [log.read_text().splitlines()[0], json.dumps(record)]))
    assert error.line == 2
    assert (
        error.message
        == "sub-RLM rlm1 (depth 1), iterations[0].code_blocks[0].result: 'stdout' should be a string, got 42"
    )


def test_a_sub_call_whose_metadata_nests_too_deep(tmp_path):
    log = deep_log(tmp_path, levels=1)
    record = json.loads(log.read_text().splitlines()[1])
    inner = record["code_blocks"][0]["result"]["rlm_calls"][0]["metadata"]["iterations"][0]
    inner["code_blocks"][0]["result"]["rlm_calls"][0]["metadata"] = "DEEP"
    deep_line = json.dumps(record).replace('"DEEP"', '{"a": ' * 3000 + "1" + "}" * 3000)
    error = rejected(write(tmp_path, [log.read_text().splitlines()[0], deep_line]))
    assert (error.line, error.message) == (2, "node rlm1.it1.cb0.call0: metadata nests more than 200 levels deep")


def test_numbers_the_store_cannot_keep_name_the_line(tmp_path):
    lines = example_lines()
    metadata = json.loads(lines[0])
    error = rejected(write(tmp_path, [{**metadata, "max_depth": 10**400}, *lines[1:]]))
    assert error.line == 1 and "'max_depth' is out of range" in error.message
    error = rejected(write(tmp_path, [{**metadata, "backend_kwargs": {"temperature": float("nan")}}, *lines[1:]]))
    assert error.line == 2 and error.message == (
        "trace: metadata: non-finite numbers (NaN, Infinity) are not allowed (NaN at backend_kwargs.temperature)"
    )


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_text("\ufeff" + EXAMPLE.read_text())
    assert len(read_file(path)) == 6


def test_a_metadata_line_only(tmp_path):
    error = rejected(write(tmp_path, example_lines()[:1]))
    assert "no iterations" in error.message


def test_not_an_object(tmp_path):
    error = rejected(write(tmp_path, [example_lines()[0], "[1, 2]"]))
    assert error.line == 2 and "JSON object" in error.message
