"""API keys are references (``env:NAME`` or ``keyring:SERVICE/USER``), never values.

A reference is resolved at call time; the resolved key is never stored, logged or shown.

Only the references the operator allows are resolved (``key_refs`` in the config file,
glob patterns; default ``env:MCPCTL_KEY_*``): on a shared store anyone who may ``apply``
could otherwise point an LLM at their own URL with ``apiKeyRef: env:AWS_SECRET_ACCESS_KEY``
and collect that secret from whoever chats. A provider's own file is the operator's, so
its references are not limited (``ANY_KEY_REF``).
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Sequence
from fnmatch import fnmatchcase

DEFAULT_KEY_REFS = ("env:MCPCTL_KEY_*",)
ANY_KEY_REF = ("*",)
_ENV_RE = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")
_KEYRING_RE = re.compile(r"^keyring:([^/\s]+)/([^\s]+)$")


# Keys that would hold a literal secret. Refused wherever they appear (manifest documents,
# their defaultParams and extras, per-call chat params) by messages that never show the value.
SECRET_KEYS = frozenset(
    {
        "apikey",
        "api_key",
        "api-key",
        "x-api-key",
        "secret",
        "token",
        "password",
        "authorization",
    }
)


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and key.lower() in SECRET_KEYS


def find_secret_key(
    value: object, path: str = "", seen: frozenset[int] = frozenset()
) -> str | None:
    """The path (``defaultParams.api_key``, ``headers[0].token``) of the first key in
    nested dicts/lists that would hold a literal secret with a non-empty value; else None."""
    if isinstance(value, dict) and id(value) not in seen:
        inner = seen | {id(value)}
        for k, v in value.items():
            sub = f"{path}.{k}" if path else str(k)
            if is_secret_key(k) and v not in (None, ""):
                return sub
            if found := find_secret_key(v, sub, inner):
                return found
    elif isinstance(value, list) and id(value) not in seen:
        inner = seen | {id(value)}
        for i, v in enumerate(value):
            if found := find_secret_key(v, f"{path}[{i}]", inner):
                return found
    return None


class KeyRefError(Exception):
    """A key reference is malformed or does not resolve; the message names the reference."""


def validate_key_ref(ref: str) -> str:
    """Return the reference unchanged, or raise if it is not a reference (e.g. a literal key)."""
    if _ENV_RE.match(ref) or _KEYRING_RE.match(ref):
        return ref
    raise KeyRefError(
        "apiKeyRef must be a reference such as 'env:OPENAI_API_KEY' or "
        "'keyring:SERVICE/USER'; literal keys are refused"
    )


def check_key_ref_pattern(pattern: object) -> str:
    """A ``key_refs`` entry: a glob over references (``env:MCPCTL_KEY_*``, ``keyring:*``)."""
    if not isinstance(pattern, str) or not pattern.startswith(("env:", "keyring:", "*")):
        raise KeyRefError(
            f"key_refs entries are patterns such as 'env:MCPCTL_KEY_*' or 'keyring:*', "
            f"got {pattern!r}"
        )
    return pattern


def resolve_key_ref(ref: str | None, allowed: Sequence[str] = DEFAULT_KEY_REFS) -> str | None:
    """The key a reference points at; None when there is no reference. A reference no
    pattern of ``allowed`` matches is refused before anything is read."""
    if not ref:
        return None
    validate_key_ref(ref)
    if not any(fnmatchcase(ref, pattern) for pattern in allowed):
        raise KeyRefError(
            f"API key reference {ref} is not allowed here: only {', '.join(allowed)} "
            "(add a pattern to 'key_refs' in your config file to allow more)"
        )
    if m := _ENV_RE.match(ref):
        value = os.environ.get(m.group(1))
        if not value:
            raise KeyRefError(
                f"API key reference {ref}: environment variable {m.group(1)} is not set"
            )
        return value
    m = _KEYRING_RE.match(ref)
    assert m is not None
    try:
        import keyring
        import keyring.errors

        value = keyring.get_password(m.group(1), m.group(2))
    except Exception as exc:  # any keyring backend failure is a config problem, not a crash
        raise KeyRefError(
            f"API key reference {ref}: keyring lookup failed ({type(exc).__name__})"
        ) from None
    if not value:
        raise KeyRefError(f"API key reference {ref}: no such entry in the keyring")
    return value


MASK = "***"
MIN_PIECE = 8  # a piece of a key this long or longer is taken out of any message


def mask(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` taken out: the key itself, every piece of it of
    ``MIN_PIECE`` characters or more, and the same of its base64 forms (a provider may
    echo the key whole, cut, or inside a Basic header). The one rule for every message
    that can leave the process or reach the store."""
    if not secret or not text:
        return text
    if len(secret) < MIN_PIECE:  # too short to cut into pieces: only the whole key
        return text.replace(secret, MASK) if len(secret) >= 4 else text
    spans: list[tuple[int, int]] = []
    for form in _forms(secret):
        for i in range(len(form) - MIN_PIECE + 1):
            piece = form[i : i + MIN_PIECE]
            at = text.find(piece)
            while at != -1:
                spans.append((at, at + MIN_PIECE))
                at = text.find(piece, at + 1)
    if not spans:
        return text
    spans.sort()
    out: list[str] = []
    end = 0
    start, stop = spans[0]
    for a, b in spans[1:]:
        if a <= stop:  # overlapping or touching pieces: one masked run
            stop = max(stop, b)
            continue
        out += [text[end:start], MASK]
        end, start, stop = stop, a, b
    out += [text[end:start], MASK, text[stop:]]
    return "".join(out)


def _forms(secret: str) -> list[str]:
    raw = secret.encode("utf-8", "surrogatepass")
    forms = [secret]
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.append(encode(raw).decode("ascii").rstrip("="))
    return forms
