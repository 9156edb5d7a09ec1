"""The store's storage side by side, in one run on the same data: a plain DuckDB file, a DuckLake folder (SQLite
catalog) and a DuckLake on Postgres, each lake with data inlining on (core.store.connection.INLINE_ROWS = 10, the
default) and off (0).

    .venv/bin/python bench/bench_storage.py [--repeats 3] [--reads 5] [--nodes 10000] [--no-postgres]

Every figure is the real ``Store`` and core functions, doing what the app and the CLI do:

* writes, on a fresh store each repeat: create it (migrations), import a generated 10,000-node trace and
  sample_traces/ (``import_files``), comment on a node, critique (``run_critique`` with the structural critic,
  which stores the annotations: the sample student against its teacher, and the 10,000-node trace against the
  sample teacher), a review decision (``review.accept``);
* reads, ``--reads`` times per repeat: open an existing store (what every CLI command pays), one small query,
  the Trace page's first open of the 10,000-node trace (its store reads, then with the view and stats built),
  a node select (the store reads a click makes: revisions, the node's comments, the trace's annotations), the
  Library page's store reads, the Library's full-text search (``search_nodes``) and ``scaffold find``
  (``rank_scaffolds``, over two approved scaffolds).

Each cell is the median (ms) and its ratio to plain DuckDB; the issue's targets are reads within 1.3x and
import within 1.5x. "stmts" is how many SQL statements the operation sends (counted on the plain store): with a
per-statement cost of the catalog, it says where a lake's extra time goes. The Postgres cluster is a throwaway
one (tests/support/postgres.py, Debian's postgresql), a database of its own per store.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import machine  # noqa: E402
from generate import write_jsonl  # noqa: E402

import core.store.connection as connection  # noqa: E402
from core import Store, import_files  # noqa: E402
from core.auth import local_actor  # noqa: E402
from core.critique import review  # noqa: E402
from core.critique.teacher import run_critique  # noqa: E402
from core.explore import trace_stats  # noqa: E402
from core.model_catalog import BUILT_IN, STRUCTURAL  # noqa: E402
from core.scaffolds.drafts import draft_scaffold  # noqa: E402
from core.scaffolds.retrieval import rank_scaffolds  # noqa: E402
from core.traceview import TraceView  # noqa: E402

SAMPLES = ROOT / "sample_traces"
BIG = "bench"  # the generated trace's id
CRITIC = {STRUCTURAL: BUILT_IN}  # the structural critic alone: no models file read
TASK = "review the liability clauses of a supplier contract"  # README's `trellis scaffold find` example
READS = ["open an existing store", "one small query", "trace page open: store reads", "trace page open: all",
         "node select", "library page", "search node text", "scaffold find"]
IMPORTS = ["import 10k-node trace", "import sample_traces"]
WRITES = ["create a store", *IMPORTS, "comment on a node", "critique sample student", "critique 10k-node trace",
          "review decision"]


@dataclass(frozen=True)
class Kind:
    name: str
    place: str  # "file", "lake" or "postgres"
    inline: int | None  # INLINE_ROWS for a lake


KINDS = [Kind("DuckDB file", "file", None), Kind("lake SQLite inl.10", "lake", 10), Kind("lake SQLite inl.0", "lake", 0),
         Kind("lake PG inl.10", "postgres", 10), Kind("lake PG inl.0", "postgres", 0)]


class Places:
    """Fresh store locations, one per kind and repeat; a Postgres store gets a database and data folder of its own."""

    def __init__(self, workdir: Path, postgres_url: str | None):
        self.workdir, self.postgres_url = workdir, postgres_url

    def fresh(self, kind: Kind, label: str) -> str:
        name = f"{kind.place}{kind.inline if kind.inline is not None else ''}_{label}"
        if kind.place == "file":
            return str(self.workdir / f"{name}.duckdb")
        if kind.place == "lake":
            return str(self.workdir / f"{name}.lake")
        from tests.support.postgres import postgres_bin

        url = urlsplit(self.postgres_url)
        subprocess.run([postgres_bin() / "createdb", "-h", url.hostname, "-p", str(url.port), "-U", url.username, name],
                       check=True, capture_output=True)
        return url._replace(path=f"/{name}").geturl()

    def open(self, kind: Kind, location: str) -> Store:
        """Open as the app and CLI do; the inlining limit and the data path are read when a lake is attached."""
        if kind.inline is not None:
            connection.INLINE_ROWS = kind.inline
        if kind.place == "postgres":
            os.environ[connection.DATA_PATH_VARIABLE] = str(self.workdir / f"{urlsplit(location).path[1:]}-data")
        return Store(location)

    def remove(self, kind: Kind, location: str) -> None:
        if kind.place == "file":
            Path(location).unlink()
        elif kind.place == "lake":
            shutil.rmtree(location)


class Figures:
    def __init__(self):
        self.times: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.loads: dict[str, list[float]] = defaultdict(list)

    def timed(self, kind: Kind, what: str, action: Callable[[], object]) -> object:
        start = time.perf_counter()
        result = action()
        self.times[kind.name, what].append(time.perf_counter() - start)
        self.loads[kind.name].append(os.getloadavg()[0])
        return result

    def median_ms(self, kind: Kind, what: str) -> float | None:
        times = self.times.get((kind.name, what))
        return statistics.median(times) * 1000 if times else None


# ---------------------------------------------------------------- what the app and the CLI do


def spread(i: int, nodes: int) -> str:
    """The i-th of nodes spread through the generated trace, as a person clicking around would pick."""
    return f"{BIG}-{i * 997 % nodes}"


def trace_page_reads(store: Store) -> object:
    """The Trace page's store reads on a first open: the picker's list, the revisions, the trace."""
    store.list_traces()
    store.trace_revisions()
    return store.load_trace(BIG)


def trace_page_open(store: Store) -> object:
    """The first open as the page does it: the reads, then the view and the header's statistics."""
    view = TraceView.build(trace_page_reads(store))
    trace_stats(view)
    return view


def node_select(store: Store, node_id: str) -> None:
    """A click on a node: the run's revisions (pages.ui), the node's comments, the trace's annotations (the
    around-the-node picture counts them)."""
    store.trace_revisions()
    store.list_comments(BIG, node_id)
    store.list_annotations(BIG)


def library_page(store: Store) -> None:
    store.list_traces()
    store.library_revision()
    store.node_models()
    store.annotation_counts()
    store.list_runs()
    store.all_tags()


def approve_scaffolds(store: Store) -> None:
    """Two approved scaffolds for `scaffold find` to rank (set up, not timed)."""
    actor = local_actor()
    for trace_id in ("legal-msa-teacher-70b", "incident-checkout-teacher-405b"):
        version = draft_scaffold(store, [trace_id], author=actor).version
        for status in ("in_review", "approved"):
            store.set_scaffold_status(version.scaffold_id, version.version, status, actor=actor)


def writes(figures: Figures, places: Places, kind: Kind, location: str, big: Path, nodes: int) -> None:
    timed = figures.timed
    store = timed(kind, "create a store", lambda: places.open(kind, location))
    with store:
        timed(kind, "import 10k-node trace", lambda: import_files(store, [big]))
        timed(kind, "import sample_traces", lambda: import_files(store, [SAMPLES]))
        approve_scaffolds(store)
        for i in range(5):
            timed(kind, "comment on a node", lambda: store.add_comment(BIG, spread(i, nodes), "checked", local_actor()))
        sample = timed(kind, "critique sample student",
                       lambda: run_critique(store, "legal-msa-student-8b", "legal-msa-teacher-70b", catalog=CRITIC))
        timed(kind, "critique 10k-node trace", lambda: run_critique(store, BIG, "legal-msa-teacher-70b", catalog=CRITIC))
        for annotation in sample.annotations[:5]:
            timed(kind, "review decision", lambda: review.accept(store, annotation.id, local_actor()))


def reads(figures: Figures, places: Places, kind: Kind, location: str, count: int, nodes: int) -> None:
    timed = figures.timed
    for i in range(count):
        timed(kind, "open an existing store", lambda: places.open(kind, location)).close()
    with places.open(kind, location) as store:
        trace_page_reads(store)  # warm: the first read of a connection also loads what DuckDB caches
        for i in range(count):
            timed(kind, "one small query", store.count_traces)
            timed(kind, "trace page open: store reads", lambda: trace_page_reads(store))
            timed(kind, "trace page open: all", lambda: trace_page_open(store))
            timed(kind, "node select", lambda: node_select(store, spread(i + 1, nodes)))
            timed(kind, "library page", lambda: library_page(store))
            timed(kind, "search node text", lambda: store.search_nodes("indemnify"))
            timed(kind, "scaffold find", lambda: rank_scaffolds(store, TASK))


# ---------------------------------------------------------------- statements per operation


class _CountingCursor:
    """A cursor that counts the statements sent through it (the store's SQL is unchanged)."""

    count = 0

    def __init__(self, cursor):
        self._cursor = cursor

    def execute(self, *args, **kwargs):
        _CountingCursor.count += 1
        self._cursor.execute(*args, **kwargs)
        return self

    def __getattr__(self, name):
        return getattr(self._cursor, name)


def statement_counts(workdir: Path, big: Path) -> dict[str, int]:
    """How many statements each operation sends, on a plain DuckDB store."""
    real = connection.Connection._cur
    connection.Connection._cur = property(lambda self: _CountingCursor(real.fget(self)))
    counts = {}

    def counted(what: str, action: Callable[[], object]) -> object:
        _CountingCursor.count = 0
        result = action()
        counts[what] = _CountingCursor.count
        return result

    try:
        location = workdir / "counted.duckdb"
        store = counted("create a store", lambda: Store(location))
        with store:
            counted("import 10k-node trace", lambda: import_files(store, [big]))
            counted("import sample_traces", lambda: import_files(store, [SAMPLES]))
            approve_scaffolds(store)
            counted("comment on a node", lambda: store.add_comment(BIG, f"{BIG}-1", "checked", local_actor()))
            sample = counted("critique sample student",
                             lambda: run_critique(store, "legal-msa-student-8b", "legal-msa-teacher-70b", catalog=CRITIC))
            counted("critique 10k-node trace", lambda: run_critique(store, BIG, "legal-msa-teacher-70b", catalog=CRITIC))
            counted("review decision", lambda: review.accept(store, sample.annotations[0].id, local_actor()))
        counted("open an existing store", lambda: Store(location)).close()
        with Store(location) as store:
            counted("one small query", store.count_traces)
            counted("trace page open: store reads", lambda: trace_page_reads(store))
            counted("trace page open: all", lambda: trace_page_open(store))
            counted("node select", lambda: node_select(store, f"{BIG}-997"))
            counted("library page", lambda: library_page(store))
            counted("search node text", lambda: store.search_nodes("indemnify"))
            counted("scaffold find", lambda: rank_scaffolds(store, TASK))
    finally:
        connection.Connection._cur = real
    return counts


# ---------------------------------------------------------------- the table


def print_table(figures: Figures, kinds: list[Kind], statements: dict[str, int], repeats: int, count: int) -> None:
    plain = kinds[0]
    print(f"\nmedian ms (ratio to {plain.name}); writes: {repeats} fresh stores each, reads: {repeats} x {count}; "
          "* = misses its target (reads 1.3x, imports 1.5x)")
    header = f"{'operation':30} {'stmts':>5} " + " ".join(f"{k.name:>19}" for k in kinds)
    print(header)
    print("-" * len(header))
    for what in [*WRITES, *READS]:
        target = 1.3 if what in READS else 1.5 if what in IMPORTS else None
        base = figures.median_ms(plain, what)
        cells = []
        for kind in kinds:
            ms = figures.median_ms(kind, what)
            if ms is None:
                cells.append(f"{'—':>19}")
                continue
            ratio = ms / base
            miss = "*" if target and ratio > target else " "
            cells.append(f"{ms:9.1f} ({ratio:4.1f}x){miss}" if kind != plain else f"{ms:9.1f}         ")
        print(f"{what:30} {statements.get(what, 0):5} " + " ".join(f"{c:>19}" for c in cells))
    loads = " ".join(f"{min(figures.loads[k.name]):5.1f}-{max(figures.loads[k.name]):<5.1f}".rjust(19) for k in kinds)
    print(f"{'load (1 min) while measured':36} " + loads)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3, help="fresh stores per kind (writes)")
    parser.add_argument("--reads", type=int, default=3, help="reads per repeat")
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(machine.describe())
    print(f"cpu_count {os.cpu_count()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        big = workdir / "big.jsonl"
        write_jsonl(big, args.nodes, trace_id=BIG)
        postgres_url = None
        if not args.no_postgres:
            from tests.support.postgres import postgres_bin, throwaway_postgres

            try:
                postgres_bin()
            except RuntimeError as exc:
                print(f"{exc}: the Postgres columns are left out")
            else:
                postgres_url = stack.enter_context(throwaway_postgres(workdir))
        kinds = [k for k in KINDS if postgres_url or k.place != "postgres"]
        places, figures = Places(workdir, postgres_url), Figures()
        statements = statement_counts(workdir, big)
        for kind in kinds:  # untimed: the first open of each kind pays one-off costs (reading the extension files)
            location = places.fresh(kind, "warm")
            places.open(kind, location).close()
            places.remove(kind, location)
        for repeat in range(args.repeats):  # each repeat goes through every kind, so a busy spell hits all alike
            for kind in kinds[repeat % len(kinds):] + kinds[:repeat % len(kinds)]:
                location = places.fresh(kind, str(repeat))
                writes(figures, places, kind, location, big, args.nodes)
                reads(figures, places, kind, location, args.reads, args.nodes)
                places.remove(kind, location)
            print(f"repeat {repeat + 1} of {args.repeats} done at {time.perf_counter() - started:.0f} s, "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
        print_table(figures, kinds, statements, args.repeats, args.reads)
    print(f"cpu_count {os.cpu_count()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min); "
          f"{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
