"""Importing Trellis JSON and JSONL, and every kind of bad input the issue names."""

import json

import pytest

from core import InputError, Store, import_files, read_file
from tests.conftest import chain, trellis_json, trellis_jsonl


def import_one(store, tmp_path, text: str | bytes, name: str = "trace.json", **kwargs):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return import_files(store, [path], **kwargs)


def test_json_and_jsonl_give_the_same_trace(store, tmp_path, small_tree):
    import_one(store, tmp_path, trellis_json("a", small_tree), "a.json")
    import_one(store, tmp_path, trellis_jsonl("b", small_tree), "b.jsonl")
    a, b = store.load_trace("a").nodes, store.load_trace("b").nodes
    assert [n.model_dump() for n in a] == [n.model_dump() for n in b]


def test_jsonl_may_hold_several_traces(store, tmp_path, small_tree):
    text = trellis_jsonl("one", small_tree) + trellis_jsonl("two", small_tree[:2])
    imported = import_one(store, tmp_path, text, "two.jsonl")
    assert [(t.trace.id, t.node_count) for t in imported] == [("one", 4), ("two", 2)]


# --- bad input: a one-line error naming the file (and line), and nothing stored


def assert_rejected(store, tmp_path, text, message: str, name="bad.json", line=None, **kwargs):
    with pytest.raises(InputError) as caught:
        import_one(store, tmp_path, text, name, **kwargs)
    error = caught.value
    assert error.source.endswith(name)
    assert message in error.message, error.message
    if line is not None:
        assert error.line == line
    assert "\n" not in str(error)
    assert store.count_traces() == 0


def test_not_json(store, tmp_path):
    assert_rejected(store, tmp_path, "hello, I am a text file\n", "not JSON", "notes.txt", line=1)


def test_truncated_json(store, tmp_path, small_tree):
    text = trellis_json("t", small_tree)
    assert_rejected(store, tmp_path, text[: len(text) // 2], "not valid JSON")


def test_truncated_jsonl_names_the_line(store, tmp_path, small_tree):
    text = trellis_jsonl("t", small_tree)
    assert_rejected(store, tmp_path, text[:-30] + "\n", "not valid JSON", "t.jsonl", line=5)


def test_valid_json_of_an_unknown_format(store, tmp_path):
    assert_rejected(store, tmp_path, json.dumps({"spans": [], "hello": 1}), "unknown trace format")


def test_missing_parent_is_an_error(store, tmp_path, small_tree):
    small_tree[2]["parent_id"] = "ghost"
    assert_rejected(store, tmp_path, trellis_json("t", small_tree), "parent_id 'ghost' is not a node")


def test_parent_cycle(store, tmp_path):
    nodes = [{"id": "root"}, {"id": "a", "parent_id": "b"}, {"id": "b", "parent_id": "a"}]
    assert_rejected(store, tmp_path, trellis_json("t", nodes), "cycle")


def test_duplicate_node_ids(store, tmp_path, small_tree):
    small_tree[3]["id"] = "s1"
    assert_rejected(store, tmp_path, trellis_json("t", small_tree), "duplicate node id 's1'")


def test_two_roots(store, tmp_path, small_tree):
    small_tree[1]["parent_id"] = None
    assert_rejected(store, tmp_path, trellis_json("t", small_tree), "2 root nodes")


def test_invalid_utf8_names_the_line(store, tmp_path, small_tree):
    text = trellis_json("t", small_tree).replace("Section 2", "Section \udcff", 1)
    data = text.encode("utf-8", "surrogateescape")
    assert_rejected(store, tmp_path, data, "invalid UTF-8", line=1)


def test_invalid_utf8_in_jsonl(store, tmp_path, small_tree):
    data = trellis_jsonl("t", small_tree).encode().replace(b"Section 2", b"Section \xff")
    with pytest.raises(InputError):
        import_one(store, tmp_path, data, "t.jsonl")
    assert store.count_traces() == 0


def test_file_over_the_size_limit(store, tmp_path, small_tree):
    assert_rejected(store, tmp_path, trellis_json("t", small_tree), "over the 0.0 MB limit", max_bytes=100)


def test_wrong_field_type_names_the_field(store, tmp_path, small_tree):
    small_tree[1]["tokens_in"] = "lots"
    assert_rejected(store, tmp_path, trellis_json("t", small_tree), "nodes[1].tokens_in")


def test_unknown_kind_in_jsonl_names_the_line(store, tmp_path, small_tree):
    small_tree[2]["kind"] = "daydream"
    assert_rejected(store, tmp_path, trellis_jsonl("t", small_tree), "kind daydream is not one of", "t.jsonl", line=4)


def test_unknown_field_in_jsonl_is_not_silently_dropped(store, tmp_path, small_tree):
    small_tree[3]["confidence"] = 0.9
    assert_rejected(store, tmp_path, trellis_jsonl("t", small_tree), "unknown field 'confidence'", "t.jsonl", line=5)


def test_metadata_nested_too_deep_to_read_back_names_the_line(store, tmp_path, small_tree):
    small_tree[2]["metadata"] = {"note": "[{" * 300, "x": "DEEP"}  # brackets inside text do not count
    deep = trellis_jsonl("t", small_tree).replace('"DEEP"', "[" * 3000 + "]" * 3000)
    assert_rejected(store, tmp_path, deep, "metadata nests more than 200 levels deep", "t.jsonl", line=4)
    header = '{"format": "trellis", "version": 1, "trace": {"id": "h", "metadata": {"x": DEEP}}}\n{"id": "r"}\n'
    deep_header = header.replace("DEEP", "[" * 250 + "]" * 250)
    assert_rejected(store, tmp_path, deep_header, "trace: metadata nests more than 200 levels deep", "h.jsonl", line=1)
    at_the_limit = trellis_jsonl("fine", small_tree).replace('"DEEP"', "[" * 199 + "]" * 199)  # 200 with metadata's {}
    assert [t.node_count for t in import_one(store, tmp_path, at_the_limit, "fine.jsonl")] == [4]
    assert len(store.load_trace("fine").nodes[2].metadata["note"]) == 600
    header_at_the_limit = header.replace("DEEP", "[" * 199 + "]" * 199).replace('"h"', '"h2"')
    assert [t.trace.id for t in import_one(store, tmp_path, header_at_the_limit, "h2.jsonl")] == ["h2"]


def test_a_bad_file_among_good_ones_stores_nothing(tmp_path, small_tree):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(trellis_json("good", small_tree))
    bad.write_text(trellis_json("bad", [*small_tree, {"id": "s1"}]))
    db = tmp_path / "t.duckdb"
    with Store(db) as store, pytest.raises(InputError, match="bad.json"):
        import_files(store, [good, bad])
    with Store(db) as store:
        assert store.count_traces() == 0


def test_ten_thousand_level_chain_imports(store, tmp_path):
    for name, text in [("deep.json", trellis_json("deep", chain(10_000))), ("deep.jsonl", trellis_jsonl("deep2", chain(10_000)))]:
        [imported] = import_one(store, tmp_path, text, name)
        assert max(imported.depth) == 9_999
    assert [s.depth for s in store.list_traces()] == [9_999, 9_999]


def test_hundred_thousand_siblings_import(store, tmp_path):
    nodes = [{"id": "root", "kind": "decompose"}] + [
        {"id": f"c{i}", "parent_id": "root", "order": i, "kind": "leaf"} for i in range(100_000)
    ]
    [imported] = import_one(store, tmp_path, trellis_jsonl("wide", nodes), "wide.jsonl")
    assert imported.node_count == 100_001
    assert store.list_traces()[0].depth == 1


def test_read_file_checks_without_storing(tmp_path, small_tree):
    path = tmp_path / "t.json"
    path.write_text(trellis_json("t", small_tree))
    [trace] = read_file(path)
    assert trace.trace.id == "t" and list(trace.depth) == [0, 1, 1, 1]


# --- numbers the store cannot keep, byte-order marks, size limits


def test_a_whole_number_too_big_to_store_names_the_field(store, tmp_path, small_tree):
    small_tree[1]["tokens_in"] = 10**30
    too_big = "tokens_in: 1e30 is larger than the largest whole number Trellis stores (2^63-1)"
    assert_rejected(store, tmp_path, trellis_json("t", small_tree), f"nodes[1].{too_big}")
    jsonl = trellis_jsonl("t", small_tree).replace("\n", "\n\n", 1)  # DuckDB's line numbers skip blank lines; ours don't
    assert_rejected(store, tmp_path, jsonl, too_big, "t.jsonl", line=4)
    small_tree[1]["tokens_in"] = None
    small_tree[2]["order"] = -(10**30)
    assert_rejected(store, tmp_path, trellis_jsonl("t", small_tree), "order: -1e30 is smaller than the smallest", "t.jsonl")
    small_tree[2]["order"] = 2**63 - 1
    assert import_one(store, tmp_path, trellis_json("t", small_tree))[0].node_count == 4


def test_tokens_that_add_up_past_what_the_store_keeps_are_refused(store, tmp_path, small_tree):
    small_tree[1]["tokens_in"] = small_tree[1]["tokens_out"] = 2**62  # each fits; the trace's total would not
    assert_rejected(store, tmp_path, trellis_json("t", small_tree), "tokens add up to more than the largest whole number")


def test_nan_and_infinity_are_refused_anywhere(store, tmp_path, small_tree):
    refused = "non-finite numbers (NaN, Infinity) are not allowed"
    for cost in (float("nan"), float("inf")):
        small_tree[2]["cost"] = cost
        assert_rejected(store, tmp_path, trellis_json("t", small_tree), f"nodes[2].cost: {refused}")
        assert_rejected(store, tmp_path, trellis_jsonl("t", small_tree), f"cost: {refused}", "t.jsonl", line=4)
    small_tree[2]["cost"] = 0.5
    small_tree[3]["metadata"] = {"scores": [1.0, float("-inf")]}
    where = "(-Infinity at scores[1])"
    assert_rejected(store, tmp_path, trellis_json("t", small_tree), f"nodes[3].metadata: {refused} {where}")
    assert_rejected(store, tmp_path, trellis_jsonl("t", small_tree), f"metadata: {refused} {where}", "t.jsonl", line=5)
    lower_case = trellis_jsonl("t", small_tree).replace("-Infinity", "-inf")  # DuckDB reads this spelling too
    assert_rejected(store, tmp_path, lower_case, f"metadata: {refused}", "t.jsonl", line=5)
    assert_rejected(store, tmp_path, trellis_json("t", [], metadata={"x": float("nan")}), f"trace.metadata: {refused}")
    small_tree[3]["metadata"] = {"note": "nan: inf, e.g. 1e400"}  # only in text: fine
    assert import_one(store, tmp_path, trellis_jsonl("fine", small_tree), "fine.jsonl")[0].node_count == 4


def test_a_byte_order_mark_is_accepted(store, tmp_path, small_tree):
    bom = "\ufeff".encode()
    import_one(store, tmp_path, bom + trellis_json("a", small_tree).encode(), "a.json")
    import_one(store, tmp_path, bom + trellis_jsonl("b", small_tree).encode(), "b.jsonl")
    assert [s.node_count for s in store.list_traces()] == [4, 4]


def test_one_node_may_hold_at_most_16_mb_in_json_and_jsonl(store, tmp_path, small_tree):
    small_tree[3]["output"] = "x" * (17 * 1024 * 1024)
    too_big = "node 'agg' holds 17.0 MB of text, over the 16 MB limit for one node"
    assert_rejected(store, tmp_path, trellis_json("t", small_tree), too_big, max_bytes=10**9)
    assert_rejected(store, tmp_path, trellis_jsonl("t", small_tree), too_big, "t.jsonl", max_bytes=10**9)
    small_tree[3]["output"] = "x" * (33 * 1024 * 1024)  # so long that DuckDB's reader gives up on the line
    long_line = "line holds 33.0 MB, over the 16 MB limit for one node"
    assert_rejected(store, tmp_path, trellis_jsonl("t", small_tree), long_line, "t.jsonl", line=5, max_bytes=10**9)


def test_a_file_imported_before_is_not_parsed_again(tmp_path, small_tree, monkeypatch):
    path = tmp_path / "t.json"
    path.write_text(trellis_json("t", small_tree))
    db = tmp_path / "t.duckdb"
    with Store(db) as store:
        import_files(store, [path])  # then, say, the process is killed before it reports success

    def unreachable(*args, **kwargs):
        raise AssertionError("the file was parsed again")

    monkeypatch.setattr("core.importers.read_file", unreachable)
    said = []
    with Store(db) as store:
        assert import_files(store, [path], on_identical=said.append) == []
        assert store.count_traces() == 1
    assert said == [f"{path}: already imported as trace t (identical content); nothing to do"]
