"""The `trellis` command line, used the way a person would in a terminal."""

import json

import pytest

from core.cli import main
from tests.conftest import trellis_json, trellis_jsonl


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "cli.duckdb")


@pytest.fixture
def trace_file(tmp_path, small_tree):
    path = tmp_path / "contract.json"
    path.write_text(trellis_json("contract", small_tree, role="teacher", agent="llama-3.1-70b-instruct"))
    return path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_prints_one_line_per_trace(capsys, db, trace_file):
    code, out, err = run(capsys, "import", str(trace_file), "--db", db)
    assert (code, out, err) == (0, "contract\t4 nodes\n", "")


def test_list_as_table_and_json(capsys, monkeypatch, db, trace_file):
    monkeypatch.setenv("COLUMNS", "200")
    run(capsys, "import", str(trace_file), "--db", db)
    code, out, _ = run(capsys, "list", "--db", db)
    assert code == 0 and "contract" in out and "llama-3.1-70b-instruct" in out
    code, out, _ = run(capsys, "list", "--db", db, "--json")
    [row] = json.loads(out)
    assert (row["id"], row["node_count"], row["role"]) == ("contract", 4, "teacher")


def test_show_draws_the_tree_with_text_taken_literally(capsys, db, tmp_path, small_tree):
    small_tree[1]["subproblem"] = "[bold red]not markup[/] <script>alert(1)</script>"
    path = tmp_path / "t.json"
    path.write_text(trellis_json("t", small_tree))
    run(capsys, "import", str(path), "--db", db)
    code, out, _ = run(capsys, "show", "t", "--db", db)
    assert code == 0
    assert "[decompose] Assess the contract's risk" in out
    assert "[bold red]not markup[/] <script>alert(1)</script>" in out


def test_show_cuts_deep_trees_and_says_how_much_is_hidden(capsys, db, tmp_path):
    nodes = [{"id": f"n{i}", "parent_id": f"n{i - 1}" if i else None, "subproblem": f"level {i}"} for i in range(50)]
    path = tmp_path / "deep.jsonl"
    path.write_text(trellis_jsonl("deep", nodes))
    run(capsys, "import", str(path), "--db", db)
    _, out, _ = run(capsys, "show", "deep", "--db", db, "--depth", "3")
    assert "level 3" in out and "level 4" not in out and "+46 hidden" in out


def test_export_then_import_gives_back_the_same_trace(capsys, db, tmp_path, trace_file):
    run(capsys, "import", str(trace_file), "--db", db)
    first = tmp_path / "first.json"
    assert run(capsys, "export", "contract", "--db", db, "--out", str(first))[0] == 0
    other_db = str(tmp_path / "other.duckdb")
    assert run(capsys, "import", str(first), "--db", other_db)[0] == 0
    code, second, _ = run(capsys, "export", "contract", "--db", other_db)
    assert code == 0 and second == first.read_text()
    _, shown, _ = run(capsys, "show", "contract", "--db", other_db, "--json")
    assert shown == second


def test_errors_are_one_line_on_stderr_with_exit_code_1(capsys, db, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "trellis", "version": 1, "trace": {"id": "t"}}\n{"id": "root"\n')
    code, out, err = run(capsys, "import", str(bad), "--db", db)
    assert code == 1 and out == ""
    assert err.startswith(f"error: {bad}:2: not valid JSON")
    assert err.count("\n") == 1


def test_a_value_nested_too_deep_to_keep_fails_in_one_line_and_stores_nothing(capsys, db, tmp_path):
    deep = '{"a": ' * 3000 + "1" + "}" * 3000
    runs = tmp_path / "runs.jsonl"
    runs.write_text(
        '{"id": "fine", "run_type": "chain"}\n'
        f'{{"id": "b", "run_type": "chain", "extra": {{"metadata": {{"x": {deep}}}}}}}\n'
    )
    code, out, err = run(capsys, "import", str(runs), "--db", db)
    assert (code, out, err) == (1, "", f"error: {runs}:2: run b: metadata nests more than 200 levels deep\n")
    assert run(capsys, "list", "--db", db, "--json")[1].strip() == "[]"


def test_a_number_too_big_to_store_fails_in_one_line_and_stores_nothing(capsys, db, tmp_path, small_tree):
    small_tree[3]["tokens_in"] = 10**30
    big = tmp_path / "big.json"
    big.write_text(trellis_json("big", small_tree))
    code, out, err = run(capsys, "import", str(big), "--db", db)
    too_big = "nodes[3].tokens_in: 1e30 is larger than the largest whole number Trellis stores (2^63-1)"
    assert (code, out, err) == (1, "", f"error: {big}: {too_big}\n")
    assert run(capsys, "list", "--db", db, "--json")[1].strip() == "[]"


def test_importing_a_file_again_skips_it_and_imports_what_is_new(capsys, db, tmp_path, trace_file, small_tree):
    assert run(capsys, "import", str(trace_file), "--db", db)[0] == 0  # then killed before it could say so, say
    other = tmp_path / "other.json"
    other.write_text(trellis_json("other", small_tree))
    code, out, err = run(capsys, "import", str(trace_file), str(other), "--db", db)
    assert (code, out) == (0, "other\t4 nodes\n")
    assert err == f"{trace_file}: already imported as trace contract (identical content); nothing to do\n"
    code, out, err = run(capsys, "import", str(trace_file), "--replace", "--db", db)
    assert (code, out, err) == (0, "contract\t4 nodes\n", "")  # --replace reads it again


def test_import_help_states_the_size_limits(capsys):
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "largest file accepted, in MB (default 200)" in help_text
    assert "in every format, one node may hold at most 16 MB of text and metadata" in help_text


def test_unknown_trace_id(capsys, db):
    code, _, err = run(capsys, "show", "nope", "--db", db)
    assert code == 1 and err.startswith("error: no trace 'nope'")


def test_schema_command_prints_the_published_schema(capsys):
    code, out, _ = run(capsys, "schema")
    assert code == 0 and json.loads(out)["title"] == "Trellis trace"


@pytest.fixture
def student_db(capsys, db):
    from tests.conftest import SAMPLES

    run(capsys, "import", str(SAMPLES / "legal-msa-student-8b.json"), str(SAMPLES / "legal-msa-teacher-70b.json"), "--db", db)
    return db


def test_critique_offline_then_list_the_annotations(capsys, student_db):
    code, out, err = run(capsys, "critique", "legal-msa-student-8b", "--db", student_db, "--json")
    assert code == 0 and "against legal-msa-teacher-70b" in err
    proposed = json.loads(out)
    assert proposed and {a["status"] for a in proposed} == {"proposed"}
    code, out, _ = run(capsys, "annotations", "legal-msa-student-8b", "--db", student_db, "--json")
    assert [a["id"] for a in json.loads(out)] == [a["id"] for a in proposed]


def test_critique_with_a_missing_key_fails_in_one_line_and_stores_nothing(capsys, monkeypatch, student_db):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, out, err = run(capsys, "critique", "legal-msa-student-8b", "--teacher", "openai/gpt-4o-mini",
                         "--retries", "0", "--db", student_db)
    assert code == 1 and out == ""
    assert err.splitlines()[-1].startswith("error: teacher openai/gpt-4o-mini: missing or invalid API key")
    assert run(capsys, "annotations", "legal-msa-student-8b", "--db", student_db, "--json")[1].strip() == "[]"


def test_critique_with_an_unreachable_teacher_fails_in_one_line(capsys, monkeypatch, student_db):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    code, _, err = run(capsys, "critique", "legal-msa-student-8b", "--teacher", "openai/gpt-4o-mini",
                       "--api-base", "http://127.0.0.1:9/v1", "--retries", "0", "--timeout", "5", "--db", student_db)
    assert code == 1
    assert err.splitlines()[-1].startswith("error: teacher openai/gpt-4o-mini unreachable")
    assert run(capsys, "annotations", "legal-msa-student-8b", "--db", student_db, "--json")[1].strip() == "[]"


def test_critique_teacher_is_a_configured_name_or_an_ad_hoc_model_with_only_its_own_key(
        capsys, monkeypatch, tmp_path, student_db):
    from tests.http_listener import Listener

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    monkeypatch.setenv("LOCAL_KEY", "sk-local")
    with Listener(lifetime=60) as listener:
        models = tmp_path / "models.toml"
        models.write_text(f'[models.local]\nmodel = "openai/local-teacher"\napi_base = "{listener.url}"\n')
        monkeypatch.setenv("TRELLIS_MODELS", str(models))
        student = ["critique", "legal-msa-student-8b", "--retries", "0", "--timeout", "10", "--db", student_db]
        assert run(capsys, *student, "--teacher", "local")[0] == 0
        assert run(capsys, *student, "--teacher", "openai/ad-hoc", "--api-base", listener.url)[0] == 0
        assert run(capsys, *student, "--teacher", "openai/ad-hoc", "--api-base", listener.url, "--api-key-env", "LOCAL_KEY")[0] == 0
        code, _, err = run(capsys, *student, "--teacher", "local", "--api-base", "http://127.0.0.1:9/v1")
    assert code == 1 and err.splitlines()[-1].startswith("error: --teacher local is a configured model with its own endpoint")
    assert [r["headers"]["authorization"] for r in listener.requests] == [
        "Bearer trellis-no-key", "Bearer trellis-no-key", "Bearer sk-local"]
    assert [json.loads(r["body"])["model"] for r in listener.requests] == ["local-teacher", "ad-hoc", "ad-hoc"]
    assert "sk-test-secret" not in listener.seen()
