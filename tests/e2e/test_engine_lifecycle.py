"""The real Pulumi CLI runs a stack with a dynamic resource from `providers`, end to end."""

from __future__ import annotations

import pytest

from testbed.pulumi_cli import cli_identity

pytestmark = pytest.mark.e2e

NOOP_TYPE = "pulumi-python:dynamic/noop:Noop"


def test_cli_is_pulumi_v3():
    _path, version = cli_identity()
    assert version.startswith("v3."), version


def test_stack_lifecycle_preview_up_noop_up_export_destroy_rm(new_stack):
    stack = new_stack("noop")

    preview = stack.preview()
    assert "+ 2 to create" in preview.output

    up = stack.up()
    assert "2 created" in up.output
    assert stack.outputs() == {"value": "hello"}

    again = stack.up()
    assert "2 unchanged" in again.output
    assert "created" not in again.output.split("Resources:")[1]

    [noop] = stack.resources(NOOP_TYPE)
    assert noop["inputs"]["value"] == "hello"
    assert noop["outputs"]["value"] == "hello"
    # the provider is stored by reference, so its pickle stays small
    assert len(noop["inputs"]["__provider"]) < 2_000

    stack.config_set("value", "changed")
    changed = stack.up()
    assert "1 updated" in changed.output
    assert stack.outputs() == {"value": "changed"}

    destroy = stack.destroy()
    assert "2 deleted" in destroy.output
    assert stack.resources() == []
    stack.rm()
    listing = stack.run("stack", "ls", "--json").stdout
    assert stack.name not in listing
