"""The layout's rules, checked on the source: core/ has no import circle and never imports Streamlit.

Every import statement counts, those inside functions and ``if TYPE_CHECKING:`` included: a lazy
import hides a circle from Python, not from a reader.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "core"


def module_name(path: Path) -> str:
    parts = (path.relative_to(ROOT) if path.is_relative_to(ROOT) else Path(path.name)).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The modules ``path`` imports: of ours, those in ``known``; of others, their top-level name."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if base != here:  # `from core.cli import traces` in core/cli/__init__.py imports a submodule
                found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
    return {name if name in known else name.split(".")[0] for name in found if name in known or not name.startswith("core")}


def core_graph() -> dict[str, set[str]]:
    paths = sorted(CORE.rglob("*.py"))
    known = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, known) for p in paths}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (or a module importing itself), iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start] & graph.keys())))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step] & graph.keys()))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1 or node in graph[node]:
                    found.append(sorted(group))
    return found


def test_core_has_no_import_circle():
    assert circles(core_graph()) == []


def test_core_never_imports_streamlit_or_the_pages():
    offenders = {
        module: sorted(imported & {"streamlit", "pages", "ui", "app"})
        for module, imported in core_graph().items()
        if imported & {"streamlit", "pages", "ui", "app"}
    }
    assert offenders == {}


def test_the_check_finds_a_circle_when_there_is_one():
    graph = {"core.a": {"core.b"}, "core.b": {"core.c"}, "core.c": {"core.a"}, "core.d": {"core.a", "json"}}
    assert circles(graph) == [["core.a", "core.b", "core.c"]]


def test_the_check_sees_lazy_and_type_checking_imports(tmp_path):
    module = tmp_path / "lazy.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from core.store import Store\n"
        "def later():\n    import streamlit\n"
    )
    assert imports_of(module, {"core.store"}) >= {"core.store", "streamlit"}


def test_the_readme_layout_names_every_part_of_core_and_only_what_exists():
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):]
    named = set()
    for cell in (line.split("|")[1] for line in layout.splitlines() if line.startswith("| `")):
        named.update(name.strip("`") for name in cell.replace(",", " ").split())
    parts = {f"core/{p.name}" + ("/" if p.is_dir() else "") for p in CORE.iterdir()
             if not p.name.startswith(("_", ".")) and p.name != "__pycache__"}
    assert parts - named == set(), "README's layout misses these"
    assert [n for n in named if "*" not in n and not (ROOT / n).exists()] == [], "README's layout names what is gone"
