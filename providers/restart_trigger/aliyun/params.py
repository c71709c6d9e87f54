"""Arguments and answers every operation shares: ids, optional integers and bools as the
official SDKs write them, and the sections of an answer a caller relies on.

The target kinds (``restart_trigger.targets``) build their requests and read their answers
with these; the client itself stays generic. Pure: standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..validation import INT32_MAX
from .errors import InvalidResponseError
from .transport import Operation


def clean_str(value: Any) -> str | None:
    """``value`` as stripped text, or None when absent or blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def id_set(values: Iterable[str] | str | None) -> frozenset[str]:
    """Change ids given as one id, several, or none."""
    if values is None:
        return frozenset()
    if isinstance(values, str):
        return frozenset({values})
    return frozenset(str(v) for v in values if v)


def require_id(name: str, value: Any) -> str:
    """A non-empty id argument, stripped (``ValueError`` naming ``name`` otherwise)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value.strip()


def optional_int(name: str, value: Any, low: int, high: int = INT32_MAX) -> str | None:
    """An optional integer parameter within [low, high], as text (None: not sent)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or value > high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return str(value)


def optional_bool(name: str, value: Any) -> str | None:
    """A bool parameter as tea's ``Utils.query`` and the legacy core write it (``str(value)``:
    ``True``/``False``; None: not sent)."""
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return str(value)


def section(data: Mapping[str, Any], key: str, op: Operation) -> dict:
    """The ``key`` object of an answer of ``op``, or ``InvalidResponseError``."""
    found = data.get(key)
    if not isinstance(found, dict):
        raise InvalidResponseError(
            200,
            "InvalidResponse",
            f"response has no {key}",
            data.get("RequestId"),
            operation=op.action,
        )
    return found


def items(data: Any, what: str, request_id: Any = None) -> list[dict]:
    """The objects of a listed section (a list, one object, or absent), or
    ``InvalidResponseError`` naming ``what`` when it is something else."""
    if data is None:
        return []
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list):
        raise InvalidResponseError(200, "InvalidResponse", f"{what} is not a list", request_id)
    return [item for item in data if isinstance(item, dict)]


def ids_of(listed: Iterable[Mapping[str, Any]], key: str = "ChangeOrderId") -> frozenset[str]:
    """The ``key`` of every listed item (blank ones left out): a change list's snapshot."""
    return frozenset(found for item in listed if (found := clean_str(item.get(key))))
