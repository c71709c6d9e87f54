"""Fixtures for end-to-end tests that run the real Pulumi CLI."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from testbed.pulumi_cli import Stack, cli_identity, copy_program, pulumi_env

_ran_e2e: list[str] = []


def pytest_report_header(config: pytest.Config) -> str:
    try:
        path, version = cli_identity()
    except Exception as exc:  # noqa: BLE001 - a header must not break collection
        return f"pulumi CLI: not available ({exc})"
    return f"pulumi CLI: {path} ({version})"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if _ran_e2e:
        path, version = cli_identity()
        terminalreporter.write_line(
            f"e2e: {len(_ran_e2e)} test(s) ran the real Pulumi CLI {path} ({version})"
        )


@pytest.fixture
def new_stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Stack]]:
    """Factory: new_stack(program, **env) copies a test program and inits a fresh stack.

    Each stack gets its own file backend and HOME under tmp_path; stacks are destroyed and
    removed at teardown even when the test failed half-way.
    """
    created: list[Stack] = []
    _ran_e2e.append(request.node.nodeid)

    def make(program: str, **extra_env: str) -> Stack:
        n = len(created)
        workdir = copy_program(program, tmp_path / f"program-{n}")
        backend = tmp_path / f"backend-{n}"
        home = tmp_path / f"home-{n}"
        backend.mkdir()
        home.mkdir()
        env = pulumi_env(
            backend,
            home,
            PULUMI_CONFIG_PASSPHRASE="e2e-test-passphrase",
            PULUMI_HOME=str(home / ".pulumi"),
            testbed=program != "main",
            **extra_env,
        )
        stack = Stack(workdir, f"e2e-{uuid.uuid4().hex[:8]}", env)
        stack.init()
        created.append(stack)
        return stack

    yield make
    for stack in created:
        stack.destroy(check=False)
        stack.run("stack", "rm", stack.name, "--yes", "--force", check=False)


@pytest.fixture
def trigger_stack(new_stack, emulator):
    """Factory: the project's example program on a new stack, pointed at the test emulator.

    trigger_stack(triggers, files={"config/api/app.properties": "..."}, sts=True) writes the
    config files into the program folder, sets ``restart-trigger:triggers`` and the
    ``alicloud:*`` credentials (secrets) and endpoints, and returns the Stack.
    """
    from testbed.emulator import (
        TEST_ACCESS_KEY_ID,
        TEST_ACCESS_KEY_SECRET,
        TEST_REGION,
        TEST_STS_ACCESS_KEY_ID,
        TEST_STS_ACCESS_KEY_SECRET,
        TEST_STS_TOKEN,
    )

    def make(triggers, files, *, sts: bool = False) -> Stack:
        stack = new_stack("main")
        for rel, text in files.items():
            path = stack.workdir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        if sts:
            stack.use_account(
                emulator.base_url,
                TEST_STS_ACCESS_KEY_ID,
                TEST_STS_ACCESS_KEY_SECRET,
                token=TEST_STS_TOKEN,
                region=TEST_REGION,
            )
        else:
            stack.use_account(
                emulator.base_url, TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, region=TEST_REGION
            )
        set_triggers(stack, triggers)
        return stack

    return make


def set_triggers(stack: Stack, triggers) -> None:
    """Write ``restart-trigger:triggers`` into the stack's config file (JSON is valid YAML)."""
    import json

    path = stack.workdir / f"Pulumi.{stack.name}.yaml"
    lines = [
        line
        for line in path.read_text().splitlines()
        if not line.startswith("  restart-trigger:triggers:")
    ]
    lines.append(f"  restart-trigger:triggers: {json.dumps(triggers)}")
    path.write_text("\n".join(lines) + "\n")
