"""Bytes to text, before any YAML: UTF-8 only, and no character that libyaml (here) and
ruamel.yaml (CI's checker) would read differently."""

from __future__ import annotations

from ..errors import PolicySyntaxError

__all__ = ["decode"]


def decode(data: bytes) -> str:
    """The file's text: UTF-8 only, a leading BOM dropped, no character the two readers split."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        before = data[: e.start]
        line = before.count(b"\n") + 1
        column = e.start - (before.rfind(b"\n") + 1) + 1
        raise PolicySyntaxError.single(
            f"not valid UTF-8 (byte 0x{data[e.start]:02x}); save the file as UTF-8",
            line=line,
            column=column,
        ) from None
    text = text[1:] if text.startswith("\ufeff") else text
    for char, name in _DISPUTED_BREAKS.items():
        if char in text:
            index = text.index(char)
            line = text.count("\n", 0, index) + 1
            raise PolicySyntaxError.single(
                f"character U+{ord(char):04X} ({name}): libyaml reads it as a line break, YAML"
                f" 1.2 readers (CI's checker) as a character, so they would disagree on the"
                f" value; remove it, or write it escaped inside double quotes: \\u{ord(char):04x}",
                line=line,
                column=index - (text.rfind("\n", 0, index) + 1) + 1,
            )
    return text


# Line breaks in YAML 1.1 (libyaml) but ordinary characters in YAML 1.2 (ruamel.yaml): left in,
# they would fold a value differently here and in CI, so they are refused where they stand.
_DISPUTED_BREAKS = {
    "\u2028": "line separator",
    "\u2029": "paragraph separator",
    "\x85": "next line",
}
