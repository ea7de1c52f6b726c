"""Web routes parse, call a service and render (issue 16): no module in web/ reads or
writes the tables itself, so every query has an owner outside web/ that can be tested and
changed without the routes."""

from __future__ import annotations

import ast
from pathlib import Path

import respons.web

WEB = Path(respons.web.__file__).parent


def _imports_tables(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.startswith("respons.store.tables") for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("respons.store.tables"):
                return True
            if node.module == "respons.store" and any(a.name == "tables" for a in node.names):
                return True
    return False


def test_no_module_in_web_imports_the_tables():
    offenders = [str(path.relative_to(WEB)) for path in sorted(WEB.rglob("*.py"))
                 if _imports_tables(ast.parse(path.read_text(encoding="utf-8")))]
    assert not offenders, f"move these modules' queries out of web/: {offenders}"
