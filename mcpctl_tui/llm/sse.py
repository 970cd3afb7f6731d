"""An incremental Server-Sent Events parser (the WHATWG event-stream rules), fed raw bytes.

Bytes arrive split anywhere: inside a UTF-8 character, inside a line, between the CR and
LF of a CRLF. The parser keeps only the unfinished line (as a list of pieces, joined once
when its end arrives), so the work is linear in the bytes however they are split.

Rules followed: lines end in CRLF, LF or CR; a line starting with ``:`` is a comment;
``field:value`` loses one leading space of the value; ``field`` alone has an empty value;
``data`` lines join with ``\\n``; ``event`` names the event; ``id`` (without NUL) sets the
last event id; ``retry`` (digits) sets the reconnection time; other fields are ignored;
a blank line dispatches the event, unless it has no data (then only id/retry took
effect). At the end of the stream an unfinished event is still dispatched: a server that
forgets the last blank line must not lose the last event's text.
"""

from __future__ import annotations

import codecs
from typing import NamedTuple

# One line of a stream (SSE here, NDJSON in ollama.py) may be this long: a whole non-
# streamed completion fits; a server that never ends its line is stopped here.
MAX_LINE = 32 * 1024 * 1024


class LineTooLong(ValueError):
    def __init__(self) -> None:
        super().__init__(f"a line of the stream passed {MAX_LINE // 2**20} MiB")


class SSEEvent(NamedTuple):  # a tuple: cheaper to make than a frozen dataclass
    data: str
    event: str = "message"
    id: str | None = None


class SSEParser:
    """``feed(bytes) -> [SSEEvent]`` as bytes arrive, then ``close() -> [SSEEvent]`` once."""

    __slots__ = (
        "_data",
        "_decoder",
        "_event",
        "_partial",
        "_pending",
        "_skip_lf",
        "_start",
        "last_id",
        "retry",
    )

    def __init__(self) -> None:
        # Invalid UTF-8 becomes U+FFFD rather than an exception: the text around it survives.
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._partial: list[str] = []  # pieces of the line not yet ended
        self._pending = 0  # their length
        self._skip_lf = False  # the last piece ended in CR: a leading LF belongs to it
        self._start = True  # no text yet: a byte-order mark there is dropped
        self._data: list[str] = []
        self._event = ""
        self.last_id: str | None = None
        self.retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        text = self._decoder.decode(chunk)
        # Fast paths for the common read: one whole event (``data: …`` or ``event: …`` +
        # ``data: …``, then the blank line) with nothing pending. Same result as the
        # general path, a fraction of the work.
        if (
            text[-2:] == "\n\n"
            and not self._partial
            and not self._data
            and not self._event
            and not self._skip_lf
            and "\r" not in text
        ):
            lines = text.count("\n")
            if lines == 2 and text[:6] == "data: ":
                self._start = False
                return [SSEEvent(text[6:-2], "message", self.last_id)]
            if lines == 3 and text[:7] == "event: ":
                i = text.index("\n")
                if text[i + 1 : i + 7] == "data: ":
                    self._start = False
                    return [SSEEvent(text[i + 7 : -2], text[7:i] or "message", self.last_id)]
        return self._text(text)

    def close(self) -> list[SSEEvent]:
        """The end of the stream: flush a final line and a final event without blank line."""
        out = self._text(self._decoder.decode(b"", True))
        if self._partial:
            line = "".join(self._partial)
            self._partial = []
            self._line(line, out)
        if self._data:
            self._line("", out)
        return out

    def _text(self, text: str) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        if not text:
            return out
        if self._start:
            self._start = False
            if text[0] == "\ufeff":
                text = text[1:]
                if not text:
                    return out
        if self._skip_lf:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
                if not text:
                    return out
        if "\r" in text:
            # A CR at the very end may be the first half of a CRLF split across reads.
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        if len(lines) == 1:
            self._partial.append(text)
            self._pending += len(text)
            if self._pending > MAX_LINE:
                raise LineTooLong
            return out
        last = lines.pop()
        if self._partial:
            self._partial.append(lines[0])
            lines[0] = "".join(self._partial)
            self._partial = []
        self._pending = len(last)
        if last:
            self._partial.append(last)
        line_ = self._line
        for line in lines:
            line_(line, out)
        return out

    def _line(self, line: str, out: list[SSEEvent]) -> None:
        if line.startswith("data:"):  # the hot path: one check for most lines
            value = line[5:]
            self._data.append(value[1:] if value[:1] == " " else value)
            return
        if not line:
            if self._data:
                data = self._data[0] if len(self._data) == 1 else "\n".join(self._data)
                out.append(SSEEvent(data, self._event or "message", self.last_id))
                self._data = []
            self._event = ""
            return
        if line[0] == ":":
            return
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":  # "data" with no colon: an empty data line
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self.last_id = value
        elif name == "retry" and value.isdigit() and value.isascii():
            self.retry = int(value)
        # other fields are ignored, as the standard says
