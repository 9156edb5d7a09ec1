"""The second extractor: a model compresses a trace bottom-up into a scaffold draft (issue 13 §3).

Most tests answer through litellm's own mock_response; one asks the real local model, and asserts only
what must hold whatever a 135M model writes."""

import json

import litellm
import pytest

from core import Store, import_files
from core.auth import PermissionDenied
from core.model_catalog import BUILT_IN, ModelEntry
from core.models import LoadedTrace, Node, Trace
from core.runs.plan import EXPECTED_WORDS
from core.scaffolds import ScaffoldError, ScaffoldStatus
from core.scaffolds.compress import MAX_NODE_CALLS, compress_with_model
from core.scaffolds.drafts import draft_scaffold, drafts_of_trace
from core.scaffolds.extract import output_shape
from tests.conftest import SAMPLES
from tests.support.people import DANA, VIC
from tests.support.scaffold_library import store_run

MOCK = ModelEntry(name="mock-compressor", model="openai/mock-compressor", api_base="http://127.0.0.1:9/v1")
FINAL = {"title": "Contract review, part by part", "applicability": "supplier contracts",
         "steps": [{"instruction": "Review the liability clauses", "context": "the liability section",
                    "output_shape": "short prose, ~20 words"},
                   {"instruction": "Review the data clauses", "context": "the data section"},
                   {"instruction": "Summarise the fees"}],
         "aggregation": "merge the reviews by severity"}


def contract_trace() -> LoadedTrace:
    """Three first-level steps; the second one two levels deep. Each leaf's output has a word only it has."""
    def node(node_id, parent, order, kind, subproblem, output="", **extra):
        return Node(id=node_id, parent_id=parent, order=order, kind=kind, subproblem=subproblem, output=output, **extra)

    nodes = [
        node("root", None, 0, "decompose", "Assess the supplier contract"),
        node("A", "root", 0, "recurse", "Review the liability section", "ALPHA findings combined"),
        node("A1", "A", 0, "leaf", "Read clause 11.1", "ALPHACAP is 150 percent of the fees"),
        node("A2", "A", 1, "leaf", "Read clause 11.2", "ALPHAEXCLUSION of indirect loss"),
        node("Aagg", "A", 2, "aggregate", "", "", aggregation="Joined the liability findings"),
        node("B", "root", 1, "recurse", "Review the data section", "BRAVO findings combined"),
        node("B1", "B", 0, "recurse", "Review the processor duties", "BRAVO duties combined"),
        node("B1a", "B1", 0, "leaf", "Read the breach notice clause", "BRAVONOTICE within 72 hours"),
        node("B1b", "B1", 1, "leaf", "Read the audit clause", "BRAVOAUDIT once a year"),
        node("B2", "B", 1, "leaf", "Read the deletion clause", "BRAVODELETE within 30 days"),
        node("C", "root", 2, "leaf", "Summarise the fees", "CHARLIEFEES are 4,000 EUR a month, paid quarterly " * 3),
        node("agg", "root", 3, "aggregate", "", "All findings", aggregation="Merged the reviews by severity"),
    ]
    trace = Trace(id="contract", title="contract", task="Review the supplier contract for risk",
                  task_class="contract-review", role="teacher", agent="llama-70b")
    return LoadedTrace(trace=trace, nodes=nodes)


@pytest.fixture
def contract_store():
    with Store(":memory:") as store:
        store_run(store, contract_trace())
        yield store


def answering(final=json.dumps(FINAL), summary=lambda prompt: json.dumps({"summary": "a compressed step"})):
    """litellm.completion answering through mock_response: ``summary(prompt)`` to a node's call, ``final`` to the draft's."""
    prompts = []

    def completion(messages, **kwargs):
        prompt = messages[-1]["content"]
        prompts.append(prompt)
        answer = final if prompt.startswith("The task:") else summary(prompt)
        return litellm.completion(model=kwargs["model"], messages=messages, mock_response=answer)

    completion.prompts = prompts
    return completion


def node_prompt(prompts: list[str], subproblem: str) -> str:
    [prompt] = [p for p in prompts if p.startswith(f"The step: {subproblem}\n")]
    return prompt


def test_a_model_compresses_a_trace_into_a_draft_that_is_only_ever_a_draft(contract_store):
    draft = draft_scaffold(contract_store, ["contract"], author=DANA, by_model=MOCK, completion=answering())
    version, scaffold = draft.version, draft.version.content
    assert (version.version, version.status, version.author) == (1, ScaffoldStatus.DRAFT, DANA.name)
    assert [s.instruction for s in scaffold.subproblems] == [
        "Review the liability clauses", "Review the data clauses", "Summarise the fees"]
    assert [s.source_node_id for s in scaffold.subproblems] == ["A", "B", "C"]  # as many steps as the first level
    assert scaffold.subproblems[0].output_shape == "short prose, ~20 words"  # the model's own
    # The model gave none: the source node's shape, as the deterministic extractor writes it ("~N words").
    assert scaffold.subproblems[1].output_shape == output_shape("BRAVO findings combined") == "short prose, ~3 words"
    assert EXPECTED_WORDS.search(scaffold.subproblems[2].output_shape)
    assert scaffold.provenance.model_dump() == {"method": "model", "source_traces": ["contract"],
                                                "teacher_models": ["llama-70b"], "annotations": []}
    assert scaffold.aggregation == "merge the reviews by severity"
    assert version.comment.startswith("compressed by mock-compressor from contract: 4 calls, ")
    assert version.comment.endswith(" tokens")
    assert draft.compression.scaffold_bytes < draft.compression.trace_bytes
    assert (draft.compression.first_level_kept, draft.compression.first_level_total) == (3, 3)
    assert [v.status for v in contract_store.scaffold_history(version.scaffold_id)] == [ScaffoldStatus.DRAFT]


def test_one_call_per_internal_node_each_seeing_only_its_own_subtree(contract_store):
    completion = answering(summary=lambda prompt: json.dumps({"summary": f"summary of {prompt.splitlines()[0][10:]}"}))
    draft_scaffold(contract_store, ["contract"], author=DANA, by_model=MOCK, completion=completion)
    prompts = completion.prompts
    assert len(prompts) == 4  # A, B1, B (B1 before B: bottom-up), then the draft; leaves cost no call
    assert [p.splitlines()[0] for p in prompts[:3]] == [
        "The step: Review the processor duties", "The step: Review the data section", "The step: Review the liability section"]
    a, b, b1 = (node_prompt(prompts, s) for s in ("Review the liability section", "Review the data section",
                                                  "Review the processor duties"))
    assert "ALPHACAP" in a and "ALPHAEXCLUSION" in a and "Joined the liability findings" in a
    assert "BRAVO" not in a and "CHARLIE" not in a
    assert "BRAVONOTICE" in b1 and "BRAVOAUDIT" in b1 and "BRAVODELETE" not in b1 and "ALPHA" not in b1
    # B sees its leaf B2 and B1's summary, not B1's leaves: the compression is bottom-up.
    assert "BRAVODELETE" in b and "summary of Review the processor duties" in b
    assert "BRAVONOTICE" not in b and "ALPHA" not in b and "CHARLIE" not in b
    final = prompts[-1]
    assert "summary of Review the liability section" in final and "summary of Review the data section" in final
    assert "CHARLIEFEES" in final and "BRAVONOTICE" not in final and "ALPHACAP" not in final


@pytest.mark.parametrize("final", [
    "Sure! Here is the scaffold:\n```json\n" + json.dumps(FINAL) + "\n```\nHope this helps.",
    "Here it is: " + json.dumps(FINAL) + " (three steps)",
    json.dumps({**FINAL, "steps": ["Review the liability clauses", "Review the data clauses", "Summarise the fees"],
                "notes": "extra keys are ignored", "applicability": None}),
    json.dumps({"title": "...", "steps": [{"instruction": s["instruction"], "context": "...", "output_shape": "…"}
                                          for s in FINAL["steps"]] + ["..."]}),  # the prompt's placeholders, copied
])
def test_fenced_prose_wrapped_and_loosely_shaped_drafts_are_read(contract_store, final):
    draft = draft_scaffold(contract_store, ["contract"], author=DANA, by_model=MOCK, completion=answering(final))
    assert [s.instruction for s in draft.version.content.subproblems] == [
        "Review the liability clauses", "Review the data clauses", "Summarise the fees"]
    assert all(EXPECTED_WORDS.search(s.output_shape) for s in draft.version.content.subproblems)  # as the runner reads
    assert "..." not in draft.version.content.model_dump_json() and "…" not in draft.version.content.title


def test_a_summary_that_cannot_be_read_falls_back_to_the_trace_and_is_counted(contract_store):
    answers = {"The step: Review the processor duties": "The step went well, I think.",
               "The step: Review the data section": '{"summary": ""}'}
    completion = answering(summary=lambda p: answers.get(p.splitlines()[0], json.dumps({"summary": "fine"})))
    draft = draft_scaffold(contract_store, ["contract"], author=DANA, by_model=MOCK, completion=completion)
    assert "(2 unreadable summaries replaced by the trace's own)" in draft.version.comment
    b = node_prompt(completion.prompts, "Review the data section")
    assert "returned: BRAVO duties combined" in b  # B1's own output stood in for its unreadable summary
    assert "I think" not in completion.prompts[-1]


def test_compress_with_model_reports_its_calls_and_fallbacks():
    answers = iter(['{"summary": "liability done"}', "no json", '{"summary": "data done"}', json.dumps(FINAL)])
    made = compress_with_model(contract_trace(), lambda messages, max_tokens, schema: (next(answers), 100, 10, 0.001))
    assert (made.nodes_compressed, made.summaries_fell_back, made.calls) == (3, 1, 4)
    assert (made.tokens_in, made.tokens_out, made.tokens) == (400, 40, 440)
    assert made.cost == pytest.approx(0.004)


@pytest.mark.parametrize(("final", "reason"), [
    ("I cannot do that.", "Invalid JSON"),
    (json.dumps({"title": "x", "steps": []}), "steps: List should have at least 1 item"),
    (json.dumps({"title": "x"}), "steps: Field required"),
    (json.dumps({"steps": [{"context": "the whole contract"}]}), "steps.0.instruction: Field required"),
    (json.dumps({"steps": "first read, then write"}), "steps: Input should be a valid array"),
])
def test_an_unusable_draft_is_a_one_line_error_and_nothing_is_stored(contract_store, final, reason):
    with pytest.raises(ScaffoldError) as caught:
        draft_scaffold(contract_store, ["contract"], author=DANA, by_model=MOCK, completion=answering(final))
    message = str(caught.value)
    assert message.startswith("the model's draft is unusable: ") and reason in message
    assert "\n" not in message and message.endswith("nothing was saved")
    assert contract_store.list_scaffolds() == []


def test_the_built_in_critic_writes_no_scaffolds_and_a_model_compresses_one_trace_for_an_editor(contract_store):
    with pytest.raises(ScaffoldError, match="writes no scaffolds"):
        draft_scaffold(contract_store, ["contract"], author=DANA, by_model=BUILT_IN)
    with pytest.raises(ScaffoldError, match="one trace at a time"):
        draft_scaffold(contract_store, ["contract"], author=DANA, by_model=MOCK, from_critique=True)
    completion = answering()
    with pytest.raises(PermissionDenied):  # a viewer spends no model's tokens
        draft_scaffold(contract_store, ["contract"], author=VIC, by_model=MOCK, completion=completion)
    assert completion.prompts == [] and contract_store.list_scaffolds() == []


def test_a_deep_and_wide_trace_is_compressed_without_recursion_in_a_bounded_number_of_calls():
    nodes = [Node(id="root", kind="decompose", subproblem="Do it all")]
    parent = "root"
    for depth in range(20_000):  # a chain far deeper than Python's recursion limit
        nodes.append(Node(id=f"d{depth}", parent_id=parent, order=0, kind="recurse", subproblem=f"level {depth}"))
        parent = f"d{depth}"
    nodes.append(Node(id="wide", parent_id="root", order=1, kind="recurse", subproblem="Many parts"))
    for i in range(200):
        nodes.append(Node(id=f"w{i}", parent_id="wide", order=i, kind="recurse", subproblem=f"part {i}"))
        nodes.append(Node(id=f"w{i}.1", parent_id=f"w{i}", order=0, kind="leaf", subproblem="read", output="x"))
    loaded = LoadedTrace(trace=Trace(id="big", title="big"), nodes=nodes)
    prompts = []

    def ask(messages, max_tokens, schema):
        prompts.append(messages[-1]["content"])
        final = prompts[-1].startswith("The task:")
        return json.dumps({"steps": ["the chain", "the parts"]} if final else {"summary": "ok"}), 1, 1, 0.0

    made = compress_with_model(loaded, ask)
    assert made.nodes_compressed == MAX_NODE_CALLS and made.calls == MAX_NODE_CALLS + 1
    assert max(len(p) for p in prompts) < 5_000  # each call's slice is capped, however wide the node
    assert "… and " in node_prompt(prompts, "Many parts")
    assert [s.source_node_id for s in made.scaffold.subproblems] == ["d0", "wide"]


def test_drafts_of_a_trace_are_measured_alike_for_a_side_by_side_view(contract_store):
    by_trace = draft_scaffold(contract_store, ["contract"], author=DANA)
    by_model = draft_scaffold(contract_store, ["contract"], author=DANA, by_model=MOCK, completion=answering())
    pairs = drafts_of_trace(contract_store, "contract")
    assert [(v.scaffold_id, v.content.provenance.method) for v, _ in pairs] == [
        (by_trace.version.scaffold_id, "trace"), (by_model.version.scaffold_id, "model")]
    assert [m for _, m in pairs] == [by_trace.compression, by_model.compression]


def test_the_local_model_compresses_a_sample_trace_into_a_draft_or_says_in_one_line_why_not(local_entry):
    with Store(":memory:") as store:
        import_files(store, [SAMPLES / "legal-msa-teacher-70b.json"])
        lines = []
        try:
            draft = draft_scaffold(store, ["legal-msa-teacher-70b"], author=DANA, by_model=local_entry,
                                   progress=lines.append)
        except ScaffoldError as exc:
            assert "\n" not in str(exc) and str(exc).startswith("the model's draft is unusable: ")
            assert store.list_scaffolds() == []
        else:
            version = draft.version
            assert version.status == ScaffoldStatus.DRAFT and version.content.subproblems
            assert version.content.provenance.method == "model"
            assert version.comment.startswith("compressed by local from legal-msa-teacher-70b: ")
            assert draft.compression.scaffold_bytes < draft.compression.trace_bytes
        assert lines[-1] == "writing the draft from 6 first-level steps"


# ------------------------------------------------------------------ the command line and the page


@pytest.fixture
def mock_models(tmp_path, monkeypatch):
    """The operator's models file naming the mock compressor, and litellm answering it through mock_response."""
    models = tmp_path / "models.toml"
    models.write_text(f'[models.{MOCK.name}]\nmodel = "{MOCK.model}"\napi_base = "{MOCK.api_base}"\n')
    monkeypatch.setenv("TRELLIS_MODELS", str(models))
    real = litellm.completion
    answers = {"final": json.dumps(FINAL)}

    def completion(messages, **kwargs):
        prompt = messages[-1]["content"]
        answer = answers["final"] if prompt.startswith("The task:") else json.dumps({"summary": "a compressed step"})
        return real(model=kwargs["model"], messages=messages, mock_response=answer)

    monkeypatch.setattr(litellm, "completion", completion)
    return answers


def test_cli_scaffold_extract_by_model_saves_a_draft_and_says_how_it_was_made(capsys, tmp_path, mock_models):
    from core.cli import main

    db = str(tmp_path / "cli.duckdb")
    with Store(db) as store:
        store_run(store, contract_trace())
    assert main(["scaffold", "extract", "contract", "--by-model", MOCK.name, "--db", db]) == 0
    out, err = capsys.readouterr()
    scaffold_id, version, status = out.strip().split("\t")
    assert (version, status) == ("version 1", "draft")
    assert "… compressing B1 (1 of 3): Review the processor duties" in err
    assert "… writing the draft from 3 first-level steps" in err
    assert "compression: " in err and "3 of 3 first-level sub-problems kept" in err
    with Store(db) as store:
        saved = store.get_scaffold(scaffold_id)
    assert saved.content.provenance.method == "model" and saved.comment.startswith("compressed by mock-compressor")

    mock_models["final"] = "Sorry, no."
    assert main(["scaffold", "extract", "contract", "--by-model", MOCK.name, "--db", db]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines()[-1].startswith("error: the model's draft is unusable: Invalid JSON")
    assert main(["scaffold", "extract", "contract", "--by-model", "nobody", "--db", db]) == 1
    assert capsys.readouterr().err.splitlines()[-1].startswith("error: no model named 'nobody' is configured")
    with Store(db) as store:
        assert [s.scaffold_id for s in store.list_scaffolds()] == [scaffold_id]  # the failures saved nothing


@pytest.fixture
def app_db(tmp_path, monkeypatch, mock_models):
    path = tmp_path / "trellis.duckdb"
    with Store(path) as store:
        import_files(store, [SAMPLES / "legal-msa-teacher-70b.json"])
    monkeypatch.setenv("TRELLIS_STORE", str(path))
    mock_models["final"] = json.dumps({"title": "**Bold** <b>title</b>", "steps": [
        {"instruction": "Split the contract <b>by heading</b>", "output_shape": "list of sections"},
        {"instruction": "Review each **section** for risk"}], "aggregation": "merge by [severity](http://x.example)"})
    return path


def open_page(**query):
    from streamlit.testing.v1 import AppTest

    from pages import PAGES
    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update(query)
    at.switch_page(str(PAGES["scaffolds"].file))
    return at.run()


def test_page_makes_a_model_draft_and_shows_two_drafts_of_the_trace_side_by_side(app_db):
    at = open_page()
    at.radio(key="new_mode").set_value("one trace, compressed by a model").run()
    assert at.selectbox(key="new_model").options == [MOCK.name]  # the operator's models only, never a typed endpoint
    at.selectbox(key="new_trace").set_value("legal-msa-teacher-70b")
    next(b for b in at.button if b.label == "Extract a draft").click().run()
    assert not at.exception and not at.error
    assert "v1 as a draft. Compression:" in at.success[0].value.replace("\\", "")
    model_id = at.query_params["scaffold"][0] if isinstance(at.query_params["scaffold"], list) else at.query_params["scaffold"]
    with Store(app_db) as store:
        by_trace = draft_scaffold(store, ["legal-msa-teacher-70b"], author=DANA)
        expected = {v.scaffold_id: m.describe() for v, m in drafts_of_trace(store, "legal-msa-teacher-70b")}

    at = open_page(scaffold=model_id, tab="Side by side")
    assert not at.exception
    left, right = at.selectbox(key=f"side:left:{model_id}"), at.selectbox(key=f"side:right:{model_id}")
    assert (left.value, right.value) == (model_id, by_trace.version.scaffold_id)
    texts = [t.value for t in at.text]
    assert f"compression: {expected[model_id]}" in texts
    assert f"compression: {expected[by_trace.version.scaffold_id]}" in texts
    outlines = [c.value for c in at.code]
    assert any("1. Split the contract <b>by heading</b>" in c and "Drawn from (model)" in c for c in outlines)
    assert any("Drawn from (trace)" in c for c in outlines)
    assert all("<b>" not in m.value and "**section**" not in m.value for m in [*at.markdown, *at.caption])
