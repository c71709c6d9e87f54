"""A platform team's own stack installs restart-trigger from a wheel and restarts an app.

Everything is theirs, outside this repository: a folder with its own Pulumi.yaml
(``virtualenv: venv``), its own ``providers/`` package (the folder name Pulumi projects often
give their own dynamic providers) and a module of theirs that the program imports, and its
own virtualenv made with ``python -m venv`` into which a wheel built from this checkout is
installed. Only the CLI's folder is on PATH: no PYTHONPATH, no PULUMI_PYTHON_CMD, no venv of
ours. The real CLI runs preview, up, a hash change, up (exactly one restart in the emulator's
journal), and destroy.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from testbed.emulator import (
    RESTARTS,
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_APP_ID,
    TEST_REGION,
)
from testbed.pulumi_cli import REPO, Stack, cli_identity

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PULUMI_YAML = """\
name: platform-orders
description: A platform team's stack that restarts its app when its config changes.
runtime:
  name: python
  options:
    virtualenv: venv
"""

THEIR_PROVIDERS_INIT = '"""The platform team\'s own dynamic providers and helpers."""\n'
THEIR_NAMING = '''\
def trigger_name(app: str) -> str:
    """Their naming convention, imported by their program."""
    return f"{app}-config-restart"
'''

PROGRAM = """\
import pulumi

from providers.naming import trigger_name
from restart_trigger import EdasApplication, RestartTrigger, hash_paths

config = pulumi.Config()
trigger = RestartTrigger(
    trigger_name("orders"),
    targets=[EdasApplication(app_id=config.require("app_id"))],
    hash=hash_paths("config"),
)
pulumi.export("change_order_ids", trigger.change_order_ids)
"""


def _pins() -> list[str]:
    """The pulumi and requests pins of requirements.txt: the set CI proves."""
    pins = []
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if re.match(r"^(pulumi|requests)==", line.strip()):
            pins.append(line.strip())
    assert len(pins) == 2, pins
    return pins


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("restart_trigger-*.whl")
    return built


@pytest.fixture
def their_project(tmp_path: Path, wheel: Path) -> Path:
    project = tmp_path / "platform-orders"
    (project / "providers").mkdir(parents=True)
    (project / "config").mkdir()
    (project / "Pulumi.yaml").write_text(PULUMI_YAML)
    (project / "__main__.py").write_text(PROGRAM)
    (project / "providers" / "__init__.py").write_text(THEIR_PROVIDERS_INIT)
    (project / "providers" / "naming.py").write_text(THEIR_NAMING)
    (project / "config" / "application.properties").write_text("pool=10\n")
    subprocess.run([sys.executable, "-m", "venv", str(project / "venv")], check=True)
    subprocess.run(
        [str(project / "venv" / "bin" / "python"), "-m", "pip", "install", "-q"]
        + ["--disable-pip-version-check", str(wheel), *_pins()],
        check=True,
        capture_output=True,
    )
    return project


def _their_env(tmp_path: Path) -> dict[str, str]:
    cli_dir = str(Path(cli_identity()[0]).parent)
    home = tmp_path / "home"
    (home / ".pulumi").mkdir(parents=True)
    (tmp_path / "backend").mkdir()
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TMPDIR", "TZ")}
    return {
        **keep,
        "PATH": f"{cli_dir}:/usr/bin:/bin",
        "HOME": str(home),
        "PULUMI_HOME": str(home / ".pulumi"),
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'backend'}",
        "PULUMI_CONFIG_PASSPHRASE": "their-passphrase",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }


def test_a_stack_of_their_own_installs_the_wheel_and_restarts_exactly_once(
    their_project: Path, tmp_path: Path, emulator
):
    stack = Stack(their_project, f"prod-{uuid.uuid4().hex[:6]}", _their_env(tmp_path))
    stack.init()
    try:
        stack.use_account(
            emulator.base_url, TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, region=TEST_REGION
        )
        stack.config_set("app_id", TEST_APP_ID)

        preview = stack.preview()
        assert "orders-config-restart" in preview.output
        stack.up()
        assert stack.outputs()["change_order_ids"] == {}

        (their_project / "config" / "application.properties").write_text("pool=20\n")
        emulator.clear_journal()
        stack.up()
        restarts = [e for e in emulator.journal() if e["action"] in RESTARTS]
        assert [e["action"] for e in restarts] == ["RestartApplication"], restarts
        ids = stack.outputs()["change_order_ids"]
        assert list(ids) == [f"edas:{TEST_APP_ID}"] and ids[f"edas:{TEST_APP_ID}"]

        (trigger,) = stack.resources("RestartTrigger")
        assert "restart_trigger.provider" in _provider_module(trigger["inputs"]["__provider"])
    finally:
        stack.destroy()
    assert stack.resources("RestartTrigger") == []


def _provider_module(serialized: str) -> str:
    import base64

    return base64.b64decode(serialized).decode("latin-1")
