"""Rollouts with the real CLI against the emulator: per-target progress survives a partly
failed update, canary and max_failures stop a rollout before it spreads, and ``pulumi up``
shows each change id and status while it waits."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from restart_trigger.preview_summary import summarize_preview
from testbed.emulator import RESTARTS
from testbed.fleet import fleet_seed, target_ids

pytestmark = pytest.mark.e2e

CONFIG_FILE = "config/api/app.properties"


def fleet(emulator, n: int, duration_s: float = 0.3) -> list[str]:
    emulator.seed(fleet_seed(n, "edas", duration_s=duration_s))
    return [ident for _, ident in target_ids(n, "edas")]


def restarted_apps(emulator) -> list[str]:
    """AppIds of the restarts the server applied, in the order it got them."""
    return [
        e["query"].get("AppId")
        for e in emulator.journal()
        if e["action"] in RESTARTS and e.get("applied")
    ]


def restart_times(emulator) -> dict[str, float]:
    return {
        e["query"].get("AppId"): e["time"]
        for e in emulator.journal()
        if e["action"] in RESTARTS and e.get("applied")
    }


def trigger_state(stack) -> dict:
    (trigger,) = stack.resources("RestartTrigger")
    return trigger


def bump(stack, text: str) -> None:
    (stack.workdir / CONFIG_FILE).write_text(text)


@pytest.fixture
def fleet_stack(trigger_stack):
    def make(apps: list[str], **options):
        triggers = [
            {
                "name": "fleet",
                "paths": ["config/api"],
                "targets": [{"app_id": a} for a in apps],
                **options,
            }
        ]
        stack = trigger_stack(triggers, {CONFIG_FILE: "pool=1\n"})
        stack.up()  # created: restart_on_create is off, nothing restarts
        return stack

    return make


def test_a_partly_failed_rollout_keeps_its_progress_and_the_next_up_restarts_only_the_rest(
    fleet_stack, emulator
):
    apps = fleet(emulator, 5)
    stack = fleet_stack(apps)
    bad = [apps[1], apps[3]]
    emulator.set_faults({"fail_app_ids": bad})
    emulator.clear_journal()
    bump(stack, "pool=2\n")

    failed = stack.up(check=False)

    assert failed.returncode != 0
    assert f"edas:{bad[0]}" in failed.output and f"edas:{bad[1]}" in failed.output
    assert "restarts only the 2 target(s) above" in failed.output
    assert sorted(restarted_apps(emulator)) == sorted(apps)
    trigger = trigger_state(stack)
    outputs = trigger["outputs"]
    new_hash = outputs["hash"]
    assert new_hash != trigger["inputs"]["hash"], "the engine keeps the old inputs"
    done = {k for k, p in outputs["progress"].items() if p["hash"] == new_hash}
    assert done == {f"edas:{a}" for a in apps if a not in bad}
    assert outputs["owed"] == [f"edas:{a}" for a in bad]
    assert all(outputs["progress"][k]["status"] == "succeeded" for k in done)
    assert trigger.get("initErrors"), "the engine records the failure with the partial state"

    # A pull-request preview now shows exactly the two owed restarts.
    preview = json.loads(stack.run("preview", "-s", stack.name, "--json").stdout)
    summary = summarize_preview(preview)
    assert "**2 targets would restart.**" in summary
    assert all(f"EDAS app {a}" in summary for a in bad)

    emulator.clear_faults()
    emulator.clear_journal()
    stack.up()
    assert sorted(restarted_apps(emulator)) == sorted(bad)
    outputs = trigger_state(stack)["outputs"]
    assert outputs["owed"] == []
    assert {p["hash"] for p in outputs["progress"].values()} == {new_hash}
    assert set(outputs["change_order_ids"]) == {f"edas:{a}" for a in apps}

    emulator.clear_journal()
    stack.up()
    assert restarted_apps(emulator) == []


def test_a_failing_canary_restarts_nothing_else_and_a_healthy_one_goes_first(fleet_stack, emulator):
    apps = fleet(emulator, 3, duration_s=1.0)
    stack = fleet_stack(apps, canary=1, max_failures=2)
    before = trigger_state(stack)["outputs"]
    emulator.set_faults({"fail_app_ids": [apps[0]]})
    emulator.clear_journal()
    bump(stack, "pool=2\n")

    failed = stack.up(check=False)

    assert failed.returncode != 0
    assert restarted_apps(emulator) == [apps[0]]
    assert f"the canary edas:{apps[0]} did not restart" in failed.output
    # Nothing restarted: the state stays as it was, so all three are still owed.
    outputs = trigger_state(stack)["outputs"]
    assert outputs["hash"] == before["hash"] and outputs["progress"] == {}

    emulator.clear_faults()
    emulator.clear_journal()
    stack.up()
    times = restart_times(emulator)
    assert sorted(times) == sorted(apps)
    # The others were sent only after the canary's 1 s change had succeeded.
    assert min(times[apps[1]], times[apps[2]]) >= times[apps[0]] + 1.0


def test_once_max_failures_is_passed_no_further_target_is_called(fleet_stack, emulator):
    apps = fleet(emulator, 4)
    stack = fleet_stack(apps, max_parallel=1, max_failures=0)
    emulator.set_faults({"fail_app_ids": [apps[1]]})
    emulator.clear_journal()
    bump(stack, "pool=2\n")

    failed = stack.up(check=False)

    assert failed.returncode != 0
    assert restarted_apps(emulator) == apps[:2]
    assert not [e for e in emulator.journal() if e["query"].get("AppId") in apps[2:]]
    for app in apps[2:]:
        assert f"edas:{app}: not started: 1 target(s) had failed, more than max_failures=0" in (
            failed.output
        )
    assert trigger_state(stack)["outputs"]["owed"] == [f"edas:{a}" for a in apps[1:]]


def test_up_shows_the_change_id_and_its_status_while_it_waits(fleet_stack, emulator):
    (app,) = fleet(emulator, 1, duration_s=10.0)
    stack = fleet_stack([app])
    emulator.clear_journal()
    bump(stack, "pool=2\n")

    lines: list[tuple[float, str]] = []
    cmd = ["pulumi", "up", "-s", stack.name, "--yes", "--skip-preview", "--non-interactive"]
    with subprocess.Popen(
        cmd, cwd=stack.workdir, env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    ) as proc:  # fmt: skip
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.monotonic(), line.rstrip("\n")))
    ended = time.monotonic()
    assert proc.returncode == 0, "\n".join(text for _, text in lines)

    (change_id,) = trigger_state(stack)["outputs"]["change_order_ids"].values()
    issued = [t for t, text in lines if f"edas:{app} restart issued: change {change_id}" in text]
    running = [t for t, text in lines if f"change {change_id}: running" in text]
    succeeded = [t for t, text in lines if f"change {change_id}: succeeded" in text]
    assert issued and running and succeeded, "\n".join(text for _, text in lines)
    # Shown as it happened, during the 10 s change, not only at the end.
    assert ended - issued[0] >= 5.0
    assert ended - running[0] >= 5.0
    assert all("fleet: " in text for t, text in lines if t in (issued[0], running[0]))


def test_a_preview_shows_no_unknown_outputs_for_triggers_that_do_not_change(
    trigger_stack, emulator
):
    apps = fleet(emulator, 2)
    triggers = [
        {"name": "api", "paths": ["config/api"], "targets": [{"app_id": apps[0]}]},
        {"name": "web", "paths": ["config/web"], "targets": [{"app_id": apps[1]}]},
    ]
    stack = trigger_stack(triggers, {CONFIG_FILE: "pool=1\n", "config/web/site.conf": "a\n"})
    stack.up()
    (stack.workdir / "config/web/site.conf").write_text("b\n")  # web changes, api does not

    out = stack.preview().output

    assert "api.restarted_at" not in out and "api.change_order_ids" not in out, out
    assert "[unknown]" not in "\n".join(line for line in out.splitlines() if "api." in line)


def test_a_change_the_last_up_stopped_watching_is_waited_for_not_sent_again(
    trigger_stack, emulator
):
    apps = fleet(emulator, 2, duration_s=0.3)
    emulator.seed({"edas_applications": [{"app_id": apps[1], "change_duration_s": 15.0}]})
    triggers = [
        {
            "name": "fleet",
            "paths": ["config/api"],
            "targets": [{"app_id": a} for a in apps],
            "timeout": 6,
        }
    ]
    stack = trigger_stack(triggers, {CONFIG_FILE: "pool=1\n"})
    stack.up()
    emulator.clear_journal()
    bump(stack, "pool=2\n")

    timed_out = stack.up(check=False)

    assert timed_out.returncode != 0
    assert sorted(restarted_apps(emulator)) == sorted(apps)
    assert f"issued but not seen to finish: edas:{apps[1]}" in timed_out.output
    record = trigger_state(stack)["outputs"]["progress"][f"edas:{apps[1]}"]
    assert record["unsettled_change_id"]

    # A longer timeout: the next up waits for that change to end and sends nothing new.
    triggers[0]["timeout"] = 120
    from tests.e2e.conftest import set_triggers

    set_triggers(stack, triggers)
    emulator.clear_journal()
    settled = stack.up()
    assert restarted_apps(emulator) == []
    assert f"waiting for change {record['unsettled_change_id']} of an earlier update" in (
        settled.output
    )
    outputs = trigger_state(stack)["outputs"]
    assert outputs["owed"] == []
    assert outputs["change_order_ids"][f"edas:{apps[1]}"] == record["unsettled_change_id"]
