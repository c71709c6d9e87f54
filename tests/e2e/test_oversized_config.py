"""A stack config too big for the Python program is refused up front, naming the key.

The Python language host passes the whole stack config to the program in one environment
variable (PULUMI_CONFIG), and Linux refuses an environment string over 131,072 bytes: with
~4,600 targets in `restart-trigger:triggers` the real CLI only says `fork/exec .../python:
argument list too long`. scripts/check-config-size.py (run by scripts/stack.sh before `up` and
`preview`) says which key and what to do; the same targets in `restart-trigger:triggersFile`
preview fine. The last test proves the check's arithmetic against the real CLI, byte for byte.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from testbed.emulator import TEST_ACCESS_KEY_SECRET
from testbed.fleet import target_ids
from testbed.pulumi_cli import REPO, Stack

pytestmark = pytest.mark.e2e

SCRIPT = REPO / "scripts" / "check-config-size.py"
TRIGGERS_KEY = "restart-trigger:triggers"
FILE_KEY = "restart-trigger:triggersFile"
N_TARGETS, PER_TRIGGER = 4600, 920  # a trigger takes at most 1000 targets
FILES = {"config/fleet/app.properties": "pool=10\n"}

# The kernel's limit is 32 pages: 131,072 bytes with 4 KiB pages (the CLI's failure below).
E2BIG_AT_128_KIB = sys.platform == "linux" and os.sysconf("SC_PAGE_SIZE") == 4096


def _check_module():
    spec = importlib.util.spec_from_file_location("check_config_size", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fleet_triggers() -> list[dict]:
    ids = [ident for _, ident in target_ids(N_TARGETS)]
    return [
        {
            "name": f"fleet-{i}",
            "paths": ["config/fleet"],
            "targets": [{"app_id": a} for a in ids[i * PER_TRIGGER : (i + 1) * PER_TRIGGER]],
        }
        for i in range(N_TARGETS // PER_TRIGGER)
    ]


def run_check(stack: Stack) -> subprocess.CompletedProcess[str]:
    """The check as scripts/stack.sh runs it (without its cache), in the stack's folder."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--stack", stack.name],
        cwd=stack.workdir,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_thousands_of_targets_are_refused_naming_the_key_then_preview_from_a_file(
    emulator, trigger_stack
):
    triggers = fleet_triggers()
    stack = trigger_stack(triggers, FILES)
    emulator.clear_journal()

    # 1. the check refuses, naming the limit, the key with its size and the fix; no value
    refused = run_check(stack)
    assert refused.returncode == 1, refused.stderr
    message = refused.stderr
    assert refused.stdout == ""
    assert "131,072 bytes" in message and "MAX_ARG_STRLEN" in message
    size_line = next(ln for ln in message.splitlines() if ln.strip().startswith(TRIGGERS_KEY))
    assert " KiB)" in size_line and "bytes" in size_line, message
    assert f"pulumi config set --stack {stack.name} {FILE_KEY} triggers.json" in message
    for value in (TEST_ACCESS_KEY_SECRET, "fleet-app-", "config/fleet", emulator.base_url):
        assert value not in message
    assert emulator.journal() == []

    # 2. what it prevents: the real CLI cannot even start the program
    if E2BIG_AT_128_KIB:
        failed = stack.preview(check=False)
        assert failed.returncode != 0
        assert "argument list too long" in failed.output
        assert emulator.journal() == []

    # 3. the fix the message gives, command for command: the same list, from a file
    got = stack.run("config", "get", "--stack", stack.name, TRIGGERS_KEY)
    (stack.workdir / "triggers.json").write_text(got.stdout)
    stack.run("config", "rm", "--stack", stack.name, TRIGGERS_KEY)
    stack.run("config", "set", "--stack", stack.name, FILE_KEY, "triggers.json")
    assert json.loads((stack.workdir / "triggers.json").read_text()) == triggers

    passed = run_check(stack)
    assert (passed.returncode, passed.stdout, passed.stderr) == (0, "", "")
    preview = stack.preview_json()
    planned = [s for s in preview["steps"] if ":RestartTrigger::" in s["urn"]]
    assert sorted(s["urn"].rsplit("::", 1)[-1] for s in planned) == [t["name"] for t in triggers]
    assert {s["op"] for s in planned} == {"create"}
    targets = [t for s in planned for t in s["newState"]["inputs"]["targets"]]
    assert len(targets) == N_TARGETS
    assert emulator.journal() == []  # a preview calls no API

    # 4. both keys set: the program refuses, naming both
    with (stack.workdir / f"Pulumi.{stack.name}.yaml").open("a") as f:
        f.write(f"  {TRIGGERS_KEY}: {json.dumps(triggers[:1])}\n")
    both = stack.preview(check=False)
    assert both.returncode != 0
    assert f"{TRIGGERS_KEY} and {FILE_KEY} are both set" in both.output
    assert emulator.journal() == []


@pytest.mark.skipif(not E2BIG_AT_128_KIB, reason="the limit is 131,072 bytes on 4 KiB pages")
def test_the_computed_size_is_the_size_the_cli_starts_the_program_with(emulator, trigger_stack):
    check = _check_module()
    stack = trigger_stack(fleet_triggers()[:1], FILES)  # with secrets: they count decrypted
    pad = "restart-trigger:padding"  # a key the program never reads

    def config_now() -> dict[str, str]:
        out = stack.run("config", "--json", "--show-secrets", "--stack", stack.name).stdout
        return check.config_from_cli_json(json.loads(out))

    def pad_to(size: int) -> None:
        """Set the padding key so that PULUMI_CONFIG=<json> is `size` bytes, by the check's
        count, and confirm the count on the config as the CLI reads it back."""
        special = '"<a>&\\\t'  # escaped by the language host's JSON: 2+6+1+6+6+2+2 bytes
        base = config_now()
        base.pop(pad, None)
        value = special + "x" * (size - check.env_string_size({**base, pad: special}))
        assert check.env_string_size({**base, pad: value}) == size
        stack.config_set(pad, value)
        assert check.env_string_size(config_now()) == size

    # the string may be 131,071 bytes (its NUL makes 131,072): the program starts
    pad_to(check.MAX_ARG_STRLEN - 1)
    assert run_check(stack).returncode == 1  # the check keeps its margin
    stack.preview()
    # one byte more and the CLI cannot start it
    pad_to(check.MAX_ARG_STRLEN)
    failed = stack.preview(check=False)
    assert failed.returncode != 0 and "argument list too long" in failed.output
    assert emulator.journal() == []
