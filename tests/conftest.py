import contextlib
import json
import os
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before anything imports litellm

import pytest

from core import Store, runtime
from core.model_catalog import LOCAL, ModelEntry, load_catalog

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_traces"
EXTERNAL = ROOT.parent / "shared" / "external_traces"


@pytest.fixture
def store():
    with Store(":memory:") as s:
        yield s


def trellis_json(trace_id: str, nodes: list[dict], **trace_fields) -> str:
    """A Trellis JSON document as a person would write it."""
    return json.dumps(
        {"format": "trellis", "version": 1, "trace": {"id": trace_id, "title": trace_id, **trace_fields}, "nodes": nodes}
    )


def trellis_jsonl(trace_id: str, nodes: list[dict]) -> str:
    header = {"format": "trellis", "version": 1, "trace": {"id": trace_id, "title": trace_id}}
    return "\n".join(json.dumps(x) for x in [header, *nodes]) + "\n"


def chain(length: int) -> list[dict]:
    """A chain of nested recursive calls, `length` levels deep."""
    return [{"id": f"n{i}", "parent_id": f"n{i - 1}" if i else None, "kind": "recurse"} for i in range(length)]


@pytest.fixture
def small_tree() -> list[dict]:
    return [
        {"id": "root", "kind": "decompose", "subproblem": "Assess the contract's risk"},
        {"id": "s1", "parent_id": "root", "order": 0, "kind": "leaf", "subproblem": "Section 1", "tokens_in": 100, "tokens_out": 20},
        {"id": "s2", "parent_id": "root", "order": 1, "kind": "leaf", "subproblem": "Section 2", "cost": 0.5},
        {"id": "agg", "parent_id": "root", "order": 2, "kind": "aggregate", "aggregation": "concatenate"},
    ]


@pytest.fixture(scope="module")
def library(tmp_path_factory, monkeypatch_module):
    """The sample library (plus the hostile trace) in a DuckDB file that the app under AppTest opens."""
    from tests.support.explorer_library import build_library

    folder = tmp_path_factory.mktemp("library")
    db = folder / "trellis.duckdb"
    ids = build_library(db, folder / "traces")
    monkeypatch_module.setenv("TRELLIS_STORE", str(db))
    return ids


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


SESSION_CONTEXT = 4096  # the local server's window: loads fast; the sample critique prompt is cut to fit it


@pytest.fixture(scope="session")
def local_server(tmp_path_factory):
    """(database path, state) of one real local model server beside a fresh database; stopped by pid afterwards."""
    db = str(tmp_path_factory.mktemp("local") / "trellis.duckdb")
    try:
        state = runtime.serve(context=SESSION_CONTEXT, db=db)
    except runtime.LocalModelError as exc:
        pytest.fail(f"the local model could not be served ({exc}); `make test` installs it: run `make setup`",
                    pytrace=False)
    except runtime.NoWeights as exc:
        pytest.fail(f"no local model weights ({exc}); `make setup` installs them", pytrace=False)
    yield db, state
    with contextlib.suppress(runtime.LocalModelError):
        runtime.stop(db)


@pytest.fixture
def local_entry(local_server) -> ModelEntry:
    db, _ = local_server
    return load_catalog(db=db)[LOCAL]


# The browser tests' server and Chromium, shared by every test_browser_* module (see tests/support/browser_support.py).
from tests.support.browser_support import app_url, browser, page  # noqa: E402,F401
