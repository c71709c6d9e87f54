"""Soak: 100 restarts through the real Pulumi CLI while the emulator misbehaves.

The fleet program (testbed/programs/fleet) declares 10 RestartTriggers of 10 targets each,
the four kinds in turn: EDAS applications (ECS), Web+ environments, SAE applications and EDAS
Kubernetes applications. The first ``pulumi up`` creates them
without restarting anything. Then the emulator starts injecting faults into every product
call (restarts, the "was it accepted?" checks and the status polls alike):

* ~20 % throttling (``Throttling.User``),
* ~10 % server errors (500, 502, 503, 504 at random),
* ~2 % connections dropped before the request is processed (nothing applied),
* ~2 % connections dropped after it was processed (a restart *was* created, its answer lost),
  plus the first 2 of each kind for certain, so every run takes both paths (~6 % drops in all),

with a fixed fault seed (the interleaving of ~40 concurrent calls still varies from run to run,
so the exact counts do too), and ``fleet:hash`` changes. That ``pulumi up`` must succeed, and the
emulator's journal and state must show exactly one restart per target (no double restart
even where the answer was lost, none missing, none failed), with every change id in the
Pulumi state being the one the emulator issued.

The counts (restart calls sent, throttled, 5xx, dropped before/after, recovered) are printed,
attached to the test's ``user_properties`` (JUnit XML) and written in the terminal summary.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from restart_trigger.aliyun.endpoints import PRODUCTS
from testbed.emulator import (
    BUSY_CODES,
    RESTARTS,
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_REGION,
    target_of,
)
from testbed.fleet import fleet_seed, target_ids

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TRIGGERS, PER_TRIGGER = 10, 10
N_TARGETS = TRIGGERS * PER_TRIGGER
CHANGE_DURATION_S = 0.5
FLEET_KIND = "four"  # EDAS, Web+, SAE and EDAS K8s targets in turn
CHECKS = {"ListRecentChangeOrder", "DescribeAppEnvStatus", "ListChangeOrders"}
POLLS = {"GetChangeOrderInfo", "DescribeChange", "DescribeChangeOrder"}
FAULTS = {
    "seed": 20240611,
    "actions": None,  # every product call: restarts, acceptance checks and status polls
    "throttle_rate": 0.20,
    "error_rate": 0.10,
    "error_status": [500, 502, 503, 504],
    "drop_before_rate": 0.02,
    "drop_after_rate": 0.02,
    # The rates alone leave a run without a single drop now and then: the first 2 requests
    # are dropped before processing, and the first 2 processed ones after it. (Those are
    # mostly the snapshot reads each restart begins with; the restarts' own lost answers are
    # made certain by apply_delay below.)
    "drop_before_count": 2,
    "drop_after_count": 2,
    # A server that applies a restart after the client gave up: 2 restarts are held 35 s
    # (beyond the client's 30 s read timeout) before they are applied; the lost answers must
    # be found by looking, never resent.
    "apply_delay_ms": 35_000,
    "apply_delay_count": 2,
    # Slow status answers and bodies that drip in byte by byte, now and then.
    "status_latency_ms": 3_000,
    "status_latency_rate": 0.03,
    "status_latency_count": 2,
    "drip_interval_ms": 20,
    "drip_rate": 0.02,
    "drip_count": 2,
}
TRIGGER_TYPE = "RestartTrigger"


def fleet_config(emulator, **overrides):
    config = {
        "fleet:kind": "trigger",
        "fleet:count": TRIGGERS,
        "fleet:targets_per_resource": PER_TRIGGER,
        "fleet:target_kind": FLEET_KIND,
        "fleet:hash": "v1",
        # a hung update fails the test in minutes, not after the default 30; room for two
        # lost answers of one target (each waits out the 60 s settle window)
        "fleet:timeout": 400,
        "alicloud:region": TEST_REGION,
        "alicloud:endpoints": [{p: emulator.base_url for p in PRODUCTS}],
    }
    config.update(overrides)
    return config


def key_of(kind: str, ident: str) -> str:
    return f"{kind}:{ident}"


class _SoakSummary:
    """Writes the soak's counts in the final terminal summary (a plugin registered at run time)."""

    lines: list[str] = []

    def pytest_terminal_summary(self, terminalreporter) -> None:
        for line in self.lines:
            terminalreporter.write_line(line)


_SUMMARY = _SoakSummary()


def _report(request: pytest.FixtureRequest, counts: dict[str, int]) -> str:
    text = "fault soak: " + ", ".join(f"{k}={v}" for k, v in counts.items())
    print(text)
    for name, value in counts.items():
        request.node.user_properties.append((f"soak_{name}", value))
    manager = request.config.pluginmanager
    if not manager.is_registered(_SUMMARY):
        manager.register(_SUMMARY, "restart-trigger-fault-soak-summary")
    _SUMMARY.lines.append(f"{request.node.nodeid}: {text}")
    return text


def test_100_restarts_under_throttling_5xx_and_dropped_connections(emulator, new_stack, request):
    emulator.seed(fleet_seed(N_TARGETS, FLEET_KIND, CHANGE_DURATION_S))
    stack = new_stack(
        "fleet",
        ALICLOUD_ACCESS_KEY=TEST_ACCESS_KEY_ID,
        ALICLOUD_SECRET_KEY=TEST_ACCESS_KEY_SECRET,
    )
    stack.write_config(fleet_config(emulator))

    # 1. no faults: the triggers are created and nothing restarts
    stack.up()
    assert [e for e in emulator.journal() if e["action"] in RESTARTS] == []
    triggers = stack.resources(TRIGGER_TYPE)
    assert len(triggers) == TRIGGERS

    # 2. faults on, hash changed: every target restarts once, and the update succeeds
    emulator.clear_journal()
    emulator.set_faults(FAULTS)
    stack.write_config(fleet_config(emulator, **{"fleet:hash": "v2"}))
    started = time.monotonic()
    up = stack.up(check=False)
    took = time.monotonic() - started
    emulator.clear_faults()
    journal = emulator.journal()
    state = emulator.state()

    restarts = [e for e in journal if e["action"] in RESTARTS]
    faults = Counter(e["fault"] for e in restarts)
    applied = [e for e in restarts if e["applied"]]
    lost = {e["result_id"] for e in applied if e["fault"] in ("drop_after", "apply_delay")}
    busy = [e for e in restarts if e["code"] in BUSY_CODES]
    other_calls = [e for e in journal if e["action"] not in RESTARTS]

    resources = stack.resources(TRIGGER_TYPE)
    ids_in_state = {}
    statuses_in_state = {}
    for resource in resources:
        ids_in_state.update(resource["outputs"].get("change_order_ids") or {})
        statuses_in_state.update(resource["outputs"].get("statuses") or {})
    recovered = lost & set(ids_in_state.values())

    counts = {
        "restart_calls_sent": len(restarts),
        "throttled": faults["throttle"] + faults["qps_limit"],
        "5xx": sum(n for f, n in faults.items() if f and f.startswith("error_")),
        "5xx_503": faults["error_503"],
        "dropped_before": faults["drop_before"],
        "dropped_after": faults["drop_after"],
        "applied_after_the_client_gave_up": faults["apply_delay"],
        "recovered": len(recovered),
        "refused_busy": len(busy),
        "restarts_applied": len(applied),
        "applied_sae": sum(1 for e in applied if e["product"] == "sae"),
        "applied_edas_k8s": sum(1 for e in applied if e["action"] == "RestartK8sApplication"),
        "check_calls": sum(1 for e in other_calls if e["action"] in CHECKS),
        "status_polls": sum(1 for e in other_calls if e["action"] in POLLS),
        "faults_on_checks_and_polls": sum(1 for e in other_calls if e["fault"]),
        "slow_status": sum(1 for e in other_calls if e["fault"] == "status_latency"),
        "dripped": sum(1 for e in journal if e["fault"] == "drip"),
        "up_seconds": round(took),
    }
    summary = _report(request, counts)

    known = (
        "\nKNOWN BUG: a restart gave up after 5 throttled/5xx attempts; "
        "see test_a_restart_survives_five_throttled_attempts_in_a_row"
        if "giving up after 5 attempt(s)" in up.output
        else ""
    )
    failures = "\n".join(
        line for line in up.output.splitlines() if "did not restart" in line or "  - " in line
    )
    assert up.returncode == 0, f"{summary}{known}\n--- failures\n{failures}"
    # the faults really fired, on every path (drops: on any call; late applies: on restarts)
    every = Counter(e["fault"] for e in journal)
    assert counts["throttled"] and counts["5xx"], summary
    assert every["drop_before"] and every["drop_after"], f"{dict(every)}\n{summary}"
    assert counts["applied_after_the_client_gave_up"] == 2, summary
    assert counts["slow_status"] and counts["dripped"], summary

    # exactly one restart change order per target: none twice, none missing
    per_target = Counter(target_of(e) for e in applied)
    kinds = dict((ident, kind) for kind, ident in target_ids(N_TARGETS, FLEET_KIND))
    assert set(per_target) == set(kinds), summary
    assert set(Counter(kinds.values())) == {"edas", "webplus", "sae", "edas-k8s"}
    assert counts["applied_sae"] == counts["applied_edas_k8s"] == N_TARGETS // 4, summary
    twice = {t: n for t, n in per_target.items() if n != 1}
    assert twice == {}, f"restarted more than once: {twice}\n{summary}"
    assert busy == [], f"a restart was refused as busy: a double restart was attempted\n{summary}"
    edas_orders = state["edas_change_orders"]
    web_changes = state["webplus_changes"]
    sae_orders = state["sae_change_orders"]
    assert len(edas_orders) + len(web_changes) + len(sae_orders) == N_TARGETS, summary
    failed = [c for c in [*edas_orders, *web_changes] if c["fails"]]
    failed += [o for o in sae_orders if o["outcome"] != "success" or o["sub_status_abnormal"]]
    assert not failed, summary

    # every lost answer was recovered by the client's check (not resent)
    assert recovered == lost, f"lost answers not recovered: {lost - recovered}\n{summary}"

    # the Pulumi state holds all 100 change ids, exactly those the emulator issued
    issued = {key_of(kinds[o["app_id"]], o["app_id"]): o["change_order_id"] for o in edas_orders}
    issued.update({key_of("webplus", c["env_id"]): c["change_id"] for c in web_changes})
    issued.update({key_of("sae", o["app_id"]): o["change_order_id"] for o in sae_orders})
    assert ids_in_state == issued, summary
    assert set(statuses_in_state.values()) == {"succeeded"}, summary
    assert {r["outputs"]["restarted_hash"] for r in resources} == {"v2"}, summary

    # 3. converged: another up (no faults) changes nothing and restarts nothing
    emulator.clear_journal()
    again = stack.up()
    assert f"{TRIGGERS + 1} unchanged" in again.output
    assert [e for e in emulator.journal() if e["action"] in RESTARTS] == []


def test_a_restart_survives_five_throttled_attempts_in_a_row(emulator, new_stack):
    """Deterministic form of the soak's intermittent failure: exactly 5 throttled restarts."""
    emulator.seed(fleet_seed(1, "edas", CHANGE_DURATION_S))
    stack = new_stack(
        "fleet",
        ALICLOUD_ACCESS_KEY=TEST_ACCESS_KEY_ID,
        ALICLOUD_SECRET_KEY=TEST_ACCESS_KEY_SECRET,
    )
    single = {"fleet:count": 1, "fleet:targets_per_resource": 1, "fleet:target_kind": "edas"}
    stack.write_config(fleet_config(emulator, **single))
    stack.up()
    emulator.set_faults({"throttle_count": 5, "actions": ["RestartApplication"]})
    stack.write_config(fleet_config(emulator, **single, **{"fleet:hash": "v2"}))
    up = stack.up(check=False)
    throttled = [e for e in emulator.journal() if e["fault"] == "throttle"]
    assert len(throttled) == 5
    assert up.returncode == 0, up.output[-3000:]
