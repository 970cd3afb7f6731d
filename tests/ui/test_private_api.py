"""Textual's private API is reached from ``ui/textual_internals.py`` only.

Outside that module, no ``ui/`` code may read, call or override a private name that a
Textual class defines (``_parser_factory``, ``_on_timer_update``, ``_update_from_block``
…), nor give one of its own attributes a private name Textual already uses in the
class's ancestry (it would shadow Textual's). Read from the code (AST) and from the
Textual classes the UI's classes derive from.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from functools import cache
from pathlib import Path

import mcpctl_tui.ui

UI = Path(mcpctl_tui.ui.__file__).parent
EXEMPT = {"textual_internals.py"}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _defined(tree: ast.AST) -> set[str]:
    """Private names a piece of code defines: methods, class attributes, self._x = …"""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _private(node.name):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                names.add(node.attr)
        elif isinstance(node, ast.ClassDef):
            for stmt in node.body:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else []
                if isinstance(stmt, ast.AnnAssign):
                    targets = [stmt.target]
                names |= {t.id for t in targets if isinstance(t, ast.Name) and _private(t.id)}
    return {n for n in names if _private(n)}


@cache
def _textual_private(cls: type) -> frozenset[str]:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return frozenset()
    return frozenset(_defined(ast.parse(source)))


def _modules() -> list[Path]:
    return [p for p in sorted(UI.rglob("*.py")) if p.name not in EXEMPT]


def _ours() -> set[str]:
    """Private names the UI's own code defines (outside the exempt module)."""
    return set().union(*(_defined(ast.parse(p.read_text())) for p in _modules()))


def test_no_textual_private_name_is_used_outside_the_internals_module() -> None:
    ours = _ours()
    found = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in ours:
                found.append(f"{path.relative_to(UI)}:{node.lineno} .{node.attr}")
    assert found == []


def test_no_ui_class_overrides_or_shadows_a_textual_private_name() -> None:
    found = []
    for path in _modules():
        rel = path.relative_to(UI).with_suffix("")
        module = importlib.import_module("mcpctl_tui.ui." + ".".join(rel.parts))
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if not isinstance(node, ast.ClassDef):
                continue
            cls = getattr(module, node.name)
            textual = [c for c in cls.__mro__ if c.__module__.startswith("textual")]
            theirs = set().union(*(_textual_private(c) for c in textual))
            for name in sorted(_defined(node) & theirs):
                found.append(f"{rel}.{node.name}.{name}")
    assert found == []


def test_the_check_sees_a_private_access() -> None:
    """The checks above are not blind: the internals module itself would fail them."""
    tree = ast.parse((UI / "textual_internals.py").read_text())
    accessed = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and _private(n.attr)}
    assert {"_parser_factory", "_on_timer_update", "_blocks"} <= accessed - _ours()
