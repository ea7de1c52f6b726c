"""The shape of the code, checked: no import cycles (also none hidden in a function), no
web module touching the tables, and one owner of an alarm's rows (docs/architecture.md).

Read from the source with ``ast``, so an import inside a function counts like one at the
top: a cycle that only shows at run time is still a cycle a reader has to untangle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import respons

SRC = Path(respons.__file__).resolve().parent
PACKAGE = "respons"


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, is_package)
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module a dotted name lives in (``respons.engine.alarms.answer`` → ``respons.engine.alarms``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> dict[str, int]:
    """Every module of ours that ``module`` imports, anywhere in it, with a line number."""
    path, is_package = MODULES[module]
    package = module if is_package else module.rpartition(".")[0]
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # ``from respons.engine import alarms`` imports the module respons.engine.alarms.
            targets = [f"{source}.{alias.name}" for alias in node.names] or [source]
            targets = [t if _resolve(t) != _resolve(source) else source for t in targets]
        for target in targets:
            if target.split(".")[0] != PACKAGE:
                continue
            resolved = _resolve(target)
            if resolved is not None and resolved != module:
                found.setdefault(resolved, node.lineno)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def _describe(component: list[str]) -> str:
    edges = [f"{a} → {b} (line {GRAPH[a][b]})" for a in component for b in sorted(GRAPH[a]) if b in component]
    return "\n  ".join(edges)


def test_the_package_has_no_import_cycles_not_even_inside_functions():
    cycles = _cycles(GRAPH)
    assert not cycles, "import cycles:\n  " + "\n\n  ".join(_describe(c) for c in cycles)


def test_the_cycle_check_finds_a_cycle_hidden_in_a_function():
    # The check itself: a graph with a cycle through a function-level import must fail it.
    graph = {"a": {"b": 1}, "b": {"c": 3}, "c": {"a": 40}, "d": {"a": 1}}
    assert _cycles(graph) == [["a", "b", "c"]]
    # ``respons serve`` imports the web app inside its function (a slow import only it needs).
    assert "respons.web.app" in GRAPH["respons.cli.server"], "imports inside functions are seen"


FEATURES = ("registry", "deviations", "statistics", "economy")
PRESENTATION = ("api", "pages", "words", "problems")  # a feature's routes and what they show


def _is_presentation(module: str) -> bool:
    parts = module.split(".")
    return parts[1:2] == ["web"] or (len(parts) == 3 and parts[1] in FEATURES and parts[2] in PRESENTATION)


def test_no_web_module_imports_the_tables():
    offenders = sorted(m for m, imported in GRAPH.items()
                       if _is_presentation(m) and f"{PACKAGE}.store.tables" in imported)
    assert offenders == [], "routes parse, call a service and render; SQL lives in the stores and services"
    assert _is_presentation("respons.deviations.pages") and _is_presentation("respons.web.console.pages")
    assert not _is_presentation("respons.deviations.service")


def test_each_feature_is_one_folder_with_its_rules_service_and_routes():
    for feature in FEATURES:
        modules = {m.rpartition(".")[2] for m in MODULES if m.startswith(f"{PACKAGE}.{feature}.")}
        assert {"pages", "words"} <= modules and len(modules) > 3, feature
        assert (SRC / feature / "templates" / ("admin" if feature == "registry" else feature)).is_dir(), feature


ALARM_TABLES = {"alarms", "alarm_events"}
ALARM_OWNER = f"{PACKAGE}.store.alarms"


def _alarm_table_names(tree: ast.AST) -> set[str]:
    """The local names this module gives the alarm tables (``from respons.store.tables import alarms``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == f"{PACKAGE}.store.tables":
            names |= {alias.asname or alias.name for alias in node.names if alias.name in ALARM_TABLES}
    return names


def _writes_to(tree: ast.AST, tables: set[str]) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name in ("insert", "update", "delete") and node.args and isinstance(node.args[0], ast.Name) \
                and node.args[0].id in tables:
            lines.append(node.lineno)  # insert(alarms), update(alarm_events)
        if isinstance(func, ast.Attribute) and func.attr in ("insert", "update", "delete") \
                and isinstance(func.value, ast.Name) and func.value.id in tables:
            lines.append(node.lineno)  # alarms.update()
    return sorted(lines)


def test_only_the_owner_writes_an_alarms_rows():
    writers = {}
    for module, (path, _) in MODULES.items():
        if module == ALARM_OWNER or ".migrations." in module:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        lines = _writes_to(tree, _alarm_table_names(tree))
        if lines:
            writers[module] = lines
    assert writers == {}, f"only {ALARM_OWNER} writes alarms and alarm_events"


def test_the_write_check_sees_a_write():
    tree = ast.parse("from respons.store.tables import alarms as a\nconn.execute(update(a).values(x=1))\n"
                     "a.insert()\n")
    assert _writes_to(tree, _alarm_table_names(tree)) == [2, 3]


# Who may import whom: the pure domain nothing of ours but itself; the store nothing above
# it; the engine neither the adapters (web, intake, cli) nor the composition root.
ABOVE = {
    "domain": {"auth", "store", "engine", "intake", "web", "cli", "runtime", "demo", "integrations", "observability",
               *FEATURES},
    "store": {"engine", "intake", "web", "cli", "runtime", "demo", *FEATURES},
    "engine": {"intake", "web", "cli", "runtime", "demo"},
}


def _layer(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_imports_point_down_the_layers():
    upward = sorted(f"{m} → {t}" for m, imported in GRAPH.items() for t in imported
                    if _layer(t) in ABOVE.get(_layer(m), ()))
    assert upward == []
