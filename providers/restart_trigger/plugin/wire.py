"""Property values on the wire (``google.protobuf.Struct``) and back, secrets kept.

The engine sends a plugin that accepts secrets every secret value as an object
``{SIG: SECRET_SIG, "value": ...}`` and a value not known yet as the string ``UNKNOWN``
(pulumi/pulumi ``sdk/go/common/resource/plugin/rpc.go``). :func:`unwrap` gives the core plain
values and the paths that were secret; :func:`wrap` marks the same paths secret again in
what goes back, so a secret input stays a secret in state and outputs.

Pure Python over ``Struct`` (protobuf is imported when used); unknowns are left as the wire
sentinel, which ``validation.is_unknown`` knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SIG = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

Path = tuple[str | int, ...]


def from_struct(struct: Any) -> dict[str, Any]:
    """A ``Struct`` as a dict (numbers are floats, as the engine sends them)."""
    if struct is None:
        return {}
    from google.protobuf import json_format

    return json_format.MessageToDict(struct)


def to_struct(value: Mapping[str, Any]) -> Any:
    """A dict as a ``Struct`` (None becomes null)."""
    from google.protobuf import struct_pb2

    struct = struct_pb2.Struct()
    struct.update(dict(value))
    return struct


def is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get(SIG) == SECRET_SIG


def secret(value: Any) -> dict[str, Any]:
    return {SIG: SECRET_SIG, "value": value}


def unwrap(value: Any, path: Path = ()) -> tuple[Any, set[Path]]:
    """``value`` with every secret replaced by what it holds, and the paths that were
    secret."""
    paths: set[Path] = set()

    def walk(v: Any, at: Path) -> Any:
        if is_secret(v):
            paths.add(at)
            return walk(v.get("value"), at)
        if isinstance(v, Mapping):
            return {k: walk(x, (*at, k)) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x, (*at, i)) for i, x in enumerate(v)]
        return v

    return walk(value, path), paths


def wrap(value: Any, paths: Iterable[Path]) -> Any:
    """``value`` with the value at each of ``paths`` (where it exists) marked secret."""
    marked = set(paths)
    if not marked:
        return value

    def walk(v: Any, at: Path) -> Any:
        if isinstance(v, Mapping) and not is_secret(v):
            v = {k: walk(x, (*at, k)) for k, x in v.items()}
        elif isinstance(v, list):
            v = [walk(x, (*at, i)) for i, x in enumerate(v)]
        return secret(v) if at in marked and not is_secret(v) else v

    return walk(value, ())


def renamed(paths: Iterable[Path], rename) -> set[Path]:
    """``paths`` with their property names renamed (the core's names <-> the schema's): the
    trigger's property, and a target's field (``targets``, index, field). Map keys and what
    lies below them are values, kept."""

    def one(path: Path) -> Path:
        if not path or not isinstance(path[0], str):
            return path
        head = rename(path[0])
        if head == "targets" and len(path) > 2 and isinstance(path[2], str):
            return (head, path[1], rename(path[2]), *path[3:])
        return (head, *path[1:])

    return {one(path) for path in paths}
