"""The provider file (``provider serve -f provider.yaml``), parsed and checked.

::

    session:
      stateFile: ~/.local/share/mcpctl-tui/provider-gpu1.id   # optional
    heartbeatInterval: 30      # seconds, optional
    concurrency: 4             # tasks served at once, optional
    llms:
      - name: gpu1-llama
        description: Llama 3 on the lab box
        tier: fast
        upstream: {type: openai, url: http://127.0.0.1:8000/v1, model: llama3,
                   apiKeyRef: env:LAB_KEY}
      - name: local-cli
        upstream: {command: [my-model, --stream]}
    agents:
      - name: lab-helper
        llm: gpu1-llama
        systemPrompt: You help in the lab.
        defaultParams: {temperature: 0.2}
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mcpctl_tui.config import data_dir, yaml_problem
from mcpctl_tui.llm.registry import UnknownLlmType, get_adapter
from mcpctl_tui.secrets import KeyRefError, validate_key_ref

COMMAND_TYPE = "command"


class ProviderConfigError(Exception):
    """The provider file is unusable; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """Either an adapter endpoint (type/url/model/api_key_ref) or a local command."""

    type: str
    url: str = ""
    model: str = ""
    api_key_ref: str | None = None
    command: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PublishedLlm:
    name: str
    upstream: UpstreamConfig
    description: str = ""
    tier: str | None = None


@dataclass(frozen=True, slots=True)
class PublishedAgent:
    name: str
    llm: str
    system_prompt: str = ""
    description: str = ""
    default_params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    llms: tuple[PublishedLlm, ...]
    agents: tuple[PublishedAgent, ...] = ()
    concurrency: int = 4
    # None: not in the file (the config file's heartbeat_interval, else the default, applies).
    heartbeat_interval: float | None = None
    state_file: Path | None = None
    source: Path | None = None

    def state_path(self) -> Path:
        """Where the session id lives: the file's choice, else one per provider file."""
        if self.state_file is not None:
            return self.state_file
        key = str(self.source.resolve()) if self.source else "default"
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return data_dir() / "provider-sessions" / f"{digest}.id"


_TOP_KEYS = {"session", "heartbeatInterval", "concurrency", "llms", "agents"}
_LLM_KEYS = {"name", "description", "tier", "upstream"}
_UPSTREAM_KEYS = {"type", "url", "model", "apiKeyRef", "command"}
_AGENT_KEYS = {"name", "llm", "systemPrompt", "description", "defaultParams"}


def load_provider_config(path: Path) -> ProviderConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProviderConfigError(f"provider file {path} cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        line, problem = yaml_problem(exc)
        at = f" (line {line})" if line is not None else ""
        raise ProviderConfigError(
            f"provider file {path} is not valid YAML{at}: {problem}"
        ) from None
    except UnicodeDecodeError as exc:
        raise ProviderConfigError(
            f"provider file {path} is not UTF-8 text (byte {exc.start})"
        ) from None
    return parse_provider_config(raw, source=path)


def parse_provider_config(raw: Any, source: Path | None = None) -> ProviderConfig:
    where = f"provider file {source}" if source else "provider config"

    def fail(msg: str) -> ProviderConfigError:
        return ProviderConfigError(f"{where}: {msg}")

    def mapping(value: Any, what: str, keys: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise fail(f"{what} must be a mapping")
        unknown = sorted(set(value) - keys)
        if unknown:
            raise fail(f"{what}: unknown key(s) {', '.join(map(str, unknown))}")
        return value

    def string(value: Any, what: str, *, required: bool = False) -> str:
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            need = "a non-empty string" if required else "a string"
            raise fail(f"{what} must be {need}")
        return value

    def positive(value: Any, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise fail(f"{what} must be a positive number")
        return float(value)

    top = mapping(raw, "the file", _TOP_KEYS)
    llms_raw = top.get("llms")
    if not isinstance(llms_raw, list) or not llms_raw:
        raise fail("'llms' must be a non-empty list")

    llms: list[PublishedLlm] = []
    for i, item in enumerate(llms_raw):
        what = f"llms[{i}]"
        m = mapping(item, what, _LLM_KEYS)
        name = string(m.get("name"), f"{what}.name", required=True)
        what = f"llm {name}"
        up = mapping(m.get("upstream"), f"{what}: upstream", _UPSTREAM_KEYS)
        if "command" in up:
            argv = up["command"]
            if (
                not isinstance(argv, list)
                or not argv
                or not all(isinstance(a, str) and a for a in argv)
            ):
                raise fail(f"{what}: upstream.command must be a non-empty list of strings")
            extra = sorted(set(up) - {"command", "model"})
            if extra:
                raise fail(f"{what}: upstream.command does not take {', '.join(extra)}")
            upstream = UpstreamConfig(
                type=COMMAND_TYPE,
                model=string(up.get("model"), f"{what}: upstream.model"),
                command=tuple(argv),
            )
        else:
            key_ref = up.get("apiKeyRef")
            if key_ref is not None:
                try:
                    validate_key_ref(str(key_ref))
                except KeyRefError as exc:
                    raise fail(f"{what}: upstream.apiKeyRef: {exc}") from None
            llm_type = string(up.get("type"), f"{what}: upstream.type", required=True)
            try:  # an unknown type fails here, before anything is registered
                get_adapter(llm_type)
            except UnknownLlmType as exc:
                raise fail(f"{what}: upstream.type: {exc}") from None
            upstream = UpstreamConfig(
                type=llm_type,
                url=string(up.get("url"), f"{what}: upstream.url", required=True),
                model=string(up.get("model"), f"{what}: upstream.model"),
                api_key_ref=str(key_ref) if key_ref is not None else None,
            )
        tier = m.get("tier")
        llms.append(
            PublishedLlm(
                name=name,
                upstream=upstream,
                description=string(m.get("description"), f"{what}.description"),
                tier=string(tier, f"{what}.tier") if tier is not None else None,
            )
        )
    names = [llm.name for llm in llms]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise fail(f"llm name(s) listed twice: {', '.join(dupes)}")

    agents: list[PublishedAgent] = []
    agents_raw = top.get("agents") or []
    if not isinstance(agents_raw, list):
        raise fail("'agents' must be a list")
    for i, item in enumerate(agents_raw):
        m = mapping(item, f"agents[{i}]", _AGENT_KEYS)
        name = string(m.get("name"), f"agents[{i}].name", required=True)
        llm = string(m.get("llm"), f"agent {name}: llm", required=True)
        if llm not in names:
            raise fail(f"agent {name}: llm {llm!r} is not one of this file's llms")
        params = m.get("defaultParams") or {}
        if not isinstance(params, dict):
            raise fail(f"agent {name}: defaultParams must be a mapping")
        agents.append(
            PublishedAgent(
                name=name,
                llm=llm,
                system_prompt=string(m.get("systemPrompt"), f"agent {name}: systemPrompt"),
                description=string(m.get("description"), f"agent {name}: description"),
                default_params=params,
            )
        )
    anames = [a.name for a in agents]
    dupes = sorted({n for n in anames if anames.count(n) > 1})
    if dupes:
        raise fail(f"agent name(s) listed twice: {', '.join(dupes)}")

    session = mapping(top.get("session") or {}, "session", {"stateFile"})
    state_file = session.get("stateFile")
    concurrency = top.get("concurrency", 4)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise fail("concurrency must be a positive integer")
    return ProviderConfig(
        llms=tuple(llms),
        agents=tuple(agents),
        concurrency=concurrency,
        heartbeat_interval=positive(top["heartbeatInterval"], "heartbeatInterval")
        if "heartbeatInterval" in top
        else None,
        state_file=Path(string(state_file, "session.stateFile")).expanduser()
        if state_file
        else None,
        source=source,
    )
