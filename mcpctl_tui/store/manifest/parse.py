"""Manifest text -> located, validated documents (no database needed).

A manifest is multi-document YAML; each document is a mapping with ``kind:`` and the
object's camelCase fields, flat (no ``metadata``/``spec`` nesting). A YAML document that
is a list (what ``get -o json`` prints) counts as one document per item; an empty
document is skipped. Duplicate keys in a mapping are refused (YAML would silently keep
the last one), and so are two documents with one identity.

Malformed YAML stops the parse at that document (the rest cannot be trusted); every
other problem is collected, so one run reports all of them in one ``ManifestError``.
Each document keeps the lines of its fields, so a problem points at the field at fault.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from mcpctl_tui.config import yaml_problem
from mcpctl_tui.store.manifest.documents import (
    Kind,
    Located,
    ManifestError,
    Problem,
    identity,
    label,
    line_of,
)
from mcpctl_tui.store.manifest.fields import BadField, has_control
from mcpctl_tui.store.manifest.schema import document_from

# libyaml's parser when PyYAML was built with it (about 5x faster); same marks and errors.
if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):
    """SafeLoader that refuses duplicate keys (YAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key; SafeLoader reports it below
                duplicate = False
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            try:
                seen.add(key)
            except TypeError:
                pass
        return super().construct_mapping(node, deep=deep)


_MAX_LINE_DEPTH = 6


def _node_lines(node: yaml.Node, path: str = "", depth: int = 0) -> dict[str, int]:
    """Field path -> 1-based line, for a document's node tree (a few levels deep)."""
    lines: dict[str, int] = {}
    if depth >= _MAX_LINE_DEPTH:  # also stops recursive aliases
        return lines
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                sub = f"{path}.{key.value}" if path else str(key.value)
                lines.setdefault(sub, key.start_mark.line + 1)
                lines.update(_node_lines(value, sub, depth + 1))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = f"{path}[{i}]"
            lines.setdefault(sub, item.start_mark.line + 1)
            lines.update(_node_lines(item, sub, depth + 1))
    return lines


# A document as its readers see it, every alias expanded. Hand-written and exported
# manifests are far below both; a YAML alias bomb (a few hundred bytes that expand to
# billions of nodes) or a nesting a recursive reader cannot walk is refused up front.
MAX_NODES = 200_000
MAX_DEPTH = 100


class TooLarge(yaml.MarkedYAMLError):
    """A document past ``MAX_NODES`` or ``MAX_DEPTH``; ``problem`` says which."""


def _check_size(root: yaml.Node) -> None:
    """Count the nodes ``root`` expands to without expanding it: each node once (by id),
    its size the sum of its children's. A cycle (``&a {self: *a}``) is left to the
    readers, which name it ("refers to itself")."""
    mark = root.start_mark
    sizes: dict[int, int] = {}
    open_: set[int] = set()  # on the current path: a child among them is a back edge
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 0, False)]
    while stack:
        node, depth, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        if children_done:
            open_.discard(key)
            size = 1 + sum(sizes.get(id(c), 0) for c in _children(node))
            if size > MAX_NODES:
                why = f"the document expands to more than {MAX_NODES:,} values (YAML aliases?)"
                raise TooLarge(problem=why, problem_mark=mark)
            sizes[key] = size
            continue
        if key in open_:
            continue
        if depth > MAX_DEPTH:
            raise TooLarge(problem=f"nested deeper than {MAX_DEPTH} levels", problem_mark=mark)
        open_.add(key)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in _children(node) if id(c) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def parse_manifest(text: str, *, source: str | None = None) -> list[Located]:
    """Parse and validate a whole manifest; raise ManifestError listing every bad document.

    Malformed YAML stops the parse at that document (the rest cannot be trusted); other
    problems are collected so one run reports all of them.
    """
    docs: list[Located] = []
    problems: list[Problem] = []
    seen: dict[tuple[Kind, str, str], Located] = {}
    loader = _Loader(text)
    index = 0
    try:
        while True:
            try:
                if not loader.check_node():
                    break
                node = loader.get_node()
                if node is None:
                    break
                _check_size(node)
                raw = loader.construct_document(node)
            except TooLarge as exc:
                line, problem = yaml_problem(exc)
                problems.append(Problem(source, index + 1, line, None, f"refused: {problem}"))
                break
            except yaml.YAMLError as exc:
                line, problem = yaml_problem(exc)
                reason = f"malformed YAML: {problem}"
                problems.append(Problem(source, index + 1, line, None, reason))
                break
            index += 1
            line = node.start_mark.line + 1
            if raw is None:  # an empty document ("---" with nothing after it)
                continue
            # A list at the top level (get -o json) is a list of documents.
            items: list[tuple[object, yaml.Node]]
            if isinstance(raw, list) and isinstance(node, yaml.SequenceNode):
                items = list(zip(raw, node.value, strict=True))
            else:
                items = [(raw, node)]
            for pos, (value, item_node) in enumerate(items):
                item_line = item_node.start_mark.line + 1
                lines = _node_lines(item_node)
                if pos:
                    index += 1
                try:
                    doc = document_from(value)
                except BadField as exc:
                    name = value.get("name") if isinstance(value, dict) else None
                    kind = value.get("kind") if isinstance(value, dict) else None
                    lbl = (
                        f"{kind}/{name}"
                        if isinstance(name, str) and isinstance(kind, str) and _safe_label(name)
                        else None
                    )
                    where = line_of(lines, exc.path, item_line)
                    problems.append(Problem(source, index, where, lbl, str(exc)))
                    continue
                located = Located(doc, index, item_line, source, lines)
                first = seen.get(identity(doc))
                if first is not None:
                    problems.append(
                        Problem(
                            source,
                            index,
                            item_line,
                            label(doc),
                            f"duplicates document {first.index} (line {first.line})",
                        )
                    )
                    continue
                seen[identity(doc)] = located
                docs.append(located)
    finally:
        loader.dispose()
    if problems:
        raise ManifestError(problems)
    return docs


def _safe_label(name: str) -> bool:
    return 0 < len(name) <= 200 and not has_control(name)
