"""TypeScript and Go stacks on the generated SDKs, end to end: the real CLI, the alirestart
plugin (found on PATH in .venv/bin), the emulator, through the Automation API.

This machine has no Node.js or Go language host (pulumi-language-nodejs/-go), so the stacks are
Automation API *inline programs* (testbed/automation/ts and /go): the program runs in the
driver's own process and the CLI is started with ``--client`` pointing back at it. The
program's shape is that of examples/typescript and examples/go, which are compiled here too.

Each driver is a subprocess: the step (preview/up), the emulator's URL and the trigger come in
its environment, one JSON line comes out (testbed/automation/README.md). Builds are cached by
testbed/automation_helpers.py, keyed by the pins and the sources.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from testbed.automation_helpers import (
    PULUMI_ROOT,
    check_go_example,
    check_typescript_example,
    go_command,
    go_driver,
    ts_command,
    ts_driver,
)
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
from testbed.pulumi_cli import pulumi_env
from testbed.sdks import REPO, ok

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EDAS = {"kind": "edas", "id": TEST_APP_ID}
WEBPLUS = {"kind": "webplus", "id": TEST_ENV_ID}
SAE = {"kind": "sae", "id": TEST_SAE_APP_ID}
KEYS = {
    "edas": f"edas:{TEST_APP_ID}",
    "webplus": f"webplus:{TEST_ENV_ID}",
    "sae": f"sae:{TEST_SAE_APP_ID}",
}

DRIVERS: dict[str, tuple[Callable[[], Path], Callable[[Path], list[str]]]] = {
    "typescript": (ts_driver, ts_command),
    "go": (go_driver, go_command),
}


def restarts(emulator, since: int = 0) -> list[str]:
    return [target_of(e) for e in emulator.journal(since) if e.get("action") in RESTARTS]


def last_seq(emulator) -> int:
    entries = emulator.journal()
    return entries[-1]["seq"] if entries else 0


class Driver:
    """One language's driver on one stack: a workspace folder, a file backend, a PULUMI_HOME."""

    def __init__(self, lang: str, tmp: Path, emulator) -> None:
        build, command = DRIVERS[lang]
        self.lang = lang
        self.command = command(build())
        self.emulator = emulator
        self.work = tmp / f"{lang}-work"
        backend, home = tmp / f"{lang}-backend", tmp / f"{lang}-home"
        for folder in (self.work, backend, home):
            folder.mkdir()
        venv_bin = REPO / ".venv" / "bin"
        base = pulumi_env(
            backend,
            home,
            testbed=False,
            PULUMI_CONFIG_PASSPHRASE="e2e-test-passphrase",
            PULUMI_HOME=str(home / ".pulumi"),
        )
        self.env = {
            **base,
            # What a user's shell has: the virtualenv's bin (with the plugin) on PATH.
            "PATH": f"{venv_bin}{os.pathsep}{base['PATH']}",
            "AR_WORK_DIR": str(self.work),
            "AR_STACK": "dev",
            "AR_PROJECT": f"automation-{lang}",
            "AR_PULUMI_ROOT": str(PULUMI_ROOT),
            "AR_EMULATOR_URL": emulator.base_url,
            "AR_REGION": TEST_REGION,
            "AR_ACCESS_KEY": TEST_ACCESS_KEY_ID,
            "AR_SECRET_KEY": TEST_ACCESS_KEY_SECRET,
        }
        self.log: list[str] = []

    def run(self, step: str, trigger: dict[str, Any], *, check: bool = True) -> dict[str, Any]:
        env = {**self.env, "AR_STEP": step, "AR_TRIGGER": json.dumps(trigger)}
        proc = subprocess.run(
            self.command,
            cwd=self.work,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            stdin=subprocess.DEVNULL,
        )
        self.log.append(f"--- {self.lang} {step} (exit {proc.returncode})\n{proc.stderr}")
        lines = proc.stdout.strip().splitlines()
        assert lines, f"{self.lang} {step}: no output (exit {proc.returncode})\n{proc.stderr}"
        try:
            result = json.loads(lines[-1])
        except json.JSONDecodeError:
            raise AssertionError(f"{self.lang} {step}: {proc.stdout}\n{proc.stderr}") from None
        print(f"{self.lang} {step}: {json.dumps(result)}")
        if check:
            assert proc.returncode == 0 and result["ok"], (
                f"{self.lang} {step} failed ({proc.returncode}): {result}\n{proc.stderr[-6000:]}"
            )
        return result

    def secret_in_config(self) -> str:
        return (self.work / "Pulumi.dev.yaml").read_text()


@pytest.mark.parametrize("lang", ["typescript", "go"])
def test_preview_calls_nothing_and_up_restarts_exactly_the_changed_targets_once(
    lang, emulator, tmp_path
):
    driver = Driver(lang, tmp_path, emulator)
    targets = [EDAS, WEBPLUS, SAE]

    seq = last_seq(emulator)
    preview = driver.run("preview", {"hash": "h1", "targets": targets})
    assert preview["changes"].get("create") == 2, preview  # the stack and the trigger
    assert emulator.journal(seq) == [], "preview called the cloud"

    created = driver.run("up", {"hash": "h1", "targets": targets})
    assert restarts(emulator) == []  # created without restartOnCreate: nothing restarts
    assert created["typed"] == {
        "keys": [],
        "idsAreStrings": True,
        "statuses": {},
        "owed": [],
        "restartedHash": "",
    }, created
    # The secret went into the stack config encrypted, as `config set --secret` does.
    config = driver.secret_in_config()
    assert "secure:" in config and TEST_ACCESS_KEY_SECRET not in config, config

    seq = last_seq(emulator)
    preview = driver.run("preview", {"hash": "h2", "targets": targets})
    assert preview["changes"].get("update") == 1, preview
    assert emulator.journal(seq) == [], "preview called the cloud"

    up = driver.run("up", {"hash": "h2", "targets": targets})
    assert sorted(restarts(emulator, seq)) == sorted([TEST_APP_ID, TEST_ENV_ID, TEST_SAE_APP_ID])
    assert up["changes"].get("update") == 1, up
    keys = sorted(KEYS.values())
    typed = up["typed"]
    assert typed["keys"] == keys and typed["idsAreStrings"] is True, up
    assert typed["statuses"] == dict.fromkeys(keys, "succeeded"), up
    assert typed["owed"] == [] and typed["restartedHash"] == "h2", up
    # The stack outputs are the same values, typed as the SDK declares them.
    outputs = up["outputs"]
    assert sorted(outputs["changeOrderIds"]) == keys, outputs
    assert all(isinstance(v, str) and v for v in outputs["changeOrderIds"].values()), outputs
    assert outputs["statuses"] == typed["statuses"] and outputs["owed"] == [], outputs
    assert outputs["restartedHash"] == "h2", outputs

    seq = last_seq(emulator)
    again = driver.run("up", {"hash": "h2", "targets": targets})
    assert emulator.journal(seq) == [], "an unchanged up called the cloud"
    assert set(again["changes"]) == {"same"}, again
    assert again["outputs"]["changeOrderIds"] == outputs["changeOrderIds"], again


@pytest.mark.parametrize("lang", ["typescript", "go"])
def test_a_partly_failed_rollout_resumes_with_only_the_owed_targets(lang, emulator, tmp_path):
    driver = Driver(lang, tmp_path, emulator)
    targets = [EDAS, WEBPLUS, SAE]
    driver.run("up", {"hash": "h1", "targets": targets, "maxFailures": 5})

    emulator.set_faults({"fail_env_ids": [TEST_ENV_ID]})
    failed = driver.run("up", {"hash": "h2", "targets": targets, "maxFailures": 5}, check=False)
    assert failed["ok"] is False, failed
    assert KEYS["webplus"] in failed["error"], failed
    first = restarts(emulator)
    assert TEST_APP_ID in first and TEST_SAE_APP_ID in first, first

    emulator.clear_faults()
    seq = last_seq(emulator)
    resumed = driver.run("up", {"hash": "h2", "targets": targets, "maxFailures": 5})
    assert restarts(emulator, seq) == [TEST_ENV_ID]
    typed = resumed["typed"]
    assert typed["owed"] == [] and typed["restartedHash"] == "h2", resumed
    assert typed["statuses"] == dict.fromkeys(sorted(KEYS.values()), "succeeded"), resumed


def test_examples_compile(tmp_path):
    """examples/typescript and examples/go, the same program shape for a user's CLI with the
    language hosts, compile against the generated SDKs; a broken copy does not (control)."""
    for lang, runtime in (("typescript", "nodejs"), ("go", "go")):
        manifest = (REPO / "examples" / lang / "Pulumi.yaml").read_text()
        assert f"\nruntime: {runtime}\n" in manifest, manifest
    ok(check_typescript_example(tmp_path / "ok"))
    ok(check_go_example(tmp_path / "ok"))

    bad = tmp_path / "bad"
    bad.mkdir()
    proc = check_typescript_example(bad, replace=("envId", "appId"))
    assert proc.returncode != 0 and "error TS" in proc.stdout, proc.stdout + proc.stderr
    proc = check_go_example(bad, replace=("EnvId", "AppId"))
    assert proc.returncode != 0 and "AppId" in proc.stderr, proc.stdout + proc.stderr
