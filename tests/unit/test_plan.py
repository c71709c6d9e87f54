"""plan.decide: the one decision of what a change of a trigger's inputs means."""

from __future__ import annotations

import pytest

from restart_trigger.plan import decide, progress_of, unverified_for
from restart_trigger.rollout import EARLIER_UNVERIFIED, earlier_words, unverified_of
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


def test_a_hash_change_restarts_every_target_in_place_in_the_order_listed():
    plan = decide(OLD, new(hash="sha256:bbb"))
    assert (plan.changes, plan.restart, plan.replaces) == (True, True, ())
    assert plan.due == ("edas:app-1", "webplus:we-1")


def progressed(done: dict[str, str], owed: list[str], hash_: str = "sha256:aaa"):
    """OLD's outputs after a rollout: ``done`` maps key -> the hash it restarted for."""
    progress = {
        k: {"hash": h, "change_id": f"co-{k}", "status": "succeeded"} for k, h in done.items()
    }
    return {**OLD, "hash": hash_, "progress": progress, "owed": owed}


def test_after_a_partly_failed_rollout_the_same_hash_restarts_only_the_owed_targets():
    olds = progressed({"edas:app-1": "sha256:bbb"}, owed=["webplus:we-1"], hash_="sha256:bbb")
    plan = decide(olds, new(hash="sha256:bbb"))
    assert (plan.changes, plan.restart, plan.due) == (True, True, ("webplus:we-1",))


def test_a_finished_rollout_owes_nothing():
    done = {"edas:app-1": "sha256:bbb", "webplus:we-1": "sha256:bbb"}
    plan = decide(progressed(done, owed=[], hash_="sha256:bbb"), new(hash="sha256:bbb"))
    assert (plan.changes, plan.restart, plan.due) == (False, False, ())


def test_a_new_hash_skips_targets_already_restarted_for_it():
    olds = progressed({"edas:app-1": "sha256:ccc", "webplus:we-1": "sha256:aaa"}, owed=[])
    plan = decide(olds, new(hash="sha256:ccc"))
    assert plan.due == ("webplus:we-1",)


def test_reverting_the_hash_restarts_the_targets_that_restarted_for_the_other_one():
    # app-1 restarted for bbb, we-1 failed (still on aaa); then the change is reverted to aaa.
    olds = progressed(
        {"edas:app-1": "sha256:bbb", "webplus:we-1": "sha256:aaa"},
        owed=["webplus:we-1"],
        hash_="sha256:bbb",
    )
    plan = decide(olds, new(hash="sha256:aaa"))
    assert (plan.restart, plan.due) == (True, ("edas:app-1",))


def test_an_owed_target_removed_from_the_list_is_forgotten():
    olds = progressed({"edas:app-1": "sha256:bbb"}, owed=["webplus:we-1"], hash_="sha256:bbb")
    plan = decide(olds, new(hash="sha256:bbb", targets=OLD["targets"][:1]))
    assert (plan.changes, plan.restart, plan.due) == (True, False, ())


def test_state_written_before_progress_counts_each_target_as_restarted_for_restarted_hash():
    olds = {
        **OLD,
        "change_order_ids": {"edas:app-1": "co-1", "webplus:we-1": "co-2"},
        "restarted_hash": "sha256:aaa",
    }
    assert progress_of(olds)["edas:app-1"]["hash"] == "sha256:aaa"
    assert decide(olds, new(hash="sha256:bbb")).due == ("edas:app-1", "webplus:we-1")
    assert decide(olds, new()).changes is False


def test_a_hash_not_known_yet_may_restart():
    assert decide(OLD, new(hash=UNKNOWN)).restart is None


def test_new_targets_with_a_new_hash_restart_instead_of_replacing():
    plan = decide(OLD, new(hash="sha256:bbb", targets=[{"kind": "edas", "app_id": "app-2"}]))
    assert (plan.restart, plan.replaces) == (True, ())


def test_same_hash_in_another_region_replaces_without_restart():
    plan = decide(OLD, new(region="cn-shanghai"))
    assert (plan.changes, plan.restart, plan.replaces) == (True, False, ("region",))


def test_a_target_added_with_the_same_hash_updates_in_place_and_restarts_nothing():
    added = [*OLD["targets"], {"kind": "sae", "app_id": "5a3e0000-0000-4000-8000-000000000009"}]
    plan = decide(OLD, new(targets=added))
    assert (plan.changes, plan.restart, plan.due, plan.replaces) == (True, False, (), ())


def test_a_target_added_with_restart_on_create_restarts_alone():
    added = [*OLD["targets"], {"kind": "edas", "app_id": "app-9"}]
    plan = decide(OLD, new(targets=added, restart_on_create=True))
    assert (plan.restart, plan.due, plan.replaces) == (True, ("edas:app-9",), ())


def test_a_removed_target_is_simply_forgotten():
    plan = decide(OLD, new(targets=OLD["targets"][:1]))
    assert (plan.changes, plan.restart, plan.replaces) == (True, False, ())


def test_a_replacement_restarts_if_the_new_trigger_restarts_on_create():
    plan = decide(OLD, new(region="cn-shanghai", restart_on_create=True))
    assert (plan.restart, plan.replaces) == (True, ("region",))


@pytest.mark.parametrize(
    "changes",
    [
        {"wait": False},
        {"timeout": 60},
        {"max_parallel": 2},
        {"canary": 1},
        {"max_failures": 3},
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


def test_with_target_ids_known_only_at_apply_a_hash_change_restarts_whom_apply_decides():
    plan = decide(OLD, new(hash="sha256:bbb", targets=[{"kind": "edas", "app_id": UNKNOWN}]))
    assert (plan.restart, plan.due) == (True, None)


# -- verification: the next up verifies an unverified target again instead of restarting it --


URL = "http://127.0.0.1:9/health"


TARGETS = [{"kind": "edas", "app_id": "a"}, {"kind": "edas", "app_id": "b"}]


VERIFY = {"http": [{"url": URL}], "cloud": False, "within": 30, "interval": 2, "successes": 1}


def olds_with(progress, owed):
    return {"hash": "h2", "targets": TARGETS, "verify": VERIFY, "progress": progress, "owed": owed}


def test_the_next_up_verifies_an_unverified_target_again_instead_of_restarting_it():
    progress = {
        "edas:a": {"hash": "h2", "change_id": "co-1", "unverified_hash": "h2"},
        "edas:b": {"hash": "h1", "change_id": "co-0"},
    }
    news = {"hash": "h2", "targets": TARGETS, "verify": VERIFY}
    plan = decide(olds_with(progress, ["edas:a", "edas:b"]), news)
    assert plan.due == ("edas:a", "edas:b") and plan.verify_again == ("edas:a",)
    assert unverified_of(progress, "h2", ["edas:a", "edas:b"]) == {"edas:a": "co-1"}
    assert earlier_words(olds_with(progress, ["edas:a"]), news, ["edas:a", "edas:b"]) == {
        "edas:a": EARLIER_UNVERIFIED
    }
    assert EARLIER_UNVERIFIED.endswith("verify again at up, no restart")
    # a new hash restarts it as any other target
    moved = decide(olds_with(progress, ["edas:a"]), {**news, "hash": "h3"})
    assert moved.due == ("edas:a", "edas:b") and moved.verify_again == ()


def test_state_from_before_verify_reads_as_verified():
    old = {"hash": "h2", "change_id": "co-1", "status": "succeeded"}
    assert not unverified_for(old, "h2")
    olds = {"hash": "h2", "targets": TARGETS, "progress": {"edas:a": old}, "owed": []}
    assert decide(olds, {"hash": "h2", "targets": TARGETS}).changes is False


def test_adding_or_changing_verify_alone_restarts_nothing():
    olds = {"hash": "h2", "targets": TARGETS, "progress": {}, "owed": []}
    plan = decide(olds, {"hash": "h2", "targets": TARGETS, "verify": VERIFY})
    assert plan.changes and plan.restart is False and plan.due == ()
