"""The plugin's property names (camelCase, the schema's) and the core's (snake_case).

The core (``inputs``, ``plan``, ``rollout``) speaks the dynamic provider's wire names:
``restart_on_create``, ``app_id``. The schema, like every Pulumi package, says
``restartOnCreate``, ``appId``. Only property names are translated, at the places the schema
has them: the trigger's inputs and outputs, and the fields of each target. Map keys (the
target keys of ``progress``, ``statuses``, ...) and the inner keys of a ``progress`` record
are values, kept as they are.

``to_snake`` leaves a snake_case name unchanged, so a Python program's dict literal
(``{"kind": "sae", "app_id": ...}``, sent as written by the generated SDK) is taken too.

Pure: no pulumi import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_UPPER = re.compile(r"(?<=[a-z0-9])([A-Z])")


def to_snake(name: str) -> str:
    """``maxParallel`` -> ``max_parallel``; ``max_parallel`` stays."""
    return _UPPER.sub(r"_\1", name).lower()


def to_camel(name: str) -> str:
    """``max_parallel`` -> ``maxParallel``; ``maxParallel`` stays."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _keys(value: Any, rename) -> Any:
    if not isinstance(value, Mapping):
        return value
    return {rename(k): v for k, v in value.items()}


def _targets(value: Any, rename) -> Any:
    if isinstance(value, list):
        return [_keys(t, rename) for t in value]
    return value


def from_engine(props: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The trigger's inputs or state as the engine sends them, in the core's names."""
    if props is None:
        return None
    out = {to_snake(k): v for k, v in props.items()}
    if "targets" in out:
        out["targets"] = _targets(out["targets"], to_snake)
    return out


def to_engine(props: Mapping[str, Any]) -> dict[str, Any]:
    """The core's inputs or outputs in the schema's names."""
    out = {to_camel(k): v for k, v in props.items()}
    if "targets" in out:
        out["targets"] = _targets(out["targets"], to_camel)
    return out


_SNAKE_WORD = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def path_to_engine(path: str) -> str:
    """A failure's property path in the schema's names: ``targets[0].app_id`` ->
    ``targets[0].appId``."""
    return _SNAKE_WORD.sub(lambda m: to_camel(m.group(0)), path)


def text_to_engine(text: str, names: frozenset[str]) -> str:
    """A reason's words with the core's property names (in backquotes) in the schema's:
    "needs `restart_on_create`" -> "needs `restartOnCreate`". Only the ``names`` given are
    touched, so other code-like words (environment variables, API fields) stay."""

    def rename(match: re.Match[str]) -> str:
        word = match.group(1)
        return f"`{to_camel(word)}`" if word in names else match.group(0)

    return re.sub(r"`([a-z][a-z0-9_]*)`", rename, text)
