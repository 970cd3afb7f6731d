"""Manifests: kubectl-like YAML documents over the store (parse, apply, export).

- ``documents``: YAML -> typed documents, every check that needs no database.
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
    pick_bound_prompt,
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
    parse_manifest,
    shown_key_ref,
    to_mapping,
    validate,
)
from mcpctl_tui.store.manifest.export import Exported, dump_yaml, get_objects

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
