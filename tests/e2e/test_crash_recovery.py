"""`pulumi up` killed with SIGKILL while the restarts it started are still running, then recovered.

What this CLI version (v3.259, local file backend) leaves behind after a `kill -9` in the
middle of an update, found by this test and asserted by it so a CLI upgrade that changes it is
noticed:

* a lock file under ``<backend>/.pulumi/locks/``: every later `pulumi up`/`refresh`/`destroy`
  fails with "the stack is currently locked by 1 lock(s) ... delete the lock file with
  `pulumi cancel`" (``pulumi preview`` still works, it takes no lock);
* in ``pulumi stack export``, a ``pending_operations`` entry of type ``updating`` for the
  trigger, holding the new inputs, while the trigger's own state still holds the old hash and
  the old change ids: the engine never got the update's answer;
* the restarts themselves were accepted by the service and go on running.

The shortest correct recovery is ``pulumi cancel --yes`` (on the file backend it only removes
the lock) followed by ``pulumi up``. That `up` warns about the pending operation ("interrupted
while updating") and sees the hash still differ; the provider finds the interrupted restarts in
its send journal (written before each send, on this machine: ``restart_trigger.journal``) and
waits for them instead of restarting again: each target restarts exactly once. The `up`
clears the pending operation; a `pulumi refresh` in between is not needed (it would only clear
the pending operation earlier; the trigger has no change id yet to read). Without the journal
(another machine) each target would restart once more, after the interrupted restart finished
(EDAS refuses new change orders while one runs, Web+ answers EnvOnChanging).

Note: Pulumi starts the language host and the dynamic provider in process groups of their own,
so ``killpg`` of the CLI's group leaves them running (the provider keeps polling). This test
kills the whole process tree, as a machine crash would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from restart_trigger.aliyun.endpoints import PRODUCTS
from testbed.emulator import (
    RESTARTS,
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_REGION,
    target_of,
)
from testbed.fleet import fleet_seed, target_ids

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHANGE_DURATION_S = 20.0
POLLS = {"GetChangeOrderInfo", "DescribeChange"}
BUSY_CODES = {"603", "EnvOnChanging"}
TRIGGER_TYPE = "RestartTrigger"
TARGETS = target_ids(2, "mixed")  # one EDAS application, one Web+ environment
APP_ID, ENV_ID = TARGETS[0][1], TARGETS[1][1]


def fleet_config(emulator, hash_value: str):
    return {
        "fleet:kind": "trigger",
        "fleet:count": 1,
        "fleet:targets_per_resource": 2,
        "fleet:target_kind": "mixed",
        "fleet:hash": hash_value,
        "fleet:timeout": 600,
        "alicloud:region": TEST_REGION,
        "alicloud:endpoints": [{p: emulator.base_url for p in PRODUCTS}],
    }


# -- processes ---------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int, str] | None:
    """(ppid, pgid, state) of a live process, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[2]), fields[0]


def process_tree(root: int) -> list[int]:
    """root and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _stat(int(name))
            if stat:
                children.setdefault(stat[0], []).append(int(name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def kill_tree(root: int) -> list[int]:
    """SIGKILL root, its descendants and their process groups (Pulumi gives each plugin its own)."""
    tree = process_tree(root)
    members = set(tree)
    groups = {stat[1] for pid in tree if (stat := _stat(pid)) and stat[1] in members}
    os.kill(root, signal.SIGKILL)  # the CLI first, so it cannot react to its plugins dying
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in tree:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return tree


def wait_gone(pids: list[int], deadline_s: float = 30.0) -> list[int]:
    end = time.monotonic() + deadline_s
    while True:
        alive = [p for p in pids if (s := _stat(p)) is not None and s[2] != "Z"]
        if not alive or time.monotonic() > end:
            return alive
        time.sleep(0.2)


def wait_for(what: str, predicate, proc: subprocess.Popen, log: Path, deadline_s: float = 180):
    end = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"pulumi up exited ({proc.returncode}) before {what}:\n{log.read_text()}")
        if time.monotonic() > end:
            pytest.fail(f"no {what} within {deadline_s}s:\n{log.read_text()}")
        time.sleep(0.25)


# -- the test ----------------------------------------------------------------------------------


def test_kill_9_during_the_status_wait_then_cancel_and_up_converges(
    emulator, new_stack, tmp_path, request
):
    emulator.seed(fleet_seed(2, "mixed", CHANGE_DURATION_S))
    stack = new_stack(
        "fleet",
        ALICLOUD_ACCESS_KEY=TEST_ACCESS_KEY_ID,
        ALICLOUD_SECRET_KEY=TEST_ACCESS_KEY_SECRET,
    )
    stack.write_config(fleet_config(emulator, "v1"))
    stack.up()
    assert [e for e in emulator.journal() if e["action"] in RESTARTS] == []

    # 1. `pulumi up` with a new hash, killed once both restarts were accepted and it polls
    emulator.clear_journal()
    stack.write_config(fleet_config(emulator, "v2"))
    log = tmp_path / "interrupted-up.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["pulumi", "up", "-s", stack.name, "--yes", "--skip-preview", "--non-interactive"],
            cwd=stack.workdir,
            env=stack.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def accepted():
            entries = [e for e in emulator.journal() if e["action"] in RESTARTS and e["applied"]]
            return entries if {target_of(e) for e in entries} == {APP_ID, ENV_ID} else None

        first = {
            target_of(e): e["result_id"]
            for e in wait_for("2 accepted restarts", accepted, proc, log)
        }

        def polling():
            polled = {
                e["query"].get("ChangeOrderId") or e["query"].get("ChangeId")
                for e in emulator.journal()
                if e["action"] in POLLS and e["status"] == 200
            }
            return set(first.values()) <= polled

        wait_for("status polls of both changes", polling, proc, log)
    finally:
        # an exited (reaped) CLI's pid may be reused: only kill a live one
        tree = kill_tree(proc.pid) if proc.poll() is None else []
        proc.wait(timeout=30)
    assert len(tree) >= 3, f"expected the CLI, language host and provider, got {tree}"
    assert wait_gone(tree) == [], "processes of the killed update still alive"
    seq = max(e["seq"] for e in emulator.journal())
    time.sleep(2.0)
    assert emulator.journal(since=seq) == [], "the killed provider still calls the API"
    print(f"killed {tree}; interrupted update's log:\n{log.read_text()}")

    # 2. what the kill left behind: a pending `updating` operation, the old state, a lock
    deployment = stack.export()["deployment"]
    [pending] = deployment["pending_operations"]
    assert pending["type"] == "updating"
    assert pending["resource"]["urn"].endswith("::trigger-0000")
    assert pending["resource"]["inputs"]["hash"] == "v2"
    [trigger] = [r for r in deployment["resources"] if r["type"].endswith(TRIGGER_TYPE)]
    assert trigger["inputs"]["hash"] == "v1"
    assert trigger["outputs"]["change_order_ids"] == {}
    backend = Path(stack.env["PULUMI_BACKEND_URL"].removeprefix("file://"))
    locks = list((backend / ".pulumi" / "locks").rglob("*.json"))
    assert len(locks) == 1, locks

    locked = stack.up(check=False)
    assert locked.returncode != 0
    assert "the stack is currently locked by 1 lock(s)" in locked.output
    assert "pulumi cancel" in locked.output
    preview = stack.preview()  # no lock needed: shows the restart the next up will do
    assert "~ 1 to update" in preview.output

    # 3. recovery: cancel (removes the lock), then up
    cancel = stack.run("cancel", "-s", stack.name, "--yes")
    assert "has been canceled" in cancel.output
    recovery = stack.up()
    assert "1 pending operations from previous deployment" in recovery.output
    assert "interrupted while updating" in recovery.output
    assert "1 updated" in recovery.output

    # 4. converged: no pending operation, the state holds the ids the emulator issued last
    state = emulator.state()
    orders = sorted(
        (o for o in state["edas_change_orders"] if o["app_id"] == APP_ID),
        key=lambda o: o["created_at"],
    )
    changes = sorted(
        (c for c in state["webplus_changes"] if c["env_id"] == ENV_ID),
        key=lambda c: c["created_at"],
    )
    deployment = stack.export()["deployment"]
    assert not deployment.get("pending_operations")
    [trigger] = [r for r in deployment["resources"] if r["type"].endswith(TRIGGER_TYPE)]
    outputs = trigger["outputs"]
    assert outputs["restarted_hash"] == "v2"
    assert outputs["change_order_ids"] == {
        f"edas:{APP_ID}": orders[-1]["change_order_id"],
        f"webplus:{ENV_ID}": changes[-1]["change_id"],
    }
    assert outputs["statuses"] == {f"edas:{APP_ID}": "succeeded", f"webplus:{ENV_ID}": "succeeded"}

    # each target restarted exactly once: the interrupted restart, adopted by the recovery
    # from the send journal; nothing refused as busy, none failed
    journal = emulator.journal()
    applied = Counter(target_of(e) for e in journal if e["action"] in RESTARTS and e["applied"])
    busy = Counter(target_of(e) for e in journal if e["code"] in BUSY_CODES)
    figures = f"restarts per target {dict(applied)}, refused as busy {dict(busy)}"
    print(figures)
    request.node.user_properties.append(("crash_recovery", figures))
    assert applied == Counter({APP_ID: 1, ENV_ID: 1}), figures
    assert not busy, figures
    assert "of an earlier update, not restarting" in recovery.output
    assert len(orders) == applied[APP_ID] and len(changes) == applied[ENV_ID], figures
    assert orders[0]["change_order_id"] == first[APP_ID]
    assert changes[0]["change_id"] == first[ENV_ID]
    for history in (orders, changes):
        assert not [c for c in history if c["fails"]]
        for before, after in zip(history, history[1:], strict=False):
            assert after["created_at"] >= before["created_at"] + before["duration_s"], figures

    # 5. and a final up has nothing to do
    emulator.clear_journal()
    final = stack.up()
    assert "2 unchanged" in final.output
    assert [e for e in emulator.journal() if e["action"] in RESTARTS] == []
