"""The one place Trellis touches litellm: calling a model (a teacher or a student) and naming what went wrong.

Importing litellm takes seconds, so nothing imports this module at start-up: the teacher and the
runs import it inside the call, only when a real model (or a test's ``completion``) is asked. The
built-in structural critic answers without it. It is also registered here as the litellm provider
``trellis/structural``, so ``litellm.completion(model="trellis/structural", ...)`` answers as the
offline critic does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-list download on import
# A failed call becomes one ModelError line; litellm would also print a traceback per failed fallback.
os.environ.setdefault("LITELLM_LOG", "CRITICAL")
import litellm  # noqa: E402
import openai  # noqa: E402
from litellm.llms.custom_llm import CustomLLM  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from core.critique.structural import answer_from_prompt  # noqa: E402
from core.errors import ModelError, ModelUnanswered  # noqa: E402
from core.model_catalog import STRUCTURAL as STRUCTURAL_TEACHER  # noqa: E402
from core.model_catalog import ModelEntry  # noqa: E402
from core.text import shorten  # noqa: E402


def call(completion: Callable[..., Any] | None, messages: list, kwargs: dict, usage: dict, who: str = "teacher") -> str:
    """The answer text of ``completion`` (default ``litellm.completion``); every failure becomes one
    ``ModelError`` line naming ``who`` was asked. Adds the call's tokens and cost to ``usage``."""
    try:
        response = (completion or litellm.completion)(messages=messages, **kwargs)
    except litellm.Timeout:
        raise ModelUnanswered(f"{who} {kwargs['model']} timed out after {kwargs['timeout']:g} s") from None
    except litellm.AuthenticationError:
        raise ModelError(f"{who} {kwargs['model']}: missing or invalid API key") from None
    except litellm.ContextWindowExceededError as exc:
        raise ModelError(f"{who} {kwargs['model']}: the prompt is over its context window ({_reason(exc)})") from None
    except (litellm.APIConnectionError, litellm.ServiceUnavailableError) as exc:
        raise ModelUnanswered(f"{who} {kwargs['model']} unreachable: {_reason(exc)}") from None
    except openai.OpenAIError as exc:  # every litellm and provider-SDK error derives from it
        if re.search(r"api[_ ]key|credentials", str(exc), re.IGNORECASE):
            raise ModelError(f"{who} {kwargs['model']}: missing or invalid API key ({_reason(exc)})") from None
        raise ModelError(f"{who} {kwargs['model']} unreachable or failed: {_reason(exc)}") from None
    if getattr(response, "usage", None):
        usage["tokens_in"] += response.usage.prompt_tokens or 0
        usage["tokens_out"] += response.usage.completion_tokens or 0
    try:
        usage["cost"] += litellm.completion_cost(completion_response=response) or 0.0
    except Exception:  # noqa: BLE001 - litellm has no price for custom or local models
        pass
    if not response.choices:
        raise ModelError(f"{who} {kwargs['model']} answered with no choices")
    choice = response.choices[0]
    if choice.message.content is None:  # not an empty answer to score: the model said nothing at all
        raise ModelError(f"{who} {kwargs['model']} returned no text (finish reason: {choice.finish_reason})")
    return choice.message.content


def asker(
    entry: ModelEntry, *, seed: int, temperature: float, timeout: float,
    completion: Callable[..., Any] | None = None, progress: Callable[[str], None] = lambda line: None,
    who: str = "student",
) -> Callable[[list[dict[str, str]], int, type[BaseModel] | None], tuple[str, int, int, float]]:
    """``ask(messages, max_tokens, schema) -> (answer, tokens in, tokens out, cost)``: how a runner or an extractor
    asks ``entry``, the answer shaped by ``schema`` where the model's server takes one."""

    def ask(messages: list[dict[str, str]], max_tokens: int, schema: type[BaseModel] | None) -> tuple[str, int, int, float]:
        usage = {"tokens_in": 0, "tokens_out": 0, "cost": 0.0}
        kwargs = {**entry.litellm_kwargs(), "timeout": timeout, "max_tokens": max_tokens, "temperature": temperature,
                  "seed": seed, "num_retries": 0}
        if schema is not None and (answer_format := response_format(entry, schema)) is not None:
            kwargs["response_format"] = answer_format
        progress(f"    asking {entry.name}: {shorten(messages[-1]['content'], 60)}")
        answer = call(completion, messages, kwargs, usage, who=who)
        return answer, usage["tokens_in"], usage["tokens_out"], usage["cost"]

    return ask


def supports_schema(model: str) -> bool:
    """Whether litellm knows ``model`` to accept a JSON schema as its response format."""
    if model == STRUCTURAL_TEACHER:
        return False
    try:
        return bool(litellm.supports_response_schema(model=model))
    except Exception:  # noqa: BLE001 - unknown models: fall back to parse-and-repair
        return False


def response_format(entry: ModelEntry, schema: type[BaseModel]) -> Any:
    """How to ask ``entry`` for JSON of ``schema``: inside a json_object format for a llama.cpp server (which
    refuses OpenAI's json_schema form), as the schema where litellm knows the model takes one, else None (the
    answer is then parsed and checked)."""
    if entry.json_object_schema:
        return {"type": "json_object", "schema": schema.model_json_schema()}
    return schema if supports_schema(entry.model) else None


# litellm prefixes a provider's message with its own class names: "litellm.BadRequestError: OpenAIException - ".
_ERROR_PREFIX = re.compile(r"^(?:(?:litellm\.)?\w+(?:Error|Exception)\s*(?::|-)\s*)+")


def _reason(exc: Exception) -> str:
    """The provider's own message, on one line, without litellm's class-name prefixes."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return (_ERROR_PREFIX.sub("", line) or line)[:300]


class StructuralTeacher(CustomLLM):
    """``trellis/structural`` as a litellm provider: answers with the structural findings the prompt carries."""

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
        return litellm.completion(model=STRUCTURAL_TEACHER, messages=messages, mock_response=answer_from_prompt(messages))


def _register() -> None:
    litellm.suppress_debug_info = True  # it prints provider lists to stdout on every unknown-price lookup
    providers = [p for p in litellm.custom_provider_map if p["provider"] != "trellis"]
    litellm.custom_provider_map = [*providers, {"provider": "trellis", "custom_handler": StructuralTeacher()}]


_register()
