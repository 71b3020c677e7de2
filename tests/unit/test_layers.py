"""The layers stay as built (docs/architecture.md): imports point only down.

Reads every module's imports (top level and inside functions) with `ast`, without
importing anything, and checks the rules below. A failure names the offending import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("tariq", "stream", "dashboards", "routing", "tagging", "simulators")
# Libraries that talk to the outside world: the domain (and routing, tagging) use none.
IO_LIBRARIES = (
    "aiohttp",
    "aiokafka",
    "asyncpg",
    "faust",
    "redis",
    "socket",
    "subprocess",
    "urllib.request",
    "http.client",
)
# Benchmarks, load generators and evaluation code (simulated GPS tracks included): never
# loaded by the worker or the web.
BENCH_MODULES = (
    "simulators",
    "routing.bench",
    "routing.eta_quality",
    "routing.tracks",
    "tagging.bench",
)
MAX_FUNCTION_LINES = 100


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[module_name(path)] = path
    return found


def _resolve(name: str) -> str | None:
    """The project module an import names (a name imported from a package may be a module)."""
    known = modules()
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


@cache
def imports(module: str) -> tuple[str, ...]:
    """Every module named by an import statement anywhere in `module` (absolute names)."""
    tree = ast.parse(modules()[module].read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return tuple(dict.fromkeys(names))


def project_imports(module: str) -> set[str]:
    return {found for name in imports(module) if (found := _resolve(name)) and found != module}


def in_package(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def violations(sources: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module in modules()
        if in_package(module, *sources)
        for target in project_imports(module)
        if in_package(target, *forbidden)
    )


def test_stream_and_dashboards_are_independent() -> None:
    assert violations(("stream",), ("dashboards",)) == []
    assert violations(("dashboards",), ("stream",)) == []


def test_the_kernel_imports_no_entry_point() -> None:
    kernel = ("tariq.domain", "tariq.adapters", "tariq.services", "tariq.config")
    assert violations(kernel, ("stream", "dashboards", "simulators", "tariq.cli")) == []


def test_layers_point_down() -> None:
    assert violations(("tariq.domain",), ("tariq.adapters", "tariq.services")) == []
    assert violations(("tariq.adapters",), ("tariq.services",)) == []
    assert violations(("routing", "tagging"), ("tariq.adapters", "tariq.services")) == []


@pytest.mark.parametrize("package", ["tariq.domain", "routing", "tagging"])
def test_the_domain_does_no_io(package: str) -> None:
    found = sorted(
        f"{module} imports {name}"
        for module in modules()
        if in_package(module, package) and not module.endswith((".cli", ".bench"))
        for name in imports(module)
        if in_package(name, *IO_LIBRARIES)
    )
    assert found == []


def _reachable(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        # A package's modules are imported through it: follow its __init__ too.
        parent = module.rpartition(".")[0]
        todo += [*project_imports(module), *([parent] if parent else [])]
    return seen


@pytest.mark.parametrize("entry", ["stream.app", "dashboards.app"])
def test_worker_and_web_load_no_benchmark(entry: str) -> None:
    assert sorted(m for m in _reachable(entry) if in_package(m, *BENCH_MODULES)) == []


def _cycles() -> Iterator[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = 0

    def visit(node: str) -> Iterator[list[str]]:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(project_imports(node)):
            if target not in index:
                yield from visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                yield sorted(component)

    for module in sorted(modules()):
        if module not in index:
            yield from visit(module)


def test_no_module_cycles() -> None:
    assert list(_cycles()) == []


def test_no_runtime_function_longer_than_100_lines() -> None:
    long = []
    for module, path in modules().items():
        if in_package(module, *BENCH_MODULES):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{module}.{node.name}: {lines} lines")
    assert long == []
