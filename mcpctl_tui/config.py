"""Paths, settings and the resolution of the database URL.

Precedence for the DB URL: ``--db`` > ``$MCPCTL_TUI_DB`` > ``db:`` in the config file >
a SQLite file in the platformdirs user data dir.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import platformdirs
import yaml

from mcpctl_tui.secrets import DEFAULT_KEY_REFS, KeyRefError, check_key_ref_pattern

APP_NAME = "mcpctl-tui"
DB_ENV = "MCPCTL_TUI_DB"
CONFIG_ENV = "MCPCTL_TUI_CONFIG"

# The provider lifecycle (docs/architecture.md): a provider session heartbeats this often,
# and a publisher silent for the timeout is gone. The one definition of each default: the
# config file and the CLI flags override them (see ``Settings``).
DEFAULT_HEARTBEAT_INTERVAL = 30.0
DEFAULT_HEARTBEAT_TIMEOUT = 90.0


class ConfigError(Exception):
    """The configuration is unusable; the message says why and where."""


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_path() -> Path:
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.yaml"


def default_db_url() -> str:
    return f"sqlite+aiosqlite:///{data_dir() / 'mcpctl-tui.db'}"


@dataclass(frozen=True, slots=True)
class Settings:
    db_url: str | None = None
    # Lifecycle bounds (seconds); tests shorten them. Each is also a CLI flag, and the
    # flag wins: flag > config file > these defaults.
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT
    inactive_ttl: float = 4 * 3600.0
    pending_ttl: float = 3600.0  # a task nobody claimed is failed by the GC after this
    finished_ttl: float = 7 * 24 * 3600.0  # a finished task is deleted after this
    stale_turn_ttl: float = 6 * 3600.0  # a reply still pending this long: its writer died
    claim_timeout: float = 60.0  # the caller gives up on an unclaimed task after this
    gc_interval: float = 60.0  # a provider's own sweeps (0: none)
    readonly: bool = False  # the TUI writes nothing (as ``--readonly``)
    key_refs: tuple[str, ...] = DEFAULT_KEY_REFS  # the API key references resolved
    max_reply_mib: float = 8.0  # one reply's text and thinking; past it the turn ends
    store_retry: float = 30.0  # a finished reply keeps trying a store gone away this long


# The config file's keys for the bounds above (the file spells them as the fields): a
# number of seconds each, but for the reply's size in MiB.
_BOUNDS = (
    "max_reply_mib",
    "heartbeat_interval",
    "heartbeat_timeout",
    "inactive_ttl",
    "pending_ttl",
    "finished_ttl",
    "stale_turn_ttl",
    "store_retry",
    "claim_timeout",
    "gc_interval",
)
_ZERO_ALLOWED = frozenset({"gc_interval"})


def load_settings(path: Path | None = None) -> Settings:
    """Read the YAML config file; a missing file is an empty config, a broken one an error."""
    path = path or config_path()
    if not path.exists():
        return Settings()
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        line, problem = yaml_problem(exc)
        at = f" (line {line})" if line is not None else ""
        raise ConfigError(f"config file {path} is not valid YAML{at}: {problem}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    if raw is None:
        return Settings()
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must be a mapping, got {type(raw).__name__}")
    known = {"db", "readonly", "key_refs", *_BOUNDS}
    unknown = sorted(str(k) for k in set(raw) - known)  # keys may be numbers or null
    if unknown:
        raise ConfigError(f"config file {path}: unknown key(s) {', '.join(unknown)}")
    db = raw.get("db")
    if db is not None and not isinstance(db, str):
        raise ConfigError(f"config file {path}: 'db' must be a string URL")
    values: dict[str, Any] = {"db_url": db}
    if "readonly" in raw:
        if not isinstance(raw["readonly"], bool):
            raise ConfigError(f"config file {path}: 'readonly' must be true or false")
        values["readonly"] = raw["readonly"]
    if "key_refs" in raw:
        refs = raw["key_refs"]
        try:
            if not isinstance(refs, list) or not refs:
                raise KeyRefError("'key_refs' must be a non-empty list of patterns")
            values["key_refs"] = tuple(check_key_ref_pattern(p) for p in refs)
        except KeyRefError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
    for key in _BOUNDS:
        if key in raw:
            value = raw[key]
            zero_ok = key in _ZERO_ALLOWED
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or value != value  # NaN
                or value < 0
                or (value == 0 and not zero_ok)
            ):
                what = "a non-negative" if zero_ok else "a positive"
                unit = "MiB" if key == "max_reply_mib" else "seconds"
                raise ConfigError(f"config file {path}: '{key}' must be {what} number of {unit}")
            values[key] = float(value)
    return Settings(**values)


def yaml_problem(exc: yaml.YAMLError) -> tuple[int | None, str]:
    """(1-based line, one-line reason) of a YAML error, for config and manifest messages.

    PyYAML's own text spans several lines and quotes the source; the snippet is dropped
    on purpose, as it may quote a literal key from that line.
    """
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or "cannot be parsed"
    context = getattr(exc, "context", None)
    return line, " ".join(f"{context + ': ' if context else ''}{problem}".split())


_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
}


def normalize_db_url(url: str) -> str:
    """Map a plain ``postgresql://`` or ``sqlite:///`` URL to its async driver."""
    url = url.strip()
    if "://" not in url:
        raise ConfigError(
            f"database URL {url!r} has no scheme; "
            "use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB"
        )
    scheme, rest = url.split("://", 1)
    scheme = _ASYNC_DRIVERS.get(scheme.lower(), scheme)
    if scheme not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise ConfigError(
            f"unsupported database URL scheme {scheme!r}: "
            "use sqlite+aiosqlite:// (or sqlite://) or postgresql+asyncpg:// (or postgresql://)"
        )
    if scheme == "sqlite+aiosqlite" and rest.startswith("/~"):
        # SQLite does not expand ~ itself ("unable to open database file")
        rest = "/" + os.path.expanduser(rest[1:])
    if scheme == "postgresql+asyncpg" and "?" in rest:
        rest = _asyncpg_query(rest)
    return f"{scheme}://{rest}"


# libpq's URL parameters (what psql and every PostgreSQL guide write) as asyncpg takes
# them; asyncpg's own names pass as they are; anything else is refused here, by name,
# rather than as a TypeError from the driver.
_LIBPQ = {"sslmode": "ssl", "connect_timeout": "timeout"}
_ASYNCPG = frozenset({"ssl", "timeout", "command_timeout", "prepared_statement_cache_size"})
_SSLMODES = frozenset({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})


def _asyncpg_query(rest: str) -> str:
    base, _, query = rest.partition("?")
    out: list[tuple[str, str]] = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        name = _LIBPQ.get(key, key)
        if name not in _ASYNCPG:
            known = ", ".join(sorted({*_LIBPQ, *_ASYNCPG}))
            raise ConfigError(f"database URL parameter {key!r} is not supported (use: {known})")
        if name == "ssl" and value not in _SSLMODES:
            raise ConfigError(
                f"database URL {key}={value!r}: use one of {', '.join(sorted(_SSLMODES))}"
            )
        out.append((name, value))
    return f"{base}?{urlencode(out)}" if out else base


def resolve_db_url(cli_url: str | None = None, settings: Settings | None = None) -> str:
    """The operator's database URL, from the first of ``--db``, env, config, default."""
    if cli_url:
        return _persistent(normalize_db_url(cli_url), "--db")
    env = os.environ.get(DB_ENV)
    if env:
        return _persistent(normalize_db_url(env), f"${DB_ENV}")
    settings = settings if settings is not None else load_settings()
    if settings.db_url:
        return _persistent(normalize_db_url(settings.db_url), f"db: in {config_path()}")
    return default_db_url()


def sqlite_path(url: str) -> Path | None:
    """The file of a (normalized) SQLite URL; None for other backends."""
    scheme, _, rest = url.partition("://")
    if not scheme.startswith("sqlite"):
        return None
    path = rest.partition("?")[0]
    return Path(path[1:] if path.startswith("/") else path)


def sqlite_not_writable(path: Path, *, reads_only: bool = False) -> str | None:
    """Why SQLite could not write the database at ``path`` (None: it can): the file's
    write permission as access(2) judges it for this user, and a file created beside it
    (its journal and WAL files live there). A store that only fails at the first write would
    fail an operator mid-session, with a reply on screen.

    ``reads_only``: why it could not even be read. A read-only file reads; a directory
    where SQLite cannot make the WAL's shared-memory file does not."""
    import tempfile

    directory = path.parent
    if reads_only and Path(f"{path}-shm").exists():
        return None
    # Not by opening the file: closing any descriptor of it drops every SQLite lock this
    # process holds on it (POSIX record locks belong to the process, not the descriptor).
    if path.exists() and not reads_only and not os.access(path, os.W_OK):
        return f"the database file {path} is read-only (Permission denied)"
    elif not directory.exists():
        return None  # made on open, or refused there with its own message
    try:
        with tempfile.TemporaryFile(dir=directory, prefix=".mcpctl-tui-probe-"):
            pass
    except OSError as exc:
        return (
            f"the directory {directory} of the database is not writable ({exc.strerror}); "
            "SQLite keeps its journal beside the file"
        )
    return None


def _persistent(url: str, origin: str) -> str:
    """Refuse an in-memory SQLite database: everything applied or said to it would be
    gone when the command ends (and each pooled connection would see its own)."""
    path = sqlite_path(url)
    in_memory = str(path) in (".", ":memory:") or "mode=memory" in url.partition("?")[2]
    if path is not None and in_memory:
        raise ConfigError(
            f"{origin}: {url!r} is an in-memory SQLite database, which would lose "
            "everything when the command ends; give a file: sqlite:///PATH"
        )
    return url


def redact_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}://{creds}@{host}"
