"""How the package's modules import: the pure modules load neither pulumi nor grpc, each in a
fresh interpreter (docs/ARCHITECTURE.md, "Rules that keep it this shape"): the one list, one
test; and no module of the package imports itself through others."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PURE_MODULES = [
    "restart_trigger",  # the lazy public API
    "restart_trigger.plan",
    "restart_trigger.inputs",
    "restart_trigger.validation",
    "restart_trigger.backoff",
    "restart_trigger.hashing",
    "restart_trigger.targets",
    "restart_trigger.aliyun",
    "restart_trigger.lines",
    "restart_trigger.runner",
    "restart_trigger.rollout",
    "restart_trigger.journal",
    "restart_trigger.stopping",
    "restart_trigger.preview_summary",
    "restart_trigger.engine_rpc",
    "restart_trigger.plugin.names",
    "restart_trigger.plugin.wire",
    "restart_trigger.plugin.config",
    "restart_trigger.plugin.importing",
]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_a_pure_module_loads_neither_pulumi_nor_grpc(module):
    code = (
        f"import sys, {module}\n"
        "loaded = [m for m in ('pulumi', 'grpc') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


# --- no import cycle ------------------------------------------------------------------------------


ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "providers" / "restart_trigger"


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """The package's modules ``name`` imports, at module level or in a function (lazy imports
    count: they only hide a cycle), but not under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for statement in block.body
        for node in ast.walk(statement)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                if f"{target}.{alias.name}" in modules:
                    found.add(f"{target}.{alias.name}")
                elif target in modules:
                    found.add(target)
    return found


def test_no_module_of_the_package_imports_itself_through_others():
    modules = module_names()
    graph = {name: imports_of(name, path, set(modules)) for name, path in modules.items()}
    cycles = []
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = "open"
        path.append(name)
        for imported in sorted(graph[name]):
            if state.get(imported) == "open":
                cycles.append(" -> ".join([*path[path.index(imported) :], imported]))
            elif imported not in state:
                visit(imported)
        path.pop()
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert "restart_trigger.aliyun.credentials" in graph  # the graph is the package's
    assert cycles == []
