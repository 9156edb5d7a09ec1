"""Real RLM logs for tests, written by ``rlms`` itself against a scripted local model.

``FakeChatServer`` is a tiny OpenAI-compatible ``/v1/chat/completions`` server
on 127.0.0.1 whose "model" is a Python function of the message list.
``run_rlm`` points an ``rlm.RLM`` at it (backend "openai", environment
"local") with an ``RLMLogger`` writing to a folder, and returns the log.

``recursive_model`` is the main script: every RLM looks at its context on its first
turn (in two code blocks, the second failing), and on its second turn calls
``rlm_query`` on the next level while its context's level is below
``levels``; the deepest RLM calls ``llm_query`` and ``rlm_query`` (which, at
``max_depth``, rlms turns into a plain LM call) and every RLM answers with
``answer["ready"] = True``. ``failing_child_model`` makes a sub-RLM fail.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import patch

from rlm.core.types import (
    CodeBlock,
    ModelUsageSummary,
    REPLResult,
    RLMChatCompletion,
    RLMIteration,
    RLMMetadata,
    UsageSummary,
)
from rlm.logger import RLMLogger, rlm_logger

Model = Callable[[list[dict]], str]


class FakeChatServer:
    """``with FakeChatServer(model) as server:`` serves ``server.base_url`` until the block ends."""

    def __init__(self, model: Model):
        self.model = model
        self.requests: list[list[dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                messages = body["messages"]
                outer.requests.append(messages)
                try:
                    content = outer.model(messages)
                except Exception as exc:  # the model "fails": an HTTP 500, which the openai client raises
                    data = json.dumps({"error": {"message": str(exc), "type": "server_error"}}).encode()
                    self.send_response(500)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                prompt_tokens = sum(len(str(m.get("content", ""))) for m in messages) // 4 + 1
                completion_tokens = len(content) // 4 + 1
                reply = {
                    "id": f"fake-{len(outer.requests)}",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model", "fake"),
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                    ],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "total_tokens": prompt_tokens + completion_tokens,
                    },
                }
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FakeChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


LOOK = """Let me look at the context first.
```repl
print(context[:100])
```
```repl
print(undefined_name)
```"""

RECURSE = """Now I split the task.
```repl
level = int(context.split()[1].rstrip(":"))
if level < LEVELS:
    sub = rlm_query(f"level {level + 1}: the part below level {level}")
else:
    sub = llm_query(f"leaf question at level {level}") + " + " + rlm_query("one level too deep")
answer["content"] = f"L{level}[{sub}]"
answer["ready"] = True
```"""


def recursive_model(levels: int) -> Model:
    def model(messages: list[dict]) -> str:
        if not messages or messages[0].get("role") != "system":  # a plain sub-LM call
            return f"leaf answer to {messages[-1]['content']!r}"
        turns = sum(1 for m in messages if m.get("role") == "assistant")
        return LOOK if turns == 0 else RECURSE.replace("LEVELS", str(levels))

    return model


def failing_child_model(messages: list[dict]) -> str:
    """The root asks a sub-RLM to "EXPLODE"; the model fails once that word is in front of it."""
    if not messages or messages[0].get("role") != "system":
        return "leaf"
    if any(m.get("role") == "user" and "EXPLODE" in str(m.get("content")) for m in messages):
        raise RuntimeError("the model broke down")
    if sum(1 for m in messages if m.get("role") == "assistant") == 0:
        return LOOK
    return '```repl\nanswer["content"] = rlm_query("EXPLODE, please")\nanswer["ready"] = True\n```'


def run_rlm(
    log_dir: Path, base_url: str, prompts: list[str], *, max_depth: int, root_prompt: str | None = None
) -> Path:
    """Run one RLM (one ``completion()`` per prompt) against the fake server; the path of its log."""
    from rlm import RLM

    logger = RLMLogger(log_dir=str(log_dir))
    rlm = RLM(
        backend="openai",
        backend_kwargs={"base_url": base_url, "api_key": "test", "model_name": "fake", "max_retries": 0, "timeout": 30},
        environment="local",
        max_depth=max_depth,
        max_iterations=4,
        logger=logger,
    )
    with rlm:
        for prompt in prompts:
            rlm.completion(prompt, root_prompt=root_prompt)
    return Path(logger.log_file_path)


def deep_log(log_dir: Path, levels: int) -> Path:
    """A log of a chain of ``levels`` nested rlm_query calls, made with rlms's own types and logger.

    Running rlms that deep is not possible (each level costs the process ~15
    Python frames and a thread, and the log line nests 8 JSON containers a
    level), so the trajectory is built bottom-up from ``RLMIteration``,
    ``REPLResult`` and ``RLMChatCompletion`` exactly as ``RLM._subcall`` nests
    them, each child's trajectory captured by an in-memory ``RLMLogger``.
    """
    settings = dict(
        backend="openai", backend_kwargs={"model_name": "fake"}, environment_type="local", environment_kwargs={}
    )
    usage = UsageSummary(
        model_usage_summaries={"fake": ModelUsageSummary(total_calls=1, total_input_tokens=10, total_output_tokens=2)}
    )
    call = RLMChatCompletion(
        root_model="fake", prompt=f"level {levels + 1}", response="leaf", usage_summary=usage, execution_time=0.01
    )

    def iteration(level: int, sub_call: RLMChatCompletion) -> RLMIteration:
        answer = f"answer {level}"
        code = f'answer["content"] = rlm_query("level {level + 1}")\nanswer["ready"] = True'
        result = REPLResult(
            stdout="",
            stderr="",
            locals={"context": f"level {level}"},
            execution_time=0.01,
            rlm_calls=[sub_call],
            final_answer=answer,
        )
        return RLMIteration(
            prompt=[{"role": "user", "content": f"level {level}"}],
            response=f"```repl\n{code}\n```",
            code_blocks=[CodeBlock(code=code, result=result)],
            final_answer=answer,
            iteration_time=0.02,
        )

    def metadata() -> RLMMetadata:
        return RLMMetadata(root_model="fake", max_depth=levels + 1, max_iterations=1, **settings)

    for level in range(levels, 0, -1):
        child_logger = RLMLogger()  # in memory, as RLM._subcall gives each child
        child_logger.log_metadata(metadata())
        child_logger.log(iteration(level, call))
        call = RLMChatCompletion(
            root_model="fake",
            prompt=f"level {level}",
            response=f"answer {level}",
            usage_summary=usage,
            execution_time=0.03,
            metadata=child_logger.get_trajectory(),
        )
    logger = RLMLogger(log_dir=str(log_dir))
    logger.log_metadata(metadata())
    # RLMLogger writes with json.dump, which recurses once per JSON container (past
    # Python's recursion limit here) and nests a generator per level (5 s for this
    # line once the limit is raised). dumps_iterative writes the same bytes.
    with patch.object(rlm_logger, "json", SimpleNamespace(dump=lambda value, file: file.write(dumps_iterative(value)))):
        logger.log(iteration(0, call))
    return Path(logger.log_file_path)


class _Raw(str):
    """Text to write as is."""


def dumps_iterative(value) -> str:
    """``json.dumps(value)`` (same separators, same bytes) without recursion."""
    out: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Raw):
            out.append(item)
        elif isinstance(item, (dict, list)):
            dict_ = isinstance(item, dict)
            parts: list = [_Raw("{" if dict_ else "[")]
            for i, element in enumerate(item.items() if dict_ else item):
                if i:
                    parts.append(_Raw(", "))
                if dict_:
                    parts.append(_Raw(json.dumps(str(element[0])) + ": "))
                    element = element[1]
                parts.append(element)
            parts.append(_Raw("}" if dict_ else "]"))
            stack.extend(reversed(parts))
        else:
            out.append(json.dumps(item))
    return "".join(out)
