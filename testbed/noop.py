"""A minimal dynamic resource that calls no API.

It proves the engine path (program -> engine -> dynamic provider -> state) works, and it is
the floor every Python dynamic provider pays in the benchmarks.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi.dynamic as dynamic


class NoopProvider(dynamic.ResourceProvider):
    """Stores its inputs as outputs; ``value`` changes are in-place updates."""

    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        return dynamic.CreateResult(id_=f"noop-{props.get('value', '')}", outs=dict(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = olds.get("value") != news.get("value")
        return dynamic.DiffResult(changes=changed)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        return dynamic.UpdateResult(outs=dict(news))


class Noop(dynamic.Resource, module="noop", name="Noop"):
    """A dynamic resource with one input, ``value``, echoed as an output."""

    value: pulumi.Output[str]

    def __init__(
        self, name: str, value: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(NoopProvider(), name, {"value": value}, opts)
