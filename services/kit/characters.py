"""Control characters in text: refused in every string a caller sends (request fields, CSV cells,
webhook bodies), except tab and line breaks where a field holds free text.

Stored text with a NUL cannot reach Postgres, and invisible controls make one value look like
another (an e-mail with a NUL in it), so they are refused where text enters, naming the field."""

from __future__ import annotations

import re

# Unicode category Cc: C0 controls, DEL and C1 controls.
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NOT_IN_FREE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_fault(value: str, *, free_text: bool = True) -> str | None:
    """What is wrong with `value`, or None: the first control character it holds, by code point and
    position. Free text may hold tab, line feed and carriage return; other text holds no control at all."""
    found = (_NOT_IN_FREE_TEXT if free_text else _ANY_CONTROL).search(value)
    if found is None:
        return None
    return f"must not contain control characters (U+{ord(found.group()):04X} at character {found.start() + 1})"


def visible(value: str) -> str:
    """`value` with every control character written as a `\\uXXXX` escape, safe to show and to store."""
    return _ANY_CONTROL.sub(lambda found: f"\\u{ord(found.group()):04x}", value)
