"""The package's layout: no module of ekakte imports, directly or round about, a module that imports it.

Every import counts: at the top, inside functions (run later, but a circle all the same) and under
TYPE_CHECKING. Importing a submodule runs its package's __init__ first, so that is an import of the
package too, except for a module inside that package (its package is already running).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "ekakte"


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The ekakte modules `module` imports anywhere in its text."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            names += [f"{base}.{alias.name}" for alias in node.names]  # a submodule, or a name in `base`
    found: set[str] = set()
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if not name.startswith("ekakte"):
            continue
        found.add(name)
        parent = name.rpartition(".")[0]
        while parent:
            if not module.startswith(parent + "."):
                found.add(parent)
            parent = parent.rpartition(".")[0]
    found.discard(module)
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_module_of_ekakte_imports_itself_round_about() -> None:
    known = modules()
    graph = {module: imported(module, path, known) for module, path in known.items()}
    assert circles(graph) == []


def test_the_circle_finder_finds_circles_through_imports_inside_functions(tmp_path: Path) -> None:
    # The check itself must be able to fail: a circle closed only inside a function is one.
    package = tmp_path / "ekakte"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from ekakte import b\n")
    (package / "b.py").write_text("def later():\n    from ekakte.a import x\n")
    (package / "c.py").write_text("from . import a\n")
    known = {"ekakte": package / "__init__.py", **{f"ekakte.{m}": package / f"{m}.py" for m in "abc"}}
    graph = {module: imported(module, path, known) for module, path in known.items()}
    assert circles(graph) == [["ekakte.a", "ekakte.b"]]


def test_the_architecture_names_every_use_case() -> None:
    from ekakte import api

    text = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    assert [u.name for u in api.USE_CASES if f"`{u.name}`" not in text] == []


def test_every_package_of_ekakte_is_shipped() -> None:
    """setuptools is given the packages by name (pyproject.toml): a new one missing there would be
    left out of every installed ekakte, though the tests (run from the source tree) pass."""
    import tomllib

    listed = set(
        tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    packages = {".".join(p.parent.relative_to(PACKAGE.parent).parts) for p in PACKAGE.rglob("__init__.py")}
    assert packages - listed == set()


def _outside(package: str, allowed: set[str]) -> dict[str, list[str]]:
    """What modules of `package` import from ekakte beyond `allowed` and the package's own modules."""
    own = {m: p for m, p in modules().items() if m == package or m.startswith(package + ".")}
    return {
        module: sorted(found - allowed - set(own))
        for module, path in own.items()
        if (found := imported(module, path, modules())) - allowed - set(own)
    }


def test_the_cli_calls_the_library_through_its_list_of_use_cases() -> None:
    """The command line parses, calls a use case from ekakte.api and prints: it imports nothing else of
    the library but the errors (to map them), its own modules and the HTTP service (`ekakte serve`)."""
    service = {m for m in modules() if m == "ekakte.service" or m.startswith("ekakte.service.")}
    assert _outside("ekakte.cli", {"ekakte.api", "ekakte.errors", "ekakte", *service}) == {}


def test_the_service_calls_the_library_through_its_list_of_use_cases() -> None:
    """The HTTP service, likewise: ekakte.api, the errors, its own modules."""
    assert _outside("ekakte.service", {"ekakte.api", "ekakte.errors", "ekakte"}) == {}
