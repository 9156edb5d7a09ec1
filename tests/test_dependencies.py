"""`pip install trellis` brings everything Trellis runs on, and requirements.lock agrees with it.

pyproject.toml declares every third-party distribution that core/, pages/ and the app import, and
what our dependencies need at run time without requiring it themselves (tenacity for litellm's
retries: installed without it, every model call ended in a traceback). requirements.lock is
compiled from pyproject.toml by `make lock` and pins each declared dependency at the same version.
"""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK = ROOT / "requirements.lock"
LOCAL_PACKAGES = {"core", "pages", "ui", "app"}
UNDECLARED_NEEDS = PYPROJECT["tool"]["trellis"]["undeclared-needs"]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(strings: list[str]) -> dict[str, Requirement]:
    return {canonical(r.name): r for r in map(Requirement, strings)}


DEPENDENCIES = requirements(PYPROJECT["project"]["dependencies"])
TEST_EXTRA = requirements(PYPROJECT["project"]["optional-dependencies"]["test"])


def runtime_sources() -> list[Path]:
    """The code that runs when a person uses Trellis: the library, the CLI, the app and its pages."""
    top_level = [ROOT / "app.py"]
    return sorted([*(ROOT / "core").rglob("*.py"), *(ROOT / "pages").rglob("*.py"), *top_level])


def third_party_imports(path: Path) -> set[str]:
    """Top-level names of the absolute imports in `path`, function-level ones included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - LOCAL_PACKAGES


def locked_entries() -> list[tuple[str, list[str]]]:
    """requirements.lock as (requirement, its --hash values), one per pinned distribution."""
    entries: list[tuple[str, list[str]]] = []
    for line in LOCK.read_text().splitlines():
        line = line.split("#")[0].strip().removesuffix("\\").strip()
        if line.startswith("--hash=sha256:"):
            entries[-1][1].append(line.removeprefix("--hash=sha256:"))
        elif line:
            entries.append((line, []))
    return entries


def locked() -> dict[str, str]:
    """requirements.lock as {distribution: version}."""
    pins = {}
    for line, _ in locked_entries():
        requirement = Requirement(line)
        [spec] = requirement.specifier
        assert spec.operator == "==", f"requirements.lock: {line!r} is not an exact pin"
        pins[canonical(requirement.name)] = spec.version
    return pins


def test_every_distribution_the_app_imports_is_a_declared_dependency():
    distributions = importlib.metadata.packages_distributions()  # import name -> distributions providing it
    missing = []
    for path in runtime_sources():
        for module in sorted(third_party_imports(path)):
            providers = {canonical(d) for d in distributions.get(module, [])}
            if not providers & DEPENDENCIES.keys():
                where = path.relative_to(ROOT)
                missing.append(f"{where} imports {module} ({', '.join(sorted(providers)) or 'not installed'})")
    assert not missing, "add to [project].dependencies in pyproject.toml, then `make lock`:\n" + "\n".join(missing)


def test_what_our_dependencies_need_without_requiring_it_is_declared():
    # e.g. litellm imports tenacity for completion(num_retries=...), but does not require it.
    assert "tenacity" in UNDECLARED_NEEDS
    for need, why in UNDECLARED_NEEDS.items():
        dependent = why.split(":")[0]
        assert canonical(need) in DEPENDENCIES, f"{need} ({why}) is not in [project].dependencies"
        assert canonical(dependent) in DEPENDENCIES, f"{need}: {dependent!r} is not one of our dependencies"
        unconditional = {canonical(Requirement(r).name) for r in importlib.metadata.requires(dependent) or []
                         if "extra ==" not in r}
        assert canonical(need) not in unconditional, (
            f"{dependent} now requires {need} itself: drop it from [tool.trellis.undeclared-needs]")


def test_every_declared_dependency_is_pinned_and_the_lock_pins_the_same_version():
    pins = locked()
    for name, requirement in {**DEPENDENCIES, **TEST_EXTRA}.items():
        [spec] = requirement.specifier or [None]
        assert spec is not None and spec.operator == "==", f"pyproject.toml: pin {requirement} exactly"
        assert pins.get(name) == spec.version, f"requirements.lock has {name}=={pins.get(name)}, pyproject {requirement}"


def test_the_lock_is_compiled_by_make_lock_and_holds_no_local_paths():
    text = LOCK.read_text()
    assert "#    make lock\n" in text  # pip-compile's header: regenerate it, never edit it
    for line in text.splitlines():
        if line.startswith("#"):  # pip-compile's notes, e.g. above setuptools ("considered to be unsafe ... file:")
            continue
        assert not line.startswith(("-e", "-r", "-c", "--")), f"requirements.lock: {line!r}"
        assert not re.search(r"(^|\s)(/|file:|\./|\.\./)", line), f"requirements.lock holds a path: {line!r}"
    assert "trellis" not in locked()  # the project itself is installed from the work tree, not from the lock
