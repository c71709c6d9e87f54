"""A stack made before the package was renamed (its state pickles ``providers.restart_trigger``)
is moved with the one command the README gives, and then previews, updates and destroys."""

from __future__ import annotations

import json
import subprocess

import pytest

from testbed.emulator import RESTARTS, TEST_APP_ID
from testbed.pulumi_cli import REPO

pytestmark = pytest.mark.e2e

# What restart-trigger 0.1 stored as every trigger's __provider: its provider class pickled
# by reference to the old module (captured from release 0.1 with the SDK's serializer).
OLD_PROVIDER = "gASVOwAAAAAAAACMGXByb3ZpZGVycy5yZXN0YXJ0X3RyaWdnZXKUjBZSZXN0YXJ0VHJpZ2dlclByb3ZpZGVylJOUKYGULg=="  # noqa: E501
MIGRATION = (
    "pulumi stack export -s {s} | restart-trigger-migrate-state | pulumi stack import -s {s}"
)


def _age_the_state(stack) -> None:
    """Make the stack's state what 0.1 wrote: the old provider in inputs and outputs."""
    export = stack.export()
    for resource in export["deployment"]["resources"]:
        if resource["type"].endswith("RestartTrigger"):
            resource["inputs"]["__provider"] = OLD_PROVIDER
            resource["outputs"]["__provider"] = OLD_PROVIDER
    path = stack.workdir / "aged.json"
    path.write_text(json.dumps(export))
    stack.run("stack", "import", "-s", stack.name, "--file", str(path))


def test_an_old_stack_is_migrated_by_one_command_and_then_updates_and_destroys(
    trigger_stack, emulator
):
    triggers = [{"name": "api", "paths": ["config/api"], "targets": [{"app_id": TEST_APP_ID}]}]
    stack = trigger_stack(triggers, {"config/api/app.properties": "pool=10\n"})
    stack.up()
    _age_the_state(stack)

    refused = stack.refresh(check=False)
    assert refused.returncode != 0
    assert "No module named 'providers'" in refused.output

    env = {**stack.env, "PATH": f"{REPO / '.venv' / 'bin'}:{stack.env['PATH']}"}
    moved = subprocess.run(
        ["bash", "-o", "pipefail", "-c", MIGRATION.format(s=stack.name)],
        cwd=stack.workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert moved.returncode == 0, moved.stderr
    assert "1 trigger(s) migrated" in moved.stderr

    stack.refresh()
    (stack.workdir / "config/api/app.properties").write_text("pool=20\n")
    emulator.clear_journal()
    stack.up()
    assert [e["action"] for e in emulator.journal() if e["action"] in RESTARTS] == [
        "RestartApplication"
    ]
    stack.destroy()
    assert stack.resources("RestartTrigger") == []
