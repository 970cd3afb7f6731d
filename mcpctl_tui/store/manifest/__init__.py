"""Manifests: kubectl-like YAML documents over the store (parse, apply, export).

- ``documents``: the typed documents (one dataclass per kind) and their problems.
- ``schema``: each kind's fields: every check that needs no database, and back to YAML.
- ``parse``: YAML text -> located, validated documents.
- ``lookup``: the binding rule and the rows a manifest names, read up front.
- ``apply``: documents -> rows in one transaction (created / configured / unchanged).
- ``export``: rows -> documents (``get``), which ``apply`` takes back unchanged.
- ``delete``: delete by kind and name (``delete``), over the id-based ``store.deletes``.
"""

from mcpctl_tui.store.manifest.apply import (
    Applied,
    Outcome,
    apply_documents,
    apply_manifest,
    apply_one,
)
from mcpctl_tui.store.manifest.delete import Deleted, delete_named
from mcpctl_tui.store.manifest.documents import (
    AgentDoc,
    BindingDoc,
    Document,
    Kind,
    LlmDoc,
    Located,
    ManifestError,
    PersonalityDoc,
    Problem,
    ProjectDoc,
    PromptDoc,
    parse_kind,
)
from mcpctl_tui.store.manifest.export import Exported, dump_yaml, get_objects
from mcpctl_tui.store.manifest.lookup import pick_bound_prompt
from mcpctl_tui.store.manifest.parse import parse_manifest
from mcpctl_tui.store.manifest.schema import shown_key_ref, to_mapping, validate

__all__ = [
    "AgentDoc",
    "Applied",
    "BindingDoc",
    "Deleted",
    "Document",
    "Exported",
    "Kind",
    "LlmDoc",
    "Located",
    "ManifestError",
    "Outcome",
    "PersonalityDoc",
    "Problem",
    "ProjectDoc",
    "PromptDoc",
    "apply_documents",
    "apply_manifest",
    "apply_one",
    "delete_named",
    "dump_yaml",
    "get_objects",
    "parse_kind",
    "parse_manifest",
    "pick_bound_prompt",
    "shown_key_ref",
    "to_mapping",
    "validate",
]
