"""The plugin's schema (``schema.json``, package data), as ``GetSchema`` serves it."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def schema_text() -> str:
    """The committed schema, byte for byte."""
    return resources.files("restart_trigger.plugin").joinpath("schema.json").read_text("utf-8")
