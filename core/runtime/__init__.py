"""A real model with no keys and no network: shipped GGUF weights served by llama.cpp on loopback.

``serve`` starts ``python -m core.runtime.server`` on a free loopback port, waits until it answers,
and records it in a state file beside the database (``trellis.lake.model.json``, its log in
``trellis.lake.model.log``); ``stop`` ends that process, and only it: the recorded pid, while it
is still our server. While it runs, the model catalog of that database's app and CLI offers it as
the entry ``local`` (``openai/ALIAS`` at its URL, no key), the same litellm path as any provider.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from core.errors import TrellisError
from core.runtime.shipped import SHIPPED, NoWeights, installed, lookup, model_file
from core.store.connection import Place

__all__ = ["LocalModelError", "NoWeights", "ServerState", "ShippedInfo", "list_models", "prepare", "running", "serve",
           "state_path", "status", "stop"]

STATE_SUFFIX = ".model.json"  # beside the database: trellis.lake.model.json
LOG_SUFFIX = ".model.log"
# A run's calls take up to ~2,500 tokens; a critique prompt is cut to fit (docs/models.md): at 8,192 the sample
# critique takes ~4 minutes on one thread, at 16,384 it is sent whole and takes over 10.
DEFAULT_CONTEXT = 8192
START_TIMEOUT = 300.0  # seconds for the model to load; generous for a loaded 2-core machine
SERVER_MODULE = "core.runtime.server"


class LocalModelError(TrellisError):
    """The local model cannot be served, stopped or reached as asked."""


class RuntimeMissing(LocalModelError):
    """llama.cpp's runtime (xllamacpp) is not installed."""


class PortBusy(LocalModelError):
    """The port asked for is taken."""


class ServerDied(LocalModelError):
    """The server process ended before it answered."""


class StaleState(LocalModelError):
    """A state file names a server that is no longer running."""


class NotServing(LocalModelError):
    """No local model is being served."""


@dataclass(frozen=True)
class ServerState:
    """What `trellis model serve` records, and `status` prints."""

    pid: int
    port: int
    alias: str
    model_file: str
    url: str  # the OpenAI-compatible base URL, …/v1
    started: datetime
    context: int
    threads: int
    log: str


@dataclass(frozen=True)
class ShippedInfo:
    name: str
    title: str
    licence: str
    publisher: str
    packages: list[str]
    size_mb: float
    context: int
    installed: bool
    default: bool


def state_path(db: str | Path) -> Path:
    """Where the server serving beside database ``db`` is recorded."""
    if str(db) == ":memory:":
        raise LocalModelError("the local model is recorded beside a database file; :memory: has none")
    if Place.of(db).kind == "postgres":  # a store with no folder here: the record lies in the working folder
        return Path(f"trellis-postgres{STATE_SUFFIX}")
    return Path(f"{db}{STATE_SUFFIX}")


def list_models() -> list[ShippedInfo]:
    """Every model Trellis knows how to serve, and whether its packages are installed."""
    present = [m for m in SHIPPED if installed(m)]
    return [ShippedInfo(m.name, m.title, m.licence, m.publisher, m.packages, round(m.size / 1e6, 1), m.context,
                        m in present, bool(present) and m is present[0]) for m in SHIPPED]


def prepare(model: str | None = None) -> Path:
    """Check that the runtime is installed and the weights are whole (joining split ones once): the GGUF file.
    `make` runs this once per environment (its .runtime stamp), so the first serve does not."""
    _require_runtime()
    return model_file(lookup(model), Path.cwd())


def serve(model: str | None = None, *, port: int | None = None, context: int = DEFAULT_CONTEXT, threads: int = 1,
          db: str | Path, timeout: float = START_TIMEOUT) -> ServerState:
    """Start the server, wait until it answers, record it beside ``db``. A stale state file is replaced."""
    path = state_path(db)
    _require_runtime()
    current = _read(path)
    if current is not None and _is_ours(current):
        raise LocalModelError(f"a local model is already served on port {current.port} (pid {current.pid}); "
                              "`trellis model stop` first")
    chosen = lookup(model)
    if context > chosen.context:
        raise LocalModelError(f"model {chosen.name} has a {chosen.context}-token window; --ctx {context} is larger")
    gguf = model_file(chosen, path.resolve().parent)
    port = _free_port(port)
    log = Path(str(path).removesuffix(STATE_SUFFIX) + LOG_SUFFIX)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", SERVER_MODULE, "--model", str(gguf), "--port", str(port), "--alias", chosen.name,
             "--ctx", str(context), "--threads", str(threads)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=Path(__file__).resolve().parents[2])
    state = ServerState(pid=process.pid, port=port, alias=chosen.name, model_file=str(gguf),
                        url=f"http://127.0.0.1:{port}/v1", started=datetime.now(timezone.utc), context=context,
                        threads=threads, log=str(log))
    deadline = time.monotonic() + timeout
    while not _answers(state):
        if process.poll() is not None:
            raise ServerDied(f"the local model server exited ({process.returncode}) before answering: {_tail(log)}")
        if time.monotonic() > deadline:
            _end(process.pid)
            raise ServerDied(f"the local model server did not answer within {timeout:g} s: {_tail(log)}")
        time.sleep(0.2)
    _write(path, state)
    return state


def status(db: str | Path) -> ServerState | None:
    """The running server, or None; a state file whose server is gone is a StaleState error."""
    path = state_path(db)
    state = _read(path)
    if state is None:
        return None
    if not _is_ours(state):
        raise StaleState(f"{path}: stale: pid {state.pid} is no longer our server; "
                         "`trellis model stop` clears it")
    return state


def running(db: str | Path) -> ServerState | None:
    """The server if it is running and answers now (what the model catalog offers); never raises."""
    try:
        state = _read(state_path(db))
    except LocalModelError:
        return None
    return state if state is not None and _is_ours(state) and _answers(state, timeout=2.0) else None


def stop(db: str | Path) -> ServerState:
    """End the recorded server (its pid, if it is still ours) and remove the state file.

    A stale state file is removed and reported as StaleState: no process is signalled."""
    path = state_path(db)
    state = _read(path)
    if state is None:
        raise NotServing(f"no local model is being served beside {db}")
    if not _is_ours(state):
        path.unlink(missing_ok=True)
        raise StaleState(f"{path}: stale: pid {state.pid} was no longer our server; removed the state file, "
                         "signalled nothing")
    _end(state.pid)
    path.unlink(missing_ok=True)
    return state


# ------------------------------------------------------------ helpers


def _require_runtime() -> None:
    if importlib.util.find_spec("xllamacpp") is None:
        raise RuntimeMissing("the local model runtime (xllamacpp) is not installed: run `make setup`")


def _read(path: Path) -> ServerState | None:
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
        fields["started"] = datetime.fromisoformat(fields["started"])
        return ServerState(**fields)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise StaleState(f"{path}: not a state file Trellis wrote ({exc}); remove it") from None


def _write(path: Path, state: ServerState) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({**asdict(state), "started": state.started.isoformat()}, indent=2) + "\n")
    os.replace(partial, path)


def _is_ours(state: ServerState) -> bool:
    """Whether the recorded pid is alive and is still our server on the recorded port (not a reused pid)."""
    try:
        os.kill(state.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process now holds the pid
    try:
        argv = Path(f"/proc/{state.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (not Linux): the live pid is all we can check
    return SERVER_MODULE.encode() in argv and str(state.port).encode() in argv


def _answers(state: ServerState, timeout: float = 2.0) -> bool:
    """llama.cpp's /health is 200 once the model is loaded (503 while loading)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{state.port}/health", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _free_port(port: int | None) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port or 0))
        except OSError:
            raise PortBusy(f"port {port} on 127.0.0.1 is already in use; pick another with --port, "
                           "or leave it out for a free one") from None
        return sock.getsockname()[1]


def _end(pid: int, grace: float = 10.0) -> None:
    """SIGTERM the pid, then SIGKILL if it has not exited within ``grace`` seconds."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return  # our child, now reaped
        except ChildProcessError:
            pass  # not our child (another trellis process started it): poll until it is gone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _tail(log: Path, lines: int = 4) -> str:
    """The last lines of the server's log, as one line."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"no log at {log}"
    last = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(last)[-600:] or f"nothing in {log}"
