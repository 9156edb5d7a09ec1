"""The byte-bounded cache of loaded traces, with real TraceViews from a real store."""

import threading

import pytest

from core import import_files
from core.cache import BUDGET_VARIABLE, DEFAULT_BUDGET_MB, TraceCache, budget_from_environment, estimated_bytes
from core.traceview import TraceView
from tests.conftest import trellis_json


def add_trace(store, tmp_path, trace_id: str, nodes: int, text: str = "short") -> TraceView:
    records = [{"id": "root", "kind": "decompose", "subproblem": text}] + [
        {"id": f"n{i}", "parent_id": "root", "order": i, "kind": "leaf", "subproblem": text, "output": text}
        for i in range(nodes - 1)
    ]
    path = tmp_path / f"{trace_id}.json"
    path.write_text(trellis_json(trace_id, records))
    import_files(store, [path])
    return TraceView.build(store.load_trace(trace_id))


def test_the_size_estimate_grows_with_nodes_and_text(store, tmp_path):
    small = estimated_bytes(add_trace(store, tmp_path, "small", 10))
    more_nodes = estimated_bytes(add_trace(store, tmp_path, "more", 1000))
    more_text = estimated_bytes(add_trace(store, tmp_path, "text", 10, text="x" * 100_000))
    assert more_nodes > 50 * small
    # 19 fields of 100,000 characters, counted at least once each.
    assert more_text > small + 19 * 100_000


def test_the_least_recently_used_trace_goes_first(store, tmp_path):
    for name in "abc":
        add_trace(store, tmp_path, name, 200)
    cache = TraceCache(int(2.5 * estimated_bytes(TraceView.build(store.load_trace("a")))), memory_low=lambda: False)
    builds = []

    def get(name):
        # Nothing here holds on to a view, so one evicted is gone and is built again.
        return cache.get(name, lambda: builds.append(name) or TraceView.build(store.load_trace(name))).trace.id

    get("a"), get("b"), get("a")  # a is now the most recently used
    get("c")
    assert cache.keys() == ["a", "c"]
    assert cache.used <= cache.budget
    get("a")
    assert builds == ["a", "b", "c"]  # served from the cache, not built again
    get("b")
    assert cache.keys() == ["a", "b"] and builds == ["a", "b", "c", "b"]


def test_a_trace_bigger_than_the_whole_budget_is_served_but_not_kept(store, tmp_path):
    small, big = add_trace(store, tmp_path, "small", 10), add_trace(store, tmp_path, "big", 2000)
    cache = TraceCache(estimated_bytes(big) // 2, memory_low=lambda: False)
    cache.get("small", lambda: small)
    assert cache.get("big", lambda: big) is big
    assert cache.keys() == ["small"]
    assert cache.used == estimated_bytes(small)


def test_a_trace_not_kept_is_shared_while_a_session_holds_it(store, tmp_path):
    add_trace(store, tmp_path, "big", 2000)
    cache = TraceCache(1000, memory_low=lambda: False)
    builds = []

    def build():
        builds.append(1)
        return TraceView.build(store.load_trace("big"))

    held = cache.get("big", build)
    assert cache.get("big", build) is held and builds == [1]  # a second session gets the same copy
    del held
    cache.get("big", build)
    assert builds == [1, 1]  # nobody held it any more: built again


def test_memory_pressure_leaves_only_the_trace_in_use(store, tmp_path):
    views = {name: add_trace(store, tmp_path, name, 50) for name in "abc"}
    low = False
    cache = TraceCache(10**12, memory_low=lambda: low)
    for name in "abc":
        cache.get(name, lambda name=name: views[name])
    assert cache.keys() == ["a", "b", "c"]
    low = True
    cache.get("b", lambda: pytest.fail("b is kept"))
    assert cache.keys() == ["b"]
    assert cache.used == estimated_bytes(views["b"])


def test_sessions_asking_at_once_build_a_trace_once(store, tmp_path):
    view = add_trace(store, tmp_path, "t", 50)
    cache = TraceCache(10**12, memory_low=lambda: False)
    builds, started = [], threading.Event()

    def build():
        builds.append(1)
        started.wait(5)
        return view

    threads = [threading.Thread(target=cache.get, args=("t", build)) for _ in range(4)]
    for t in threads:
        t.start()
    started.set()
    for t in threads:
        t.join()
    assert builds == [1]


def test_the_budget_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(BUDGET_VARIABLE, raising=False)
    assert budget_from_environment() == DEFAULT_BUDGET_MB * 1024 * 1024
    monkeypatch.setenv(BUDGET_VARIABLE, "512")
    assert budget_from_environment() == 512 * 1024 * 1024
    monkeypatch.setenv(BUDGET_VARIABLE, "lots")
    with pytest.raises(ValueError, match=BUDGET_VARIABLE):
        budget_from_environment()
