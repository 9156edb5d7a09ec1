"""Security issue 10 in real Chromium: a visitor cannot make the server send a trace, or its key, to an
address of their choosing. Two loopback listeners record every request: the attacker's, which must see
nothing, and the operator's configured endpoint, the positive control, which must see the request with
its own key, so the test proves it can see traffic at all."""

import json
import re
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from core import Store
from tests.support.browser_support import choose, open_app, serve, wait_until_idle
from tests.support.explorer_library import build_library
from tests.support.http_listener import Listener

pytestmark = pytest.mark.browser

SECRET = "sk-test-secret"  # the server's own OPENAI_API_KEY
OPERATOR_KEY = "sk-operator-local"
STUDENT = "legal-msa-student-8b"
MARKER = "Reached through the operator's configured endpoint."
OPERATOR_ANSWER = json.dumps({"findings": [{"node_id": None, "category": "other", "severity": "low", "rationale": MARKER}]})
OPTIONS = ["trellis/structural", "operator-local · openai/local-teacher"]


@contextmanager
def app_with_models(folder, operator: Listener):
    """The real app, with OPENAI_API_KEY set server-side and a models file naming the operator's endpoint.

    Yields the URL and the database path; the database is read after the server has stopped."""
    models = folder / "trellis-models.toml"
    models.write_text(
        f'[models.operator-local]\nmodel = "openai/local-teacher"\napi_base = "{operator.url}"\n'
        'api_key_env = "TRELLIS_OPERATOR_KEY"\n'
    )
    db = folder / "trellis.duckdb"
    build_library(db, folder / "traces")
    env = {"OPENAI_API_KEY": SECRET, "TRELLIS_OPERATOR_KEY": OPERATOR_KEY, "TRELLIS_MODELS": str(models)}
    with serve(db, env=env) as url:
        yield url, db


def expand_teacher_model(page) -> None:
    page.get_by_text("Teacher model").click()
    wait_until_idle(page)


def teacher_choices(page) -> list[str]:
    page.get_by_role("combobox", name="Teacher").click()
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return options


def run_critique(page) -> None:
    page.get_by_role("button", name="Run critique").click()
    expect(page.get_by_text(re.compile(r"^\d+ proposed annotations$"))).to_be_visible()
    wait_until_idle(page)


def stored_runs(db) -> str:
    with Store(db) as store:
        return json.dumps([r.model_dump(mode="json") for r in store.list_critique_runs(STUDENT)])


def test_a_visitor_cannot_point_the_teacher_at_their_own_listener(page, tmp_path):
    with Listener() as attacker, Listener(OPERATOR_ANSWER) as operator:
        with app_with_models(tmp_path, operator) as (url, db):
            query = urlencode({"trace": STUDENT, "teacher": "openai/gpt-4o-mini", "model": "openai/gpt-4o-mini",
                               "api_base": attacker.url, "base_url": attacker.url})
            open_app(page, f"{url}/critique?{query}")
            expand_teacher_model(page)

            # Every free-text field on the page, filled as an attacker would fill it.
            for box in page.get_by_role("textbox").all():
                label = box.get_attribute("aria-label") or ""
                if label == "Your name":
                    box.fill("Mallory")
                else:
                    box.fill("openai/gpt-4o-mini" if re.search("model|teacher", label, re.I) else attacker.url)
                box.press("Enter")
                wait_until_idle(page)
            # And every choice box, typed into.
            for box in page.get_by_role("combobox").all():
                box.click()
                page.keyboard.type(attacker.url)
                page.keyboard.press("Enter")
                page.keyboard.press("Escape")
                wait_until_idle(page)

            run_critique(page)
            shown = page.content()
            assert attacker.requests == [], f"the server called the visitor's address: {attacker.seen()[:300]}"
            assert teacher_choices(page) == OPTIONS
        runs = stored_runs(db)

    assert attacker.requests == [] and operator.requests == []
    assert SECRET not in shown and SECRET not in runs and SECRET.encode() not in db.read_bytes()
    assert [r["teacher"] for r in json.loads(runs)] == ["trellis/structural"]
    assert page.dialogs == []


def test_an_operator_configured_endpoint_receives_the_request_with_its_own_key(page, tmp_path):
    with Listener() as attacker, Listener(OPERATOR_ANSWER) as operator:
        with app_with_models(tmp_path, operator) as (url, db):
            open_app(page, f"{url}/critique?trace={STUDENT}")
            expand_teacher_model(page)
            assert teacher_choices(page) == OPTIONS
            choose(page, page.get_by_role("combobox", name="Teacher"), OPTIONS[1])
            run_critique(page)
            expect(page.get_by_text(MARKER, exact=True)).to_be_visible()
            shown = page.content()
        runs = stored_runs(db)

    assert attacker.requests == []
    assert [r["path"] for r in operator.requests] == ["/v1/chat/completions"]
    assert operator.requests[0]["headers"]["authorization"] == f"Bearer {OPERATOR_KEY}"
    assert "<student_trace>" in operator.requests[0]["body"]  # the trace went there, as configured
    assert SECRET not in operator.seen() and SECRET not in shown and SECRET not in runs
    assert OPERATOR_KEY not in shown and OPERATOR_KEY not in runs
    assert [r["teacher"] for r in json.loads(runs)] == ["openai/local-teacher"]
