"""Student runs on the real local model: its own messy output goes through adapting, steps, aggregation
and scoring, and a prompt over its window is refused by the server itself. Each run is a few short calls."""

import json

from core import Store
from core.auth import local_actor
from core.llm import asker
from core.runs.batch import BatchSettings, run_batch
from core.runs.plan import run_plan
from core.scaffolds.drafts import draft_scaffold
from core.tasks.load import load_task_file
from core.tasks.models import Budget
from tests.support.people import DANA, approve
from tests.support.scaffold_library import run, store_run

CALL_TIMEOUT = 180  # seconds per call: generous for a loaded 2-core machine
CONTRACT = ("1. Services. The Supplier provides hosting to the Customer.\n\n"
            "2. Fees. The Customer pays 4,000 EUR each month.\n\n"
            "3. Liability. The Supplier's total liability is capped at 150% of the annual fees.\n\n"
            "4. Term. The agreement runs for two years.\n")


def caps_task(tmp_path):
    path = tmp_path / "caps.jsonl"
    lines = [{"format": "trellis-tasks", "version": 1, "title": "one liability cap"},
             {"id": "cap-1", "task_class": "contract-review", "context": {"text": CONTRACT},
              "instruction": "What is the supplier's liability cap, as a percentage of the annual fees?",
              "expected": 150, "checker": {"kind": "number"},
              "budget": {"max_calls": 12, "max_tokens": 40_000, "max_seconds": 900}}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return load_task_file(path)


def approved_two_step_scaffold(store) -> str:
    store_run(store, run("caps-teacher", ["Find the liability clause", "Read the cap's amount from that clause"],
                         aggregation="give the cap as a percentage"))
    draft = draft_scaffold(store, ["caps-teacher"], author=DANA)
    approve(store, draft.version.scaffold_id, 1)
    return draft.version.scaffold_id


def test_a_scaffolded_run_on_the_local_model_adapts_the_plan_and_is_stored_linked_and_scored(local_entry, tmp_path):
    with Store(":memory:") as store:
        scaffold = approved_two_step_scaffold(store)
        [done] = run_batch(store, [caps_task(tmp_path)], local_entry,
                           BatchSettings(student=local_entry.name, scaffold=scaffold, timeout=CALL_TIMEOUT),
                           actor=local_actor()).runs
        loaded = store.load_trace(done.id)
        nodes = {n.id: n for n in loaded.nodes}
        assert nodes["adapt"].output  # the model's own plan, whatever it made of it
        assert loaded.trace.metadata["run"]["scaffold_id"] == scaffold == done.scaffold_id
        if done.status == "failed":  # a small model may spend the budget: then it says which
            assert done.error and done.score is None
        else:
            assert done.score is not None and done.score_explanation
        if done.fell_back:  # its plan or a step's answer could not be used: the trace says where and why
            assert nodes["fallback"].metadata == {"fallback": True, "reason": done.fallback_reason}
        else:
            assert loaded.trace.metadata["adaptation"] == nodes["adapt"].metadata["adaptation"]
            assert "aggregate" in nodes or done.status == "failed"
        assert done.calls == sum(1 for n in loaded.nodes if n.model) and done.tokens_in > 0


def test_a_prompt_over_the_local_models_window_is_a_failed_call_with_the_servers_reason(local_entry):
    """The session's server has a 4,096-token window; 40,000 characters in one call are about 10,000 tokens."""
    ask = asker(local_entry, seed=0, temperature=0, timeout=CALL_TIMEOUT)
    result = run_plan(trace_id="too-long", instruction="Summarise the text.", context="The cap is 150%. " * 2_500,
                      task_class=None, model=local_entry.model, ask=ask, window=40_000,
                      budget=Budget(max_calls=3, max_tokens=100_000, max_seconds=300))
    assert result.failed.startswith(f"the student failed: student {local_entry.model}: the prompt is over its "
                                    "context window (")
    assert "\n" not in result.failed and result.calls == 1
    [root, answer] = result.nodes
    assert answer.status == "error" and root.status == "error"


def test_without_a_scaffold_a_short_task_is_answered_in_one_call_and_scored(local_entry, tmp_path):
    with Store(":memory:") as store:
        [done] = run_batch(store, [caps_task(tmp_path)], local_entry,
                           BatchSettings(student=local_entry.name, timeout=CALL_TIMEOUT), actor=local_actor()).runs
        assert (done.status, done.calls, done.scaffold_id, done.fell_back) == ("ok", 1, None, False)
        assert done.answer.strip() and done.score is not None and done.score_explanation
        assert store.load_trace(done.id).nodes[-1].output == done.answer
