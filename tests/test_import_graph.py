"""The rooms' import graph: no cycle between modules, and no room imports a room above it (data flows one way)."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# deepfake_zoo.<top module or room> -> its floor. Rooms on one floor do not import each other either.
TOP = {"cli", "api", "bench_cli", "__init__"}
FLOORS = {"datasets": 1, "zoo": 2, "search": 3, "leaderboard": 4, "predict": 4}
GROUND, ROOF = 0, 5


def _module_files() -> dict[str, Path]:
    files = {}
    for room in FLOORS:
        for path in (REPO / room).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            files[".".join(("deepfake_zoo", *parts)).removesuffix(".__init__")] = path
    for path in (REPO / "src" / "deepfake_zoo").glob("*.py"):
        files[f"deepfake_zoo.{path.stem}".removesuffix(".__init__")] = path
    return files


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules `path` imports anywhere (function-level imports too: a lazy import is still an arrow)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], *filter(None, [base])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _floor(module: str) -> tuple[int, str]:
    part = module.split(".")[1] if module.count(".") else "__init__"
    if part in FLOORS:
        return FLOORS[part], part
    return (ROOF, "top") if part in TOP else (GROUND, "ground")


def _graph() -> dict[str, set[str]]:
    files = _module_files()
    return {name: _imports(name, path, set(files)) for name, path in files.items()}


def test_no_room_imports_a_room_above_or_beside_it():
    wrong = []
    for module, targets in _graph().items():
        floor, room = _floor(module)
        for target in targets:
            t_floor, t_room = _floor(target)
            if t_room != room and (t_floor > floor or (t_floor == floor and floor not in (GROUND,))):
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_no_import_cycle():
    graph = _graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            # A package's __init__ importing its own submodules is how a package is assembled, not a cycle.
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_the_graph_sees_real_arrows():
    graph = _graph()
    assert "deepfake_zoo.datasets.manifest" in graph["deepfake_zoo.search.study"]
    assert _floor("deepfake_zoo.atomic") == (GROUND, "ground") and _floor("deepfake_zoo.cli") == (ROOF, "top")
