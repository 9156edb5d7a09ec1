"""The offline structural critique never imports litellm (or openai): importing them takes seconds,
and `trellis critique` with the built-in critic calls no model. Each check runs in a fresh process,
since this test session has long since imported litellm."""

import os
import subprocess
import sys

from tests.conftest import ROOT, SAMPLES


def run_python(code: str, tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TRELLIS_MODELS", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_trellis_critique_with_the_structural_critic_never_imports_litellm(tmp_path):
    run_python(f"""
import sys
from core.cli import main

assert main(["import", {str(SAMPLES)!r}, "--db", "library.duckdb"]) == 0
assert main(["critique", "legal-msa-student-8b", "--db", "library.duckdb"]) == 0
assert "litellm" not in sys.modules and "openai" not in sys.modules, "the offline critique imported litellm"
""", tmp_path)


def test_run_critique_with_the_structural_critic_never_imports_litellm(tmp_path):
    run_python(f"""
import sys
from core import Store, import_files
from core.critique.teacher import run_critique

with Store("library.duckdb") as store:
    import_files(store, [{str(SAMPLES / "legal-msa-student-8b.json")!r}, {str(SAMPLES / "legal-msa-teacher-70b.json")!r}])
    result = run_critique(store, "legal-msa-student-8b", "legal-msa-teacher-70b")
    assert result.annotations and result.run.teacher == "trellis/structural"
    assert (result.run.tokens_in, result.run.cost) == (0, 0.0)  # no model was called
assert "litellm" not in sys.modules and "openai" not in sys.modules, "the offline critique imported litellm"
""", tmp_path)
