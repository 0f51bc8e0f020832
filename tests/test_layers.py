"""The house: each stage imports only the stages below it, and no module imports itself back.

    5  commands    search.run, data_prep.run, embedding.embed's CLI and the search tools
    4  search      spec + key schema -> Tune/Optuna; results analysis
    3  embedding   trained networks -> new shard columns
    2  data_prep   sources, decode, representations, the Ray Data pipeline
       trainables  models, the loop, augmentation, losses, metrics (never imports data_prep,
                   nor data_prep trainables: they meet in contracts)
    1  contracts   shards and manifest: read, write, shapes
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"contracts": 1, "data_prep": 2, "trainables": 2, "embedding": 3, "search": 4}
# Modules run as `python -m ...` that tie the stages together.
COMMANDS = {"data_prep.run", "search.run", "search.predict", "search.export", "search.ensemble",
            "search.report", "search.keys", "search.dashboard"}
COMMAND_LAYER = 5


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules `name` imports, at any depth of its code (function-level too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def layer(name: str) -> int:
    return COMMAND_LAYER if name in COMMANDS else PACKAGES[name.split(".")[0]]


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def test_no_stage_imports_a_stage_above_it_or_its_sibling():
    wrong = []
    for name, targets in graph().items():
        for target in targets:
            upward = layer(target) > layer(name)
            sibling = (layer(target) == layer(name) and name not in COMMANDS
                       and target.split(".")[0] != name.split(".")[0])
            if upward or sibling:
                wrong.append(f"{name} (layer {layer(name)}) imports {target} "
                             f"(layer {layer(target)})")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_import_graph_has_no_cycle():
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])


def test_the_checker_sees_a_lower_layer_importing_a_higher_one(tmp_path):
    """The test above can fail: a module of trainables importing data_prep is caught."""
    fake = tmp_path / "loop.py"
    fake.write_text("def f():\n    from data_prep.decode import read_audio\n")
    found = imports("trainables.loop", fake, set(modules()))
    assert "data_prep.decode" in found
    assert layer("data_prep.decode") == layer("trainables.loop")  # siblings: forbidden
