"""Text the command line reads from a file or stdin: bounded, UTF-8, one-line errors.

Every such read takes at most its limit plus one byte (to know the limit was passed), so
``apply -f /dev/zero``, ``--system-file /dev/urandom`` or an endless pipe into ``-m -``
end at once with a message instead of filling memory.
"""

from __future__ import annotations

import sys

import click

MIB = 1024 * 1024
MANIFEST_LIMIT = 16 * MIB  # apply -f: far past any hand-written or exported manifest
TEXT_LIMIT = 1 * MIB  # a message (-m -) or a system prompt (--system-file)


def read_text(
    path: str,
    limit: int,
    what: str,
    *,
    bom: bool = False,
    error: type[click.ClickException] = click.ClickException,
) -> str:
    """The text at ``path`` (``-``: stdin), at most ``limit`` bytes; ``what`` names it in
    errors (``--system-file notes.md``), raised as ``error`` (``click.UsageError`` for an
    option's value). ``bom``: a UTF-8 byte order mark is dropped."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"{what}: cannot read it ({exc.strerror})") from None
    if len(data) > limit:
        raise error(f"{what}: over {_size(limit)}; refused")
    try:
        return data.decode("utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what}: not UTF-8 text (byte {exc.start + 1})") from None


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit % MIB == 0 else f"{limit // 1024} KiB"
