"""Shared by the end-to-end tests of the alirestart resource plugin with the real CLI
(tests/e2e/test_plugin_e2e.py, a Python program on the generated SDK, and
tests/e2e/test_plugin_yaml_e2e.py, a YAML program): how the plugin is found, how a stack is
pointed at the emulator, and what the emulator's journal says was restarted."""

from __future__ import annotations

import json
import os
from pathlib import Path

from testbed.emulator import (
    RESTARTS,
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_APP_ID,
    TEST_ENV_ID,
    TEST_REGION,
    TEST_SAE_APP_ID,
    target_of,
)
from testbed.sdks import REPO, python_sdk_path

TYPE = "alirestart:index:RestartTrigger"
EDAS = {"kind": "edas", "appId": TEST_APP_ID}
WEBPLUS = {"kind": "webplus", "envId": TEST_ENV_ID}
SAE = {"kind": "sae", "appId": TEST_SAE_APP_ID}

#: The virtualenv's bin, where ``pip install`` put ``pulumi-resource-alirestart``.
VENV_BIN = REPO / ".venv" / "bin"


def venv_on_path() -> dict[str, str]:
    """What a user's activated virtualenv gives: its bin (with the plugin) first on PATH."""
    return {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}


def plugin_env(tmp_path: Path) -> dict[str, str]:
    """What a user's shell has for a Python program: the virtualenv's bin (with the plugin)
    on PATH, and the generated SDK importable."""
    return {
        **venv_on_path(),
        "PYTHONPATH": f"{python_sdk_path(tmp_path)}{os.pathsep}{REPO}",
    }


def use_emulator(
    stack,
    emulator,
    *,
    access_key: str = TEST_ACCESS_KEY_ID,
    secret_key: str = TEST_ACCESS_KEY_SECRET,
    region: str = TEST_REGION,
) -> None:
    """The provider's configuration, in its own namespace, as a user writes it."""
    stack.config_set("alirestart:accessKey", access_key)
    stack.config_set("alirestart:secretKey", secret_key, secret=True)
    stack.config_set("alirestart:region", region)
    endpoints = [{p: emulator.base_url for p in ("edas", "webplus", "sae")}]
    stack.config_set("alirestart:endpoints", json.dumps(endpoints))


def restarts(emulator, since: int = 0) -> list[str]:
    """The target ids of the restart calls in the journal after ``since``, in order."""
    return [target_of(e) for e in emulator.journal(since) if e.get("action") in RESTARTS]


def last_seq(emulator) -> int:
    entries = emulator.journal()
    return entries[-1]["seq"] if entries else 0
