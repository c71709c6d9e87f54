"""The alirestart resource plugin end to end from a YAML program: the real CLI, the YAML
language host scripts/ensure-pulumi.sh builds (``pulumi-language-yaml``, .tools/bin), the
plugin the package installs, the emulator seeded with the demo world.

The program is examples/yaml/Pulumi.yaml itself, copied to a temporary folder: the example a
user runs is the one tested. The plugin is found on PATH (the virtualenv's bin first, as a
user's activated virtualenv has it), as in test_plugin_e2e.py: the example then runs unchanged
(a ``plugins: providers: path:`` entry would have to be written into it with this checkout's
path); the last test covers that entry too.

Preview calls no API, ``up`` restarts exactly the changed targets once, an unchanged ``up``
calls nothing, a partly failed rollout resumes with only the owed targets, ``customTimeouts``
bound the wait.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time

import pytest

from testbed.plugin import (
    TYPE,
    VENV_BIN,
    last_seq,
    restarts,
    use_emulator,
    venv_on_path,
)
from testbed.sdks import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EXAMPLE = REPO / "examples" / "yaml"
DEMO_SEED = REPO / "emulator" / "seeds" / "demo.json"

# The demo world's targets the example restarts (emulator/seeds/demo.json).
ORDERS = "demo-app-0001-0000-0000-000000000001"
PAYMENTS = "demo-app-0002-0000-0000-000000000002"
WEB = "we-demo0000000000000000001"
CHECKOUT = "5ae0de00-0000-4000-8000-000000000001"
CATALOG = "demo-k8s-0001-0000-0000-000000000001"
KEYS = {
    ORDERS: f"edas:{ORDERS}",
    WEB: f"webplus:{WEB}",
    CHECKOUT: f"sae:{CHECKOUT}",
    CATALOG: f"edas-k8s:{CATALOG}",
}
ALL = sorted(KEYS)


def demo_stack(new_stack, emulator, **env: str):
    """A new stack of the example, pointed at the emulator with the demo account's keys."""
    seed = json.loads(DEMO_SEED.read_text())
    emulator.seed(seed)
    [account] = [a for a in seed["accounts"] if a["name"] == "demo"]
    # new_stack copies testbed/programs/<name>; an absolute path (pathlib keeps it whole)
    # names the example instead.
    stack = new_stack(str(EXAMPLE), **env)
    assert (stack.workdir / "Pulumi.yaml").read_text() == (EXAMPLE / "Pulumi.yaml").read_text()
    use_emulator(
        stack,
        emulator,
        access_key=account["access_key_id"],
        secret_key=account["access_key_secret"],
    )
    return stack


@pytest.fixture
def yaml_stack(new_stack, emulator):
    return demo_stack(new_stack, emulator, **venv_on_path())


def test_the_yaml_host_on_path_runs_the_program(yaml_stack):
    """The CLI runs the YAML program with the host on PATH: the one scripts/ensure-pulumi.sh
    built (.tools/bin, first on PATH through scripts/env.sh), or the official CLI's own."""
    host = shutil.which("pulumi-language-yaml", path=yaml_stack.env["PATH"])
    result = yaml_stack.preview()
    built = REPO / ".tools" / "bin" / "pulumi-language-yaml"
    if host == str(built):
        assert f"using pulumi-language-yaml from $PATH at {built}" in result.output, result.output


def test_preview_calls_nothing_and_up_restarts_exactly_the_changed_targets_once(
    yaml_stack, emulator
):
    stack = yaml_stack
    stack.up()
    assert restarts(emulator) == []  # created without restartOnCreate: nothing restarts

    stack.config_set("configHash", "v2")
    seq = last_seq(emulator)
    preview = stack.preview("--diff")
    assert emulator.journal(seq) == [], "preview called the cloud"
    out = preview.output
    assert re.search(r'~ hash *: "v1" => "v2"', out), out
    for key in KEYS.values():
        assert f"demo: {key} restarts: hash changed" in out, out

    stack.up()
    assert sorted(restarts(emulator, seq)) == ALL  # each once
    outputs = stack.outputs()
    assert outputs["restartedHash"] == "v2" and outputs["owed"] == []
    assert outputs["statuses"] == dict.fromkeys(KEYS.values(), "succeeded")
    assert set(outputs["changeOrderIds"]) == set(KEYS.values())

    seq = last_seq(emulator)
    stack.up()
    assert emulator.journal(seq) == [], "an unchanged up called the cloud"

    # Another EDAS application in place of the first, restartOnCreate on, the same hash:
    # only the new target restarts.
    stack.config_set("ordersAppId", PAYMENTS)
    stack.config_set("restartOnCreate", "true")
    seq = last_seq(emulator)
    stack.up()
    assert restarts(emulator, seq) == [PAYMENTS]


def test_a_partly_failed_rollout_resumes_with_only_the_owed_targets(yaml_stack, emulator):
    stack = yaml_stack
    stack.up()
    emulator.set_faults({"fail_env_ids": [WEB]})
    stack.config_set("configHash", "v2")
    failed = stack.up(check=False)
    assert failed.returncode != 0
    assert KEYS[WEB] in failed.output, failed.output
    first = restarts(emulator)
    # maxFailures 1 (the example's default): the one failure does not stop the others.
    assert {ORDERS, CHECKOUT, CATALOG} <= set(first), first

    [trigger] = stack.resources(TYPE)
    assert trigger["outputs"]["owed"] == [KEYS[WEB]]
    assert set(trigger["outputs"]["changeOrderIds"]) == {
        KEYS[ORDERS],
        KEYS[CHECKOUT],
        KEYS[CATALOG],
    }

    emulator.clear_faults()
    seq = last_seq(emulator)
    stack.up()
    assert restarts(emulator, seq) == [WEB]
    outputs = stack.outputs()
    assert outputs["owed"] == [] and outputs["restartedHash"] == "v2"
    assert outputs["statuses"] == dict.fromkeys(KEYS.values(), "succeeded")


def test_custom_timeouts_bound_the_wait(yaml_stack, emulator):
    stack = yaml_stack
    # Every restart takes 10 minutes: far longer than the bound, and than any slow machine.
    slow = {"change_duration_s": 600}
    emulator.seed(
        {
            "edas_applications": [{"app_id": ORDERS, **slow}],
            "webplus_environments": [{"env_id": WEB, **slow}],
            "sae_applications": [{"app_id": CHECKOUT, **slow}],
            "edas_k8s_applications": [{"app_id": CATALOG, **slow}],
        }
    )
    manifest = stack.workdir / "Pulumi.yaml"
    text = manifest.read_text()
    assert "create: 20m" in text
    manifest.write_text(text.replace("create: 20m", "create: 15s"))
    stack.config_set("restartOnCreate", "true")

    start = time.monotonic()
    failed = stack.up(check=False)
    took = time.monotonic() - start
    assert failed.returncode != 0
    assert "timeout" in failed.output.lower(), failed.output
    assert took < 300, f"up took {took:.0f}s: the 15 s bound did not stop the wait"
    # The bound is customTimeouts' 15 s, not the trigger's own timeout (900 s).
    assert "timed out after 15s" in failed.output, failed.output
    # maxParallel 2: the first two started and never finished. When the first of them gave
    # up, the rolling window may start the third just before the deadline (one failure is
    # within maxFailures 1); after the second, no target starts. Nothing restarted twice.
    started = restarts(emulator)
    assert len(started) == len(set(started)), started
    assert {ORDERS, WEB} <= set(started) <= {ORDERS, WEB, CHECKOUT}, started
    [trigger] = stack.resources(TYPE)
    assert KEYS[CATALOG] in trigger["outputs"]["owed"], trigger["outputs"]


def test_a_plugins_providers_entry_finds_the_plugin_without_path(new_stack, emulator):
    """The other way the README gives: ``plugins: providers: - name: alirestart path:`` in
    Pulumi.yaml, with the virtualenv's bin not on PATH."""
    path = os.pathsep.join(
        p
        for p in os.environ["PATH"].split(os.pathsep)
        if p and os.path.realpath(p) != str(VENV_BIN)
    )
    stack = demo_stack(new_stack, emulator, PATH=path)
    manifest = stack.workdir / "Pulumi.yaml"
    entry = f"plugins:\n  providers:\n    - name: alirestart\n      path: {VENV_BIN}\n"
    manifest.write_text(manifest.read_text() + "\n" + entry)
    stack.config_set("restartOnCreate", "true")
    preview = stack.preview()
    assert "using pulumi-resource-alirestart from $PATH" not in preview.output, preview.output
    seq = last_seq(emulator)
    stack.up()
    assert sorted(restarts(emulator, seq)) == ALL
