"""The operator's model catalog: the only endpoints a critique may reach, each with only its own key."""

import json
import re

import litellm
import pytest

from core import import_files
from core.critique.teacher import TeacherSettings, run_critique
from core.model_catalog import NO_KEY, STRUCTURAL, CatalogError, ModelEntry, load_catalog
from tests.conftest import trellis_json
from tests.support.http_listener import Listener

SECRET = "sk-test-secret"
MODELS = """
[models.gpt-4o-mini]
model = "openai/gpt-4o-mini"
api_key_env = "OPENAI_API_KEY"

[models.local-llama]
model = "openai/llama3.1"
api_base = "http://127.0.0.1:11434/v1"
timeout = 120
context_tokens = 8192
"""


@pytest.fixture(autouse=True)
def no_local_server(tmp_path, monkeypatch):
    """A database with no local model server beside it: the catalogs here are exact, whatever
    `make run MODEL=local` serves beside ./trellis.duckdb."""
    monkeypatch.setenv("TRELLIS_STORE", str(tmp_path / "trellis.duckdb"))


@pytest.fixture
def models_file(tmp_path, monkeypatch):
    def write(text: str):
        path = tmp_path / "models.toml"
        path.write_text(text)
        monkeypatch.setenv("TRELLIS_MODELS", str(path))
        return path
    return write


@pytest.fixture
def student(store, tmp_path):
    path = tmp_path / "student.json"
    nodes = [{"id": "root", "kind": "decompose", "subproblem": "Assess the contract"},
             {"id": "leaf", "parent_id": "root", "kind": "leaf", "status": "error", "error": "context window exceeded"}]
    path.write_text(trellis_json("student", nodes, role="student"))
    import_files(store, [path])
    return "student"


def capturing():
    """A completion function that records its kwargs and answers through litellm's mock_response."""
    calls = []

    def completion(**kwargs):
        calls.append(kwargs)
        return litellm.completion(**kwargs, mock_response='{"findings": []}')

    completion.calls = calls
    return completion


def test_models_file_entries_follow_the_built_in_critic(models_file):
    models_file(MODELS)
    catalog = load_catalog()
    assert list(catalog) == [STRUCTURAL, "gpt-4o-mini", "local-llama"]
    assert catalog["gpt-4o-mini"] == ModelEntry(name="gpt-4o-mini", model="openai/gpt-4o-mini", api_key_env="OPENAI_API_KEY")
    assert catalog["local-llama"].api_base == "http://127.0.0.1:11434/v1" and catalog["local-llama"].timeout == 120
    assert catalog["local-llama"].context_tokens == 8192 and catalog["gpt-4o-mini"].context_tokens is None


def test_secrets_models_join_the_file_and_the_default_file_is_read_when_present(tmp_path, monkeypatch):
    monkeypatch.delenv("TRELLIS_MODELS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert list(load_catalog()) == [STRUCTURAL]  # no file: the built-in critic alone
    (tmp_path / "trellis-models.toml").write_text(MODELS)
    catalog = load_catalog({"claude": {"model": "anthropic/claude-3-5-haiku-latest", "api_key_env": "ANTHROPIC_API_KEY"}})
    assert list(catalog) == [STRUCTURAL, "gpt-4o-mini", "local-llama", "claude"]


@pytest.mark.parametrize(("text", "message"), [
    ("[models.x\nmodel = 1", r"^{path}: not a readable TOML file: "),
    ("[models.x]\napi_base = \"http://h/v1\"", r"^{path}: models\.x: model: Field required$"),
    ("[models.x]\nmodel = \"openai/m\"\napi_base = \"file:///etc/passwd\"", r"^{path}: models\.x: api_base: String should match"),
    ("[models.x]\nmodel = \"openai/m\"\napi_key_env = \"sk-live key\"", r"^{path}: models\.x: api_key_env: String should match"),
    ("[models.x]\nmodel = \"openai/m\"\ntimeout = -1", r"^{path}: models\.x: timeout: Input should be greater than or equal to 1$"),
    ("[models.x]\nmodel = \"openai/m\"\ncontext_tokens = 0",
     r"^{path}: models\.x: context_tokens: Input should be greater than or equal to 1$"),
    ("[models.x]\nmodel = \"openai/m\"\ncolour = \"red\"", r"^{path}: models\.x: colour: Extra inputs are not permitted$"),
    ("[models.x]\nmodel = \"openai/m\"\napi_key = \"sk-live-123\"", r"^{path}: models\.x: api_key: keys do not belong here"),
    ("[models.\"trellis/structural\"]\nmodel = \"openai/m\"", r"^{path}: models\.trellis/structural: is built in$"),
    ("[models]\nx = \"openai/m\"", r"^{path}: models\.x: must be a table"),
    ("[teacher]\nmodel = \"openai/m\"", r"^{path}: only \[models\.NAME\] tables belong here"),
])
def test_bad_models_files_are_one_line_errors_naming_file_and_entry(models_file, text, message):
    path = models_file(text)
    with pytest.raises(CatalogError) as caught:
        load_catalog()
    assert re.search(message.format(path=re.escape(str(path))), str(caught.value)), str(caught.value)
    assert "\n" not in str(caught.value) and "sk-live" not in str(caught.value)


def test_a_missing_named_file_and_a_twice_defined_model_are_errors(models_file, monkeypatch, tmp_path):
    models_file(MODELS)
    with pytest.raises(CatalogError, match=r"^\.streamlit/secrets\.toml: models\.gpt-4o-mini: is defined twice$"):
        load_catalog({"gpt-4o-mini": {"model": "openai/gpt-4o"}})
    monkeypatch.setenv("TRELLIS_MODELS", str(tmp_path / "absent.toml"))
    with pytest.raises(CatalogError, match="absent.toml: no such models file"):
        load_catalog()


def test_an_api_base_without_a_key_variable_gets_a_dummy_key_never_the_environment_one(store, student, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    catalog = {**load_catalog(), "local": ModelEntry(name="local", model="openai/llama3.1", api_base="http://127.0.0.1:9/v1")}
    completion = capturing()
    run_critique(store, student, settings=TeacherSettings(teacher="local"), catalog=catalog, completion=completion)
    [sent] = completion.calls
    assert (sent["model"], sent["api_base"], sent["api_key"]) == ("openai/llama3.1", "http://127.0.0.1:9/v1", NO_KEY)
    assert SECRET not in json.dumps(sent, default=str)


def test_a_key_variable_is_read_when_called_and_goes_only_to_its_entry(store, student, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("LOCAL_KEY", "sk-local")
    catalog = {
        "local": ModelEntry(name="local", model="openai/llama3.1", api_base="http://127.0.0.1:9/v1", api_key_env="LOCAL_KEY"),
        "claude": ModelEntry(name="claude", model="anthropic/claude-3-5-haiku-latest"),
    }
    completion = capturing()
    run_critique(store, student, settings=TeacherSettings(teacher="local", fallbacks=["claude"]), catalog=catalog,
                 completion=completion)
    [sent] = completion.calls
    assert sent["api_key"] == "sk-local"
    # litellm reuses the teacher's api_base and api_key for a fallback that does not name its own.
    assert sent["fallbacks"] == [{"model": "anthropic/claude-3-5-haiku-latest", "api_base": None, "api_key": None}]
    monkeypatch.delenv("LOCAL_KEY")
    with pytest.raises(CatalogError, match=r"^model 'local': environment variable LOCAL_KEY is not set$"):
        run_critique(store, student, settings=TeacherSettings(teacher="local"), catalog=catalog, completion=completion)
    assert len(completion.calls) == 1 and len(store.list_critique_runs(student)) == 1


def test_a_model_string_that_is_not_in_the_catalog_is_refused(store, student, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    completion = capturing()
    with pytest.raises(CatalogError, match=r"^no model named 'openai/gpt-4o-mini' is configured; configured: trellis/structural$"):
        run_critique(store, student, settings=TeacherSettings(teacher="openai/gpt-4o-mini"), completion=completion)
    assert completion.calls == [] and store.list_critique_runs(student) == []


def test_litellm_sends_the_dummy_key_to_a_real_endpoint(store, student, monkeypatch):
    """Not just the kwargs: what actually arrives at an api_base that has no key of its own."""
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with Listener(lifetime=60) as listener:
        catalog = {"local": ModelEntry(name="local", model="openai/local-teacher", api_base=listener.url)}
        result = run_critique(store, student, settings=TeacherSettings(teacher="local", retries=0, timeout=10),
                              catalog=catalog)
    assert result.run.teacher == "openai/local-teacher"
    assert [r["path"] for r in listener.requests] == ["/v1/chat/completions"]
    assert listener.requests[0]["headers"]["authorization"] == f"Bearer {NO_KEY}"
    assert SECRET not in listener.seen()
