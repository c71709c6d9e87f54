"""Every change status the client decodes, played by the emulator, through a real `pulumi up`.

EDAS change orders that end terminated (6), partially successful (7) or on a system exception
(10); that run automatic batches (9) or wait for a manual confirmation (8). Web+ changes that
abort, time out, pause between batches until resumed, and take longer with batch settings.
A change waiting for a person fails the `up` at the trigger's `timeout` saying so, or succeeds
once confirmed. Each trigger restarts on create (`restart_on_create`), so one `up` is enough.
Assertions read the emulator's state and journal; time is only bounded from below.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from testbed.emulator import (
    EXTRA_WORLD,
    RESTARTS,
    TEST_APP_ID,
    TEST_ENV2_ID,
    TEST_ENV_ID,
    EmulatorError,
)

pytestmark = pytest.mark.e2e

FILES = {"config/app.properties": "pool=1\n"}
APP_KEY = f"edas:{TEST_APP_ID}"
ENV_KEY = f"webplus:{TEST_ENV_ID}"


def trigger(*targets: dict, **options) -> list[dict]:
    return [
        {
            "name": "cfg",
            "paths": ["config"],
            "targets": list(targets),
            "restart_on_create": True,
            **options,
        }
    ]


def change_ids(emulator) -> dict[str, str]:
    """AppId/EnvId -> the id of the change its accepted restart created."""
    out = {}
    for entry in emulator.journal():
        if entry["action"] in RESTARTS and entry["status"] == 200 and entry["result_id"]:
            params = {**entry["query"], **entry["form"]}
            out[params.get("AppId") or params.get("EnvId")] = entry["result_id"]
    return out


@contextmanager
def confirming(emulator) -> Iterator[list[dict]]:
    """While the block runs, confirm (EDAS 8) or resume (Web+ paused) every change as soon as
    it waits, through ``POST /__emulator__/confirm``, as a person at the console would."""
    done = threading.Event()
    confirmed: list[dict] = []

    def loop() -> None:
        while not done.is_set():
            for change_id in change_ids(emulator).values():
                try:
                    confirmed.append(emulator.admin("POST", "confirm", {"change_id": change_id}))
                except EmulatorError:
                    pass  # not waiting (yet, or any more)
            done.wait(0.2)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield confirmed
    finally:
        done.set()
        thread.join(10)


# -- EDAS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "words", "task_error"),
    [
        ("terminated", "EDAS status 6 (terminated)", "The change order was terminated"),
        ("partial", "EDAS status 7 (partially successful)", "the other instances restarted"),
        ("system_error", "EDAS status 10 (failed on a system exception)", "system exception"),
    ],
)
def test_an_edas_order_that_ends_badly_fails_the_up_naming_it(
    emulator, trigger_stack, outcome, words, task_error
):
    emulator.seed(
        {
            "edas_applications": [
                {"app_id": TEST_APP_ID, "change_outcome": outcome, "change_duration_s": 0.3}
            ]
        }
    )
    stack = trigger_stack(trigger({"app_id": TEST_APP_ID}), FILES)
    failed = stack.up(check=False)
    assert failed.returncode != 0
    order_id = change_ids(emulator)[TEST_APP_ID]
    assert f"{APP_KEY}: change {order_id} failed, {words}: " in failed.output
    assert task_error in failed.output
    assert "the next `pulumi up` restarts the 1 target(s) above again" in failed.output


@pytest.mark.slow
def test_edas_automatic_batches_wait_at_9_and_then_succeed(emulator, trigger_stack):
    emulator.seed(
        {
            "edas_applications": [
                {
                    "app_id": TEST_APP_ID,
                    "batches": 3,
                    "batch_wait_s": 1.0,
                    "change_duration_s": 0.3,
                }
            ]
        }
    )
    stack = trigger_stack(trigger({"app_id": TEST_APP_ID}), FILES)
    started = time.monotonic()
    stack.up()
    took = time.monotonic() - started
    outputs = stack.outputs()
    assert outputs["cfg.statuses"] == {APP_KEY: "succeeded"}
    [order] = emulator.state()["edas_change_orders"]
    assert (order["batch_count"], order["batch_type"]) == (3, "Automatic")
    assert outputs["cfg.change_order_ids"] == {APP_KEY: order["change_order_id"]}
    assert took >= 3 * 0.3 + 2 * 1.0  # it waited for every batch
    polls = [e for e in emulator.journal() if e["action"] == "GetChangeOrderInfo"]
    assert len(polls) >= 2


@pytest.mark.slow
def test_a_change_waiting_for_a_person_fails_at_the_timeout_saying_so(emulator, trigger_stack):
    """EDAS 8 and Web+ paused: the client keeps polling (someone may confirm meanwhile) and,
    at the trigger's timeout, says which change waits for what, and where to release it."""
    emulator.seed(
        {
            "edas_applications": [
                {
                    "app_id": TEST_APP_ID,
                    "batches": 2,
                    "batch_type": "Manual",
                    "change_duration_s": 0.3,
                }
            ],
            "webplus_environments": [
                {"env_id": TEST_ENV_ID, "instance_count": 2, "change_duration_s": 0.3}
            ],
        }
    )
    web = {"env_id": TEST_ENV_ID, "batch_size": 1, "pause_between_batches": True}
    stack = trigger_stack(trigger({"app_id": TEST_APP_ID}, web, timeout=8), FILES)
    started = time.monotonic()
    failed = stack.up(check=False)
    assert failed.returncode != 0
    assert time.monotonic() - started >= 8
    ids = change_ids(emulator)
    assert (
        f"{APP_KEY} (change {ids[TEST_APP_ID]}): timed out after 8s: change "
        f"{ids[TEST_APP_ID]} is waiting for someone (EDAS status 8 (waiting for manual "
        "confirmation of the next batch" in failed.output
    )
    assert "ContinuePipeline" in failed.output  # where to confirm it
    assert (
        f"{ENV_KEY} (change {ids[TEST_ENV_ID]}): timed out after 8s: change "
        f"{ids[TEST_ENV_ID]} is waiting for someone (Web+ change paused between batches "
        "(resume it with ResumeChange))" in failed.output
    )
    [restart] = [e for e in emulator.journal() if e["action"] == "RestartAppEnv"]
    assert restart["form"]["PauseBetweenBatches"] in ("True", "true")
    # both still wait: nothing was confirmed or resumed behind the user's back
    state = emulator.state()
    assert state["edas_change_orders"][0]["confirmed_at"] == []
    assert state["webplus_changes"][0]["resumed_at"] == []


@pytest.mark.slow
def test_edas_manual_batches_succeed_once_confirmed(emulator, trigger_stack):
    # 1. confirmed automatically after a delay (the app's auto_confirm_s)
    emulator.seed(
        {
            "edas_applications": [
                {
                    "app_id": TEST_APP_ID,
                    "batches": 2,
                    "batch_type": "Manual",
                    "auto_confirm_s": 1.5,
                    "change_duration_s": 0.3,
                }
            ]
        }
    )
    stack = trigger_stack(trigger({"app_id": TEST_APP_ID}, timeout=60), FILES)
    started = time.monotonic()
    stack.up()
    assert time.monotonic() - started >= 0.3 + 1.5 + 0.3  # it waited at 8 for the confirm
    assert stack.outputs()["cfg.statuses"] == {APP_KEY: "succeeded"}
    [order] = emulator.state()["edas_change_orders"]
    assert order["confirmed_at"] == []  # nobody confirmed: the delay did

    # 2. confirmed by a person while the up waits, after three batches
    emulator.seed(
        {"edas_applications": [{"app_id": TEST_APP_ID, "batches": 3, "auto_confirm_s": None}]}
    )
    emulator.clear_journal()
    (stack.workdir / "config/app.properties").write_text("pool=2\n")
    with confirming(emulator) as confirmed:
        stack.up()
    order_id = change_ids(emulator)[TEST_APP_ID]
    assert [c["next_batch"] for c in confirmed] == [2, 3]
    assert all(c["change_id"] == order_id for c in confirmed)
    outputs = stack.outputs()
    assert outputs["cfg.change_order_ids"] == {APP_KEY: order_id}
    assert outputs["cfg.statuses"] == {APP_KEY: "succeeded"}


# -- Web+ ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "words", "message"),
    [
        ("aborted", "Web+ change aborted", "The change was aborted"),
        ("timed_out", "Web+ change timed out", "The change timed out"),
    ],
)
def test_a_webplus_change_that_aborts_or_times_out_fails_the_up(
    emulator, trigger_stack, outcome, words, message
):
    emulator.seed(
        {
            "webplus_environments": [
                {"env_id": TEST_ENV_ID, "change_outcome": outcome, "change_duration_s": 0.3}
            ]
        }
    )
    stack = trigger_stack(trigger({"env_id": TEST_ENV_ID}), FILES)
    failed = stack.up(check=False)
    assert failed.returncode != 0
    change_id = change_ids(emulator)[TEST_ENV_ID]
    assert f"{ENV_KEY}: change {change_id} failed, {words}: {message}" in failed.output


@pytest.mark.slow
def test_a_webplus_change_paused_between_batches_succeeds_once_resumed(emulator, trigger_stack):
    emulator.seed(
        {
            "webplus_environments": [
                {"env_id": TEST_ENV_ID, "instance_count": 3, "change_duration_s": 0.3}
            ]
        }
    )
    web = {"env_id": TEST_ENV_ID, "batch_size": 1, "pause_between_batches": True}
    stack = trigger_stack(trigger(web, timeout=60), FILES)
    with confirming(emulator) as resumed:
        stack.up()
    change_id = change_ids(emulator)[TEST_ENV_ID]
    assert [(r["kind"], r["change_id"], r["next_batch"]) for r in resumed] == [
        ("webplus", change_id, 2),
        ("webplus", change_id, 3),
    ]
    assert stack.outputs()["cfg.statuses"] == {ENV_KEY: "succeeded"}
    [change] = emulator.state()["webplus_changes"]
    assert change["batch_count"] == 3 and change["pause_between_batches"] is True


@pytest.mark.slow
def test_webplus_batch_settings_lengthen_a_change(emulator, trigger_stack):
    emulator.seed(EXTRA_WORLD)
    emulator.seed(
        {
            "webplus_environments": [
                {
                    "env_id": env_id,
                    "instance_count": 3,
                    "change_duration_s": 0.3,
                    "batch_interval_unit_s": 0.5,
                }
                for env_id in (TEST_ENV_ID, TEST_ENV2_ID)
            ]
        }
    )
    batched = {"env_id": TEST_ENV_ID, "batch_size": 1, "batch_interval": 2}
    stack = trigger_stack(trigger(batched, {"env_id": TEST_ENV2_ID}), FILES)
    started = time.monotonic()
    stack.up()
    took = time.monotonic() - started
    changes = {c["env_id"]: c for c in emulator.state()["webplus_changes"]}
    slow, plain = changes[TEST_ENV_ID], changes[TEST_ENV2_ID]
    assert (slow["batch_size"], slow["batch_interval"]) == (1, 2)
    assert (slow["batch_count"], slow["batch_interval_s"]) == (3, 1.0)
    assert (plain["batch_count"], plain["batch_interval_s"]) == (1, 0.0)
    # 3 batches of 0.3 s, 1 s apart, against one batch of 0.3 s; the up waited for it
    assert took >= 3 * 0.3 + 2 * 1.0
    [restart] = [
        e
        for e in emulator.journal()
        if e["action"] == "RestartAppEnv" and e["form"].get("BatchSize")
    ]
    assert (restart["form"]["BatchSize"], restart["form"]["BatchInterval"]) == ("1", "2")
    statuses = stack.outputs()["cfg.statuses"]
    assert statuses == {ENV_KEY: "succeeded", f"webplus:{TEST_ENV2_ID}": "succeeded"}
