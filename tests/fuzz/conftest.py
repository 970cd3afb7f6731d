"""Fuzzing budget: a fixed, reproducible one in CI (derandomized, no example database);
``MCPCTL_TUI_FUZZ_EXAMPLES=N`` runs N examples per property with fresh randomness, for
a longer hunt. A failure found that way becomes a regular test next to its property."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_LONG = os.environ.get("MCPCTL_TUI_FUZZ_EXAMPLES")
settings.register_profile(
    "mcpctl",
    max_examples=int(_LONG) if _LONG else 150,
    derandomize=not _LONG,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("mcpctl")
