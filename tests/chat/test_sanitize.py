"""The terminal sanitiser: control and escape sequences never reach the terminal."""

from __future__ import annotations

from mcpctl_tui.chat.sanitize import for_terminal, one_line


def test_controls_removed_newline_and_tab_kept() -> None:
    raw = "a\x1b[31mred\x1b[0m\tb\r\nc\x07\x00\x7f\x9b2J\x9d0;title\x9c é 😀"
    assert for_terminal(raw) == "a[31mred[0m\tb\nc2J0;title é 😀"


def test_split_sequences_cannot_reassemble() -> None:
    chunks = ["x\x1b", "]52;c;aGk=\x07", "\x1b", "[2J"]
    assert "".join(for_terminal(c) for c in chunks) == "x]52;c;aGk=[2J"
    assert "\x1b" not in "".join(for_terminal(c) for c in chunks)


def test_one_line() -> None:
    assert one_line("bad\n\x1b[1mthing\r\n  happened\t!") == "bad [1mthing happened !"
    assert one_line("x" * 400, 10) == "x" * 9 + "…"


def test_bidi_overrides_removed_right_to_left_text_kept() -> None:
    # "rm -rf /tmp/x" that an RLO would show reversed; Hebrew and Arabic stay as they are.
    raw = "run \u202erm -rf /tmp/x\u202c and \u2067isolated\u2069 \u202aemb\u202b: שלום مرحبا"
    assert for_terminal(raw) == "run rm -rf /tmp/x and isolated emb: שלום مرحبا"
