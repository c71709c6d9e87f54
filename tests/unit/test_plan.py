"""plan.decide: the one decision of what a change of a trigger's inputs means."""

from __future__ import annotations

import subprocess
import sys

import pytest

from restart_trigger.plan import decide
from restart_trigger.validation import UNKNOWN

OLD = {
    "hash": "sha256:aaa",
    "targets": [{"kind": "edas", "app_id": "app-1"}, {"kind": "webplus", "env_id": "we-1"}],
    "restart_on_create": False,
    "wait": True,
    "timeout": 1800,
    "max_parallel": None,
    "region": None,
    "endpoint": None,
}


def new(**changes):
    return {**OLD, **changes}


def test_a_new_trigger_restarts_only_with_restart_on_create():
    assert decide(None, new()).restart is False
    assert decide(None, new(restart_on_create=True)).restart is True
    assert decide(None, new(restart_on_create=UNKNOWN)).restart is None


def test_same_inputs_mean_nothing_to_do():
    plan = decide(OLD, new())
    assert (plan.changes, plan.restart, plan.replaces) == (False, False, ())


def test_keys_that_are_not_inputs_are_ignored():
    plan = decide({**OLD, "__provider": "old"}, {**OLD, "__provider": "new", "statuses": {}})
    assert plan.changes is False


def test_a_hash_change_restarts_in_place():
    plan = decide(OLD, new(hash="sha256:bbb"))
    assert (plan.changes, plan.restart, plan.replaces) == (True, True, ())


def test_a_hash_not_known_yet_may_restart():
    assert decide(OLD, new(hash=UNKNOWN)).restart is None


def test_new_targets_with_a_new_hash_restart_instead_of_replacing():
    plan = decide(OLD, new(hash="sha256:bbb", targets=[{"kind": "edas", "app_id": "app-2"}]))
    assert (plan.restart, plan.replaces) == (True, ())


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"targets": [{"kind": "edas", "app_id": "app-1"}]}, "targets"),
        ({"region": "cn-shanghai"}, "region"),
    ],
)
def test_same_hash_with_other_targets_or_region_replaces_without_restart(changes, reason):
    plan = decide(OLD, new(**changes))
    assert (plan.changes, plan.restart, plan.replaces) == (True, False, (reason,))


def test_a_replacement_restarts_if_the_new_trigger_restarts_on_create():
    plan = decide(OLD, new(region="cn-shanghai", restart_on_create=True))
    assert (plan.restart, plan.replaces) == (True, ("region",))


@pytest.mark.parametrize(
    "changes",
    [
        {"wait": False},
        {"timeout": 60},
        {"max_parallel": 2},
        {"endpoint": "http://127.0.0.1:1"},
        {
            "targets": [
                {"kind": "edas", "app_id": "app-1"},
                {"kind": "webplus", "env_id": "we-1", "batch_size": 2},
            ]
        },
        {"targets": list(reversed(OLD["targets"]))},
    ],
)
def test_options_only_update_in_place_without_restart(changes):
    plan = decide(OLD, new(**changes))
    assert (plan.changes, plan.restart, plan.replaces) == (True, False, ())


def test_targets_not_known_yet_do_not_force_a_replacement():
    plan = decide(OLD, new(targets=[{"kind": "edas", "app_id": UNKNOWN}]))
    assert (plan.restart, plan.replaces) == (False, ())


def test_plan_loads_no_pulumi():
    code = "import sys, restart_trigger.plan; assert 'pulumi' not in sys.modules, 'pulumi loaded'"
    subprocess.run([sys.executable, "-c", code], check=True)
