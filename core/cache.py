"""Loaded traces kept in memory within a byte budget, for a server that many people share.

A 1,000,000-node trace takes about 2.3 GB once loaded, so a cache that counts
entries (six traces) can take a server past its memory. ``TraceCache`` counts
estimated bytes instead: the least recently used entries go first when the
budget is exceeded or the machine runs short of memory, and a value larger
than the whole budget is handed back but not kept.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextlib import suppress
from pathlib import Path
from typing import Any, TypeVar

from core.align import Alignment
from core.explore import TraceStats
from core.figures import Overview
from core.models import SEARCHED_FIELDS
from core.traceview import TraceView

BUDGET_VARIABLE = "TRELLIS_CACHE_MB"
DEFAULT_BUDGET_MB = 2048
LOW_MEMORY_SHARE = 0.10  # evict down when less than this share of the machine's memory is available

T = TypeVar("T")
_MISSING = object()


def budget_from_environment() -> int:
    """The operator's budget in bytes: $TRELLIS_CACHE_MB megabytes, else DEFAULT_BUDGET_MB."""
    value = os.environ.get(BUDGET_VARIABLE, "").strip()
    try:
        megabytes = float(value) if value else DEFAULT_BUDGET_MB
    except ValueError:
        raise ValueError(f"{BUDGET_VARIABLE} must be a number of megabytes, not {value!r}") from None
    return int(max(megabytes, 0) * 1024 * 1024)


class TraceCache:
    """Values built once and shared by every session, kept while their estimated bytes fit ``budget``.

    Safe to use from many threads; a value is built once even when several sessions ask for it at once.
    """

    def __init__(self, budget: int, *, memory_low: Callable[[], bool] | None = None):
        self.budget = budget
        self._memory_low = memory_low or machine_memory_low
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()  # least recently used first
        self._used = 0
        # A Streamlit session holds the trace it shows (its widgets' callbacks see the page's variables)
        # until it shows another page, or, once disconnected, for server.disconnectedSessionTTL.
        # A value evicted or too big to keep is handed to the next session from here while anyone
        # holds it, so memory holds at most one copy of a trace, never one per session.
        self._held: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    @property
    def used(self) -> int:
        return self._used

    def keys(self) -> list[Hashable]:
        """What is kept, least recently used first."""
        with self._lock:
            return list(self._entries)

    def get(self, key: Hashable, build: Callable[[], T], size: Callable[[Any], int] | None = None) -> T:
        """The value kept under ``key``, else ``build()``'s, kept if its size (``estimated_bytes``) fits."""
        with self._lock:
            value = self._lookup(key)
            if value is not _MISSING:
                return value
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                value = self._lookup(key)  # another session may have built it meanwhile
                if value is not _MISSING:
                    return value
            try:
                value = build()
            finally:
                with self._lock:
                    self._building.pop(key, None)
            nbytes = (size or estimated_bytes)(value)
            with self._lock:
                if nbytes <= self.budget:
                    self._entries[key] = (value, nbytes)
                    self._used += nbytes
                with suppress(TypeError):  # not every value can be referenced weakly
                    self._held[key] = value
                self._evict(keep=key)
            return value

    def _lookup(self, key: Hashable) -> Any:
        if key in self._entries:
            self._entries.move_to_end(key)
            self._evict(keep=key)
            return self._entries[key][0]
        return self._held.get(key, _MISSING)

    def _evict(self, keep: Hashable) -> None:
        """Drop the least recently used entries until the rest fit; all but ``keep`` when memory is low."""
        evicted = False
        for oldest in [k for k in self._entries if k != keep]:  # least recently used first
            if self._used <= self.budget and not self._memory_low():
                break
            self._used -= self._entries.pop(oldest)[1]
            evicted = True
        if evicted:
            _return_freed_memory()


# ------------------------------------------------------------------ sizes

# Measured with tracemalloc on generated traces: a node's model, dict, datetimes and
# tree-index entries, plus the totals the overview adds, about 2 KB besides its text.
NODE_BYTES = 2000
SEGMENT_BYTES = 1000  # one overview segment's plotly objects
PAIR_BYTES = 300  # one aligned pair or unmatched node, with its lookup entries


def estimated_bytes(value: Any) -> int:
    """About how much memory a cached value holds."""
    if isinstance(value, TraceView):
        return view_bytes(value)
    if isinstance(value, Overview):
        return SEGMENT_BYTES * len(value.segment_nodes)
    if isinstance(value, Alignment):
        return PAIR_BYTES * (len(value.matches) + len(value.left_only) + len(value.right_only))
    if isinstance(value, TraceStats):
        return 10_000 + 100 * len(value.failed) + 16 * len(value.nodes_per_level)
    return 10_000


def view_bytes(view: TraceView) -> int:
    """A trace view's nodes and their text, counted twice: search keeps a lower-cased copy of it."""
    nodes = view.nodes.values()
    text = sum(sum(len(getattr(n, name) or "") for name in SEARCHED_FIELDS) for n in nodes)
    other = sum(len(n.model or "") + _data_bytes(n.metadata) for n in nodes)
    return NODE_BYTES * len(view.nodes) + 2 * text + other + _data_bytes(view.trace.model_dump())


def _data_bytes(value: Any) -> int:
    """About how much a JSON-like value holds: its strings' lengths, plus a little per item."""
    if not value:
        return 0
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(64 + _data_bytes(k) + _data_bytes(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(16 + _data_bytes(v) for v in value)
    return 32


# ---------------------------------------------------------- memory pressure


def machine_memory_low() -> bool:
    """Whether less than LOW_MEMORY_SHARE of the memory this process may use is available.

    The machine's figure comes from /proc/meminfo; in a container with a memory
    limit (cgroup v2), the room left under that limit counts when it is smaller.
    """
    try:
        info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        total = int(info["MemTotal"].split()[0]) * 1024
        available = int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return False  # not Linux: no pressure signal, the byte budget alone bounds the cache
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            current = int(Path("/sys/fs/cgroup/memory.current").read_text())
            total, available = min(total, int(limit)), min(available, int(limit) - current)
    except (OSError, ValueError):
        pass
    return available < LOW_MEMORY_SHARE * total


def _load_libc() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


_LIBC = _load_libc()


def _return_freed_memory() -> None:
    # A trace's text lives in many malloc'd blocks; glibc keeps freed ones for reuse, so without
    # a trim the server's RSS stays at its peak after a big trace is evicted.
    if _LIBC is not None and hasattr(_LIBC, "malloc_trim"):
        _LIBC.malloc_trim(0)
