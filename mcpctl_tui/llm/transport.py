"""One streamed POST, shared by the HTTP adapters: status and transport errors become typed
``StreamError`` events; the bytes go to a wire-format decoder.

A decoder is a small synchronous object (``feed(bytes) -> events``, ``end() -> events``)
so each event crosses a single async generator on its way out, which keeps the per-event
cost close to a bare httpx loop.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from mcpctl_tui.llm.events import ErrorKind, Finish, StreamError, StreamEvent, one_line
from mcpctl_tui.llm.http import READ_TIMEOUT, make_client
from mcpctl_tui.llm.request import Endpoint
from mcpctl_tui.secrets import mask

STREAM_CUT = "stream ended before the reply finished"
# Bytes of one response as read (decompressed, if a server compresses anyway). Far past a
# reply the chat keeps (``max_reply_mib``): the wire repeats an envelope per token.
MAX_STREAM_BYTES = 1024 * 1024 * 1024
TOO_MUCH = "more than 1 GiB"
_MAX_ERROR_BODY = 64 * 1024


class Decoder(Protocol):
    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """Events completed by these bytes; a Finish or StreamError ends the stream."""
        ...

    def end(self) -> list[StreamEvent]:
        """The bytes ended cleanly: the last events, ending in Finish or StreamError."""
        ...


DecoderFactory = Callable[[httpx.Response], Decoder]


# The C scanner behind json.loads, without its two whitespace regex passes per call.
_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def loads(text: str | bytes) -> Any:
    """``json.loads`` for stream events, about 3x cheaper per small object.

    It calls the C scanner directly; anything it does not take whole (leading whitespace,
    trailing data, bytes, bad JSON) goes through ``json.loads`` for its exact result or
    its ``ValueError``.
    """
    if type(text) is str:
        try:
            obj, end = _scan_once(text, 0)
        except StopIteration:
            pass
        else:
            if end == len(text):
                return obj
    return json.loads(text)


def redact(text: str, endpoint: Endpoint) -> str:
    """A provider may echo the key back in an error (whole, cut, base64'd): it never
    reaches our messages (``secrets.mask``, the one rule)."""
    return mask(text, endpoint.api_key)


def provider_error_text(body: bytes | str | Any) -> str:
    """The human part of an error body: OpenAI/Anthropic/Ollama/FastAPI shapes, else text."""
    obj: Any = body
    if isinstance(body, bytes | str):
        raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            obj = json.loads(raw)
        except ValueError:
            return raw
    if isinstance(obj, dict):
        err = obj.get("error")
        if isinstance(err, dict):
            msg = err.get("message") or err.get("msg")
            kind = err.get("type") or err.get("code")
            if msg:
                return f"{msg} ({kind})" if isinstance(kind, str) and kind else str(msg)
            return json.dumps(err, ensure_ascii=False)
        if isinstance(err, str) and err:
            return err
        for key in ("message", "detail"):
            if obj.get(key):
                val = obj[key]
                return val if isinstance(val, str) else json.dumps(val, ensure_ascii=False)
    return json.dumps(obj, ensure_ascii=False) if not isinstance(obj, str) else obj


def status_kind(status: int) -> ErrorKind:
    if status in (401, 403):
        return ErrorKind.AUTH
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status == 429:
        return ErrorKind.RATE_LIMIT
    if status == 408:
        return ErrorKind.TIMEOUT
    if status >= 500:
        return ErrorKind.SERVER
    return ErrorKind.BAD_REQUEST


def _host(url: str) -> str:
    try:
        u = httpx.URL(url)
    except Exception:  # an unparseable URL is reported as such elsewhere
        return url
    return f"{u.host}:{u.port}" if u.port else u.host


async def stream_http(
    endpoint: Endpoint,
    url: str,
    *,
    headers: Mapping[str, str],
    body: Mapping[str, Any],
    decoder: DecoderFactory,
    client: httpx.AsyncClient | None = None,
) -> AsyncIterator[StreamEvent]:
    """POST ``body`` as JSON to ``url`` and yield the decoded events, ending in exactly one
    Finish or StreamError. The response is closed when the generator ends, is closed, or
    its task is cancelled; a client made here is closed too.

    Every error's message passes ``redact`` here, whatever made it (a status page, a
    malformed chunk quoted back, a decoder's complaint): a key the server echoes never
    reaches a message, a stored turn or a log."""
    own = client is None
    http = make_client() if client is None else client
    host = _host(url)
    try:
        try:
            # Uncompressed: a reply is read as it streams, and a compressed one can unpack
            # to far more than was sent (a 1 MB gzip bomb took a chat to 4 GB).
            sent = {"accept-encoding": "identity", **headers}
            request = http.build_request("POST", url, headers=sent, json=body)
            response = await http.send(request, stream=True)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            yield _masked(
                endpoint,
                StreamError(ErrorKind.CONFIG, f"invalid LLM URL {url!r}: {one_line(str(exc))}"),
            )
            return
        except ValueError as exc:  # a body JSON cannot carry (NaN in a stored default param)
            yield _masked(
                endpoint, StreamError(ErrorKind.CONFIG, f"request not sent: {one_line(str(exc))}")
            )
            return
        except httpx.ConnectTimeout:
            yield _masked(
                endpoint, StreamError(ErrorKind.NETWORK, f"cannot connect to {host}: timed out")
            )
            return
        except httpx.ConnectError as exc:
            yield _masked(
                endpoint,
                StreamError(ErrorKind.NETWORK, f"cannot connect to {host}: {_reason(exc)}"),
            )
            return
        except httpx.TimeoutException:
            yield _masked(
                endpoint, StreamError(ErrorKind.TIMEOUT, f"no answer from {host} (timed out)")
            )
            return
        except httpx.HTTPError as exc:
            yield _masked(
                endpoint,
                StreamError(ErrorKind.NETWORK, f"request to {host} failed: {_reason(exc)}"),
            )
            return
        try:
            if response.status_code >= 400:
                yield _masked(endpoint, await _status_error(response, endpoint, host))
                return
            if response.status_code >= 300:
                where = response.headers.get("location", "elsewhere")
                yield _masked(
                    endpoint,
                    StreamError(
                        ErrorKind.CONFIG,
                        f"HTTP {response.status_code} from {host}: redirected to "
                        f"{one_line(where, 120)}; set the LLM's URL to the final address",
                        response.status_code,
                    ),
                )
                return
            dec = decoder(response)
            read = 0
            try:
                async for chunk in response.aiter_bytes():
                    read += len(chunk)
                    if read > MAX_STREAM_BYTES:
                        yield _masked(
                            endpoint,
                            StreamError(ErrorKind.TOO_LONG, f"{host} sent {TOO_MUCH}; stopped"),
                        )
                        return
                    try:
                        events = dec.feed(chunk)
                    except Exception as exc:  # a decoder bug must not crash the caller
                        events = [_unreadable(exc)]
                    for ev in events:
                        if type(ev) is StreamError:  # the end, checked only here
                            yield _masked(endpoint, ev)
                            return
                        yield ev
                        if type(ev) is Finish:
                            return
                try:
                    tail = dec.end()
                except Exception as exc:
                    tail = [_unreadable(exc)]
            except httpx.ReadTimeout:
                waited = http.timeout.read or READ_TIMEOUT
                yield _masked(
                    endpoint,
                    StreamError(
                        ErrorKind.TIMEOUT, f"{host} sent nothing for {waited:g} s; gave up"
                    ),
                )
                return
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.NetworkError) as exc:
                yield _masked(
                    endpoint, StreamError(ErrorKind.NETWORK, f"{STREAM_CUT} ({_reason(exc)})")
                )
                return
            except httpx.HTTPError as exc:
                yield _masked(
                    endpoint, StreamError(ErrorKind.NETWORK, f"{STREAM_CUT} ({_reason(exc)})")
                )
                return
            for ev in tail:
                if type(ev) is StreamError:
                    yield _masked(endpoint, ev)
                    return
                yield ev
                if type(ev) is Finish:
                    return
            # A decoder must end the stream; if one forgot, the caller still gets an end.
            yield _masked(endpoint, StreamError(ErrorKind.PROTOCOL, STREAM_CUT))
        finally:
            await response.aclose()
    finally:
        if own:
            await http.aclose()


def _masked(endpoint: Endpoint, error: StreamError) -> StreamError:
    """``error`` with the key taken out of its message (``redact``): applied to every
    error this module yields, whatever made it, and never to the chunks in between."""
    if not endpoint.api_key:
        return error
    return replace(error, message=redact(error.message, endpoint))


def _unreadable(exc: Exception) -> StreamError:
    return StreamError(
        ErrorKind.PROTOCOL, f"unreadable stream ({type(exc).__name__}: {one_line(str(exc), 120)})"
    )


def not_a_stream(content_type: str, what: str = "an event stream") -> StreamError:
    """Bytes came, but nothing in them was an event: the URL points at something else."""
    return StreamError(
        ErrorKind.PROTOCOL,
        f"the server's reply is not {what} (content-type {content_type or 'none'}); "
        "check the LLM's URL and type",
    )


def _reason(exc: BaseException) -> str:
    text = one_line(str(exc), 160)
    return text or type(exc).__name__


async def _status_error(response: httpx.Response, endpoint: Endpoint, host: str) -> StreamError:
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            parts.append(chunk)
            size += len(chunk)
            if size >= _MAX_ERROR_BODY:
                break
    except httpx.HTTPError:
        pass  # the status says enough
    body = provider_error_text(b"".join(parts))
    if "html" in response.headers.get("content-type", "").lower():
        body = _page_text(body)
    text = one_line(redact(body, endpoint))
    status = response.status_code
    # HTTP/2 and many servers send no reason phrase: the empty part is left out
    msg = " ".join(p for p in ("HTTP", str(status), response.reason_phrase, "from", host) if p)
    if text and text in msg:  # a page titled "502 Bad Gateway" says nothing more
        text = ""
    wait = _retry_after(response.headers.get("retry-after", ""))
    if wait:
        text = f"{text} (retry after {wait})" if text else f"retry after {wait}"
    return StreamError(status_kind(status), f"{msg}: {text}" if text else msg, status)


_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_HIDDEN = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def _page_text(page: str) -> str:
    """An HTML error page (a proxy's 502, a gateway's 500) as the words it shows: its
    title, else its text without tags. The raw page was five lines of markup."""
    title = _TITLE.search(page)
    words = title.group(1) if title else _TAG.sub(" ", _HIDDEN.sub(" ", page))
    return html.unescape(words)


def _retry_after(value: str) -> str:
    """A Retry-After header (seconds, or an HTTP date) as the operator should read it."""
    value = value.strip()
    if value.isdigit():
        return f"{int(value)} s"
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return ""
    return one_line(value, 60) if when is not None else ""


def stream_error_event(obj: Any, endpoint: Endpoint) -> StreamError:
    """An error object inside the stream (the provider gave up mid-reply)."""
    return StreamError(
        ErrorKind.PROVIDER, one_line(redact(provider_error_text(obj), endpoint)) or "error"
    )


def malformed(data: str | bytes) -> StreamError:
    shown = data if isinstance(data, str) else data.decode("utf-8", "replace")
    return StreamError(ErrorKind.PROTOCOL, f"malformed JSON in the stream: {one_line(shown, 80)!r}")
