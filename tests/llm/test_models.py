"""Listing a server's models ("test connection"): each format's path and headers, real
servers on 127.0.0.1, and every failure a one-line error that never holds the key."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from mcpctl_tui.llm.models import ModelListError, list_models, models_url
from mcpctl_tui.llm.request import Endpoint
from tests.support.llm_servers import LlmServer, RecordedRequest, Reply

KEY = "sk-test-0123456789abcdef"


def _json(body: Any, status: int = 200) -> Reply:
    headers = {"content-type": "application/json"}
    return Reply([json.dumps(body).encode()], status=status, headers=headers, framing="length")


@pytest.mark.parametrize(
    ("llm_type", "base", "path", "body", "auth"),
    [
        ("openai", "/v1", "/v1/models", {"data": [{"id": "b"}, {"id": "a"}]}, "authorization"),
        ("vllm", "", "/v1/models", {"data": [{"id": "b"}, {"id": "a"}]}, "authorization"),
        ("anthropic", "", "/v1/models", {"data": [{"id": "b"}, {"id": "a"}]}, "x-api-key"),
        ("ollama", "", "/api/tags", {"models": [{"name": "b"}, {"name": "a"}]}, None),
    ],
)
async def test_each_format_asks_its_path(
    llm_type: str, base: str, path: str, body: Any, auth: str | None
) -> None:
    async with LlmServer(_json(body)) as srv:
        endpoint = Endpoint(type=llm_type, url=srv.url + base, model="", api_key=KEY)
        assert models_url(endpoint) == srv.url + path
        assert await list_models(endpoint) == ["a", "b"]
        (req,) = srv.requests
    assert req.method == "GET" and req.path == path
    if auth is not None:
        assert KEY in req.headers[auth]


def _failing(reply: Reply) -> Any:
    def handler(_: RecordedRequest) -> Reply:
        return reply

    return handler


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (_json({"error": {"message": f"bad key {KEY} / {KEY[:10]}"}}, 401), "HTTP 401"),
        (_json({"error": "slow down"}, 429), "HTTP 429"),
        (_json({"oops": True}, 500), "HTTP 500"),
        (
            Reply(
                [f"<html>{KEY}".encode()], headers={"content-type": "text/html"}, framing="length"
            ),
            "not JSON",
        ),
        (_json({"data": 5}), "not a model list"),
        (_json({"data": [{"id": 42}]}), "not text"),
        (_json([KEY]), "not a model list"),
    ],
)
async def test_failures_are_one_line_without_the_key(reply: Reply, said: str) -> None:
    async with LlmServer(_failing(reply)) as srv:
        with pytest.raises(ModelListError) as err:
            await list_models(Endpoint(type="openai", url=srv.url, model="", api_key=KEY))
    text = str(err.value)
    assert said in text and "\n" not in text
    assert KEY[:8] not in text


async def test_nobody_listening_and_no_list_to_ask() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nobody answers there
    with pytest.raises(ModelListError, match="no answer"):
        await list_models(Endpoint(type="ollama", url=f"http://127.0.0.1:{port}", model=""))
    with pytest.raises(ModelListError, match="no model list"):
        await list_models(Endpoint(type="echo", url="", model=""))
