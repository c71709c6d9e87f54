"""Field checks shared by the trigger's inputs and every kind of target.

A check never raises: it adds ``(property path, reason)`` to a :class:`Failures`, so that
``check`` reports every bad field of a preview at once, each naming the field and the fix.
Values Pulumi does not know yet (a preview before an Output resolves) pass unchecked.

Pure: no pulumi import. ``is_unknown`` recognises the SDK's ``Unknown`` objects only when
the SDK is already loaded (in a process without pulumi, no such object can exist).
"""

from __future__ import annotations

import logging
import math
import sys
from typing import Any

# The value Pulumi puts in place of an input that is not known yet, on the wire and in
# `pulumi preview --json` (sdk/python/lib/pulumi/runtime/rpc.py UNKNOWN).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
# The key that marks a serialized secret value (sdk/python/lib/pulumi/runtime/rpc.py).
SECRET_SIG = "4dabf18193072939515e22adb298388d"
KNOWN_AFTER_APPLY = "(known after apply)"


class Failures:
    """Collects check failures as (property path, reason) pairs."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, reason: str) -> None:
        self.items.append((path, reason))

    def __len__(self) -> int:
        return len(self.items)


def is_unknown(value: Any) -> bool:
    """True for an input not known yet: the SDK's ``pulumi.output.Unknown`` (what check and
    diff receive) or the raw wire sentinel (what preview JSON holds)."""
    if isinstance(value, str):
        return value == UNKNOWN
    output = sys.modules.get("pulumi.output")
    unknown_type = getattr(output, "Unknown", None)
    return isinstance(unknown_type, type) and isinstance(value, unknown_type)


def show(value: Any) -> str:
    """A value as the user wrote it: Pulumi sends every number as a float (2 -> 2.0)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def escaped(value: Any) -> str:
    """Text safe to print on a terminal or in a log line: control characters (ESC of ANSI
    sequences, BEL, CR, ...) and invisible format characters (bidi overrides) are shown as
    escapes (``\\x1b``, ``\\u202e``), never sent raw. Everything else is left as it is."""
    text = "" if value is None else str(value)
    if all(ch.isprintable() or ch == " " for ch in text):
        return text
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


class _EscapingFilter(logging.Filter):
    """Renders each record's message with :func:`escaped`: a log line that carries an id or a
    server's text (they reach the CLI's output through the provider's stderr) never holds a
    raw control character."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = escaped(message), ()
        return True


_ESCAPING = _EscapingFilter()


def logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` whose lines are escaped (see ``_EscapingFilter``)."""
    log = logging.getLogger(name)
    if _ESCAPING not in log.filters:
        log.addFilter(_ESCAPING)
    return log


def is_secret(value: Any) -> bool:
    """A secret as it appears in preview JSON (or its masked text)."""
    return (isinstance(value, dict) and SECRET_SIG in value) or value == "[secret]"


def shown(value: Any) -> str:
    """A value in words for summaries: unknowns, secrets, booleans and Pulumi's floats as a
    reader expects them."""
    if value is None:
        return "unset"
    if is_unknown(value):
        return KNOWN_AFTER_APPLY
    if is_secret(value):
        return "[secret]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# No Alibaba Cloud id is longer (EDAS/SAE ids are UUIDs, Web+ ids 27 characters).
MAX_ID_LENGTH = 128


def check_id(value: Any, path: str, what: str, failures: Failures) -> None:
    """An id the API takes as one token: a non-empty, printable string of at most
    ``MAX_ID_LENGTH`` characters, no whitespace, no commas."""
    if is_unknown(value):
        return
    if not isinstance(value, str):
        failures.add(path, f"must be a string: the {what}, got {show(value)}; quote it in YAML")
    elif len(value) > MAX_ID_LENGTH:
        failures.add(
            path,
            f"is {len(value)} characters long: no {what} is longer than {MAX_ID_LENGTH}; "
            "check that the right value is passed",
        )
    elif any(not ch.isprintable() for ch in value.strip()):
        failures.add(
            path, f"must not contain control characters: got {escaped(value)!r}; no {what} has any"
        )
    elif not value.strip():
        failures.add(
            path, f'must be a non-empty string: the {what}, e.g. {path.split(".")[-1]}="..."'
        )
    elif value != value.strip() or any(c.isspace() for c in value):
        failures.add(path, f"must not contain whitespace: got {value!r}")
    elif "," in value:
        failures.add(path, f"must be a single id without commas: got {value!r}")


INT32_MAX = 2**31 - 1
"""The largest integer the Alibaba Cloud APIs take: their integer parameters are 32-bit
(``Integer`` in the API pages, ``int`` in the official SDKs' models)."""


def check_int(
    value: Any, path: str, failures: Failures, *, low: int, high: int = INT32_MAX
) -> None:
    """An optional whole number within [low, high] (``high``: by default the largest the APIs'
    32-bit integers hold)."""
    if value is None or is_unknown(value):
        return
    if isinstance(value, bool) or not is_number(value) or value != int(value):
        failures.add(path, f"must be a whole number, got {show(value)}")
        return
    if value < low or value > high:
        bound = (
            f"between {low} and {high}"
            if high != INT32_MAX
            else f"at least {low} and at most {INT32_MAX} (the API's integers are 32-bit)"
        )
        failures.add(path, f"must be {bound}, got {show(value)}")


def clipped(value: Any, limit: int = 40) -> str:
    """``repr`` of a value for an error message, cut to its first ``limit`` characters (with
    its length) when longer: a message never carries a whole pasted file."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value)} characters)"
    return show(value)


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool): NaN and infinities are no number of anything."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def check_bool(value: Any, path: str, failures: Failures) -> None:
    """An optional true/false."""
    if value is None or is_unknown(value):
        return
    if not isinstance(value, bool):
        failures.add(path, f"must be true or false, got {show(value)}")


def as_int(value: Any) -> int | None:
    """A checked whole number (Pulumi sends floats) as an int."""
    return None if value is None else int(value)
