"""Exactly one restart per target per hash when an update is interrupted, with the real CLI.

Each case counts the change orders the emulator created for each target after the hash
changed: exactly one, however the first update ended.

* A1: a change issued but not seen to finish (the trigger's ``timeout`` came first), then an
  ``up`` with ``wait: false``: the earlier change is adopted, nothing is sent again.
* A2: a restart whose answer never came ("restart outcome unknown"): state keeps the
  snapshot taken before the send; the next ``up`` finds the restart and adopts it.
* A3: the CLI's process group killed with SIGKILL during a canary's wait (what a CI runner
  does to a cancelled job): the orphaned provider starts nothing more and exits; ``pulumi
  cancel`` and ``up`` adopt the canary's change from the send journal and restart the rest
  once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from restart_trigger.preview_summary import summarize_preview
from testbed.emulator import RESTARTS, TEST_APP_ID, target_of
from testbed.fleet import fleet_seed, target_ids
from testbed.procwatch import MARK_VARIABLE
from tests.e2e.conftest import set_triggers

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONFIG_FILE = "config/api/app.properties"
FILES = {CONFIG_FILE: "pool=1\n"}


def trigger(targets, **options):
    return [{"name": "api", "paths": ["config/api"], "targets": targets, **options}]


def bump(stack, text: str) -> None:
    (stack.workdir / CONFIG_FILE).write_text(text)


def orders_of(emulator, app_id: str) -> list[dict]:
    orders = emulator.state()["edas_change_orders"]
    return sorted((o for o in orders if o["app_id"] == app_id), key=lambda o: o["created_at"])


def trigger_state(stack) -> dict:
    [resource] = [
        r for r in stack.export()["deployment"]["resources"] if r["type"].endswith("RestartTrigger")
    ]
    return resource["outputs"]


# -- A1 ----------------------------------------------------------------------------------------
def test_a_change_not_seen_to_finish_is_adopted_by_an_up_with_wait_off(emulator, trigger_stack):
    emulator.seed({"edas_applications": [{"app_id": TEST_APP_ID, "change_duration_s": 12.0}]})
    stack = trigger_stack(trigger([{"app_id": TEST_APP_ID}], timeout=4), FILES)
    stack.up()
    assert orders_of(emulator, TEST_APP_ID) == []

    bump(stack, "pool=2\n")
    timed_out = stack.up(check=False)
    assert timed_out.returncode != 0
    assert "issued but not seen to finish" in timed_out.output
    [first] = orders_of(emulator, TEST_APP_ID)

    emulator.clear_journal()
    set_triggers(stack, trigger([{"app_id": TEST_APP_ID}], timeout=60, wait=False))
    adopted = stack.up()
    assert "of an earlier update, not restarting" in adopted.output

    assert [e for e in emulator.journal() if e["action"] in RESTARTS] == []  # not even a busy try
    assert [o["change_order_id"] for o in orders_of(emulator, TEST_APP_ID)] == [
        first["change_order_id"]
    ]
    outputs = trigger_state(stack)
    assert outputs["owed"] == []
    assert outputs["change_order_ids"] == {f"edas:{TEST_APP_ID}": first["change_order_id"]}
    assert "unsettled_change_id" not in outputs["progress"][f"edas:{TEST_APP_ID}"]


# -- A2 ----------------------------------------------------------------------------------------
def test_a_restart_whose_answer_never_came_is_found_by_the_next_up_not_sent_again(
    emulator, trigger_stack
):
    stack = trigger_stack(trigger([{"app_id": TEST_APP_ID}], timeout=12), FILES)
    stack.up()
    # the restart is applied, then its answer drips slower than the trigger's timeout
    emulator.set_faults(
        {"drip_interval_ms": 3_000, "drip_rate": 1.0, "actions": ["RestartApplication"]}
    )
    bump(stack, "pool=2\n")
    lost = stack.up(check=False)
    assert lost.returncode != 0
    assert "restart outcome unknown" in lost.output
    assert "the next `pulumi up` checks these first" in lost.output
    [first] = orders_of(emulator, TEST_APP_ID)
    state = trigger_state(stack)
    record = state["progress"][f"edas:{TEST_APP_ID}"]
    assert record["unknown_hash"] == state["hash"] and state["owed"] == [f"edas:{TEST_APP_ID}"]
    assert first["change_order_id"] not in record["unknown_snapshot"]
    assert record["unknown_sent_at"].endswith("Z")

    emulator.clear_faults()
    emulator.clear_journal()
    # a preview (and the PR summary built from its JSON) says so, and calls nothing
    previewed = stack.preview()
    assert "outcome unknown, checked at up" in previewed.output, previewed.output
    summary = summarize_preview(stack.preview_json())
    assert "outcome unknown, checked at up" in summary, summary
    assert emulator.journal() == []

    resolved = stack.up()
    assert "outcome of an earlier restart unknown" in resolved.output

    assert [e for e in emulator.journal() if e["action"] in RESTARTS] == []
    assert [o["change_order_id"] for o in orders_of(emulator, TEST_APP_ID)] == [
        first["change_order_id"]
    ]
    outputs = trigger_state(stack)
    assert outputs["owed"] == []
    assert outputs["change_order_ids"] == {f"edas:{TEST_APP_ID}": first["change_order_id"]}
    assert not [k for k in outputs["progress"][f"edas:{TEST_APP_ID}"] if k.startswith("unknown_")]


# -- A3 ----------------------------------------------------------------------------------------
CANARY_S = 15.0
APPS = [ident for _kind, ident in target_ids(3, "edas")]


def _providers(mark: str) -> list[int]:
    """Live dynamic-provider processes whose environment carries ``mark``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            environ = Path(f"/proc/{name}/environ").read_bytes()
            state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"pulumi.dynamic" in cmdline and f"{MARK_VARIABLE}={mark}".encode() in environ:
            if state != "Z":
                found.append(int(name))
    return found


def _marked(mark: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if f"{MARK_VARIABLE}={mark}".encode() in Path(f"/proc/{name}/environ").read_bytes():
                    found.append(int(name))
            except OSError:
                continue
    return found


def _wait_for(what, predicate, proc, log: Path, deadline_s: float = 120.0):
    end = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"pulumi up exited ({proc.returncode}) before {what}:\n{log.read_text()}")
        if time.monotonic() > end:
            pytest.fail(f"no {what} within {deadline_s}s:\n{log.read_text()}")
        time.sleep(0.25)


def test_killing_the_cli_group_mid_canary_stops_the_orphan_and_the_next_up_adopts_its_change(
    emulator, trigger_stack, tmp_path
):
    emulator.seed(fleet_seed(3, "edas", CANARY_S))
    stack = trigger_stack(
        trigger([{"app_id": a} for a in APPS], canary=1, max_parallel=1, timeout=300), FILES
    )
    mark = f"a3-{os.getpid()}-{time.monotonic_ns()}"
    stack.env[MARK_VARIABLE] = mark
    stack.up()
    emulator.clear_journal()

    bump(stack, "pool=2\n")
    log = tmp_path / "killed-up.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["pulumi", "up", "-s", stack.name, "--yes", "--skip-preview", "--non-interactive"],
            cwd=stack.workdir,
            env=stack.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the CLI leads a process group, as under a CI runner
        )
    try:

        def canary_polled():
            entries = emulator.journal()
            accepted = [e for e in entries if e["action"] in RESTARTS and e["applied"]]
            polled = {
                e["query"].get("ChangeOrderId")
                for e in entries
                if e["action"] == "GetChangeOrderInfo" and e["status"] == 200
            }
            return accepted if accepted and accepted[0]["result_id"] in polled else None

        [canary] = _wait_for("the canary's restart and a status poll", canary_polled, proc, log)
        providers = _providers(mark)
        assert len(providers) == 1, providers
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI's group only: plugins have their own
        proc.wait(timeout=30)

        # the orphan notices, starts nothing more and exits
        _wait_for("the orphaned provider to exit", lambda: not _providers(mark), None, log, 30)
        kill_seq = max(e["seq"] for e in emulator.journal())
        time.sleep(1.0)
        late = [e for e in emulator.journal(since=kill_seq) if e["action"] in RESTARTS]
        assert late == []
        assert [target_of(e) for e in emulator.journal() if e["action"] in RESTARTS] == [
            target_of(canary)
        ]
    finally:
        for pid in _marked(mark):  # whatever survived (the language host) goes now
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    cancel = stack.run("cancel", "-s", stack.name, "--yes")
    assert "has been canceled" in cancel.output
    recovery = stack.up()
    assert "of an earlier update, not restarting" in recovery.output

    applied = Counter(
        target_of(e) for e in emulator.journal() if e["action"] in RESTARTS and e["applied"]
    )
    assert applied == Counter(APPS), applied  # each target exactly once
    outputs = trigger_state(stack)
    assert outputs["owed"] == []
    assert outputs["change_order_ids"][f"edas:{target_of(canary)}"] == canary["result_id"]
    assert set(outputs["statuses"].values()) == {"succeeded"}
