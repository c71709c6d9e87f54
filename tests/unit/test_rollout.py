"""rollout: the core both front doors call: settings, what earlier updates left, the fold of
outcomes into state, the outputs. Pure, so tested without a server."""

from __future__ import annotations

from restart_trigger import rollout as rollout_module
from restart_trigger.backoff import Deadline
from restart_trigger.journal import Journal
from restart_trigger.lines import Lines
from restart_trigger.rollout import (
    earlier_of,
    fold,
    outputs_of,
    roll_out,
    settings_of,
    verify_specs,
)
from restart_trigger.runner import Outcome, Rollout, Unknown
from restart_trigger.targets import SUCCEEDED, ChangeStatus

URN = "urn:pulumi:dev::proj::pulumi-python:dynamic/restart:RestartTrigger::orders"
TARGETS = [{"kind": "edas", "app_id": "a"}, {"kind": "edas", "app_id": "b"}]


def test_the_rollout_settings_of_inputs_fill_in_the_defaults():
    settings = settings_of({"targets": TARGETS, "hash": "h"})
    assert (settings.rollout, settings.wait, settings.timeout) == (Rollout(), True, 1800.0)
    custom = settings_of(
        {"max_parallel": 2, "canary": 1, "max_failures": 3, "wait": False, "timeout": 5}
    )
    assert custom.rollout == Rollout(max_parallel=2, canary=1, max_failures=3)
    assert (custom.wait, custom.timeout) == (False, 5.0)


def test_a_restart_replaces_the_record_and_the_outputs_derive_from_progress():
    done = Outcome("edas:a", change_id="co-1", request_id="r", status=ChangeStatus(SUCCEEDED, "ok"))
    progress = fold({}, [done], "h2", "2026-01-01T00:00:00Z")
    assert progress == {
        "edas:a": {
            "hash": "h2",
            "change_id": "co-1",
            "request_id": "r",
            "status": "succeeded",
            "restarted_at": "2026-01-01T00:00:00Z",
        }
    }
    outs = outputs_of({"targets": TARGETS, "hash": "h2"}, progress, ["edas:b"], "h2")
    assert outs["change_order_ids"] == {"edas:a": "co-1"} and outs["owed"] == ["edas:b"]
    assert outs["change_order_id"] == "" and outs["restarted_hash"] == "h2"


def test_a_resolved_unknown_that_then_failed_leaves_nothing_stale_to_adopt():
    previous = {
        "edas:a": {
            "hash": "h1",
            "change_id": "co-1",
            "unknown_hash": "h2",
            "unknown_snapshot": ["co-1"],
            "unknown_sent_at": "2026-01-01T00:00:00.000Z",
        }
    }
    refused = Outcome("edas:a", error="restart refused: Forbidden")
    assert fold(previous, [refused], "h2", "now") == {"edas:a": {"hash": "h1", "change_id": "co-1"}}
    not_started = Outcome("edas:a", error="not started", started=False)
    assert fold(previous, [not_started], "h2", "now") == previous


def test_the_send_journal_of_a_killed_up_is_read_for_the_same_hash(tmp_path):
    environ = {"RESTART_TRIGGER_JOURNAL_DIR": str(tmp_path)}
    written = Journal(URN, "rt-1", environ=environ)
    written.sending("edas:app-1", "h2", frozenset({"co-0"}), 10.0)
    written.accepted("edas:app-1", "h2", "co-1")
    written.sending("edas:app-2", "h2", frozenset({"co-9"}), 11.0)
    written.sending("edas:app-3", "h1", frozenset(), 12.0)
    journal = Journal(URN, "rt-1", environ=environ)
    unsettled, unknown = earlier_of({}, "h2", journal, ["edas:app-1", "edas:app-2", "edas:app-3"])
    assert unsettled == {"edas:app-1": "co-1"}
    assert unknown == {"edas:app-2": Unknown(frozenset({"co-9"}), 11.0)}


# -- verification: a restart that did not pass is kept as restarted-but-unverified ----------


URL = "http://127.0.0.1:9/health"


DONE = ChangeStatus(SUCCEEDED, "EDAS status 2 (success)")


VERIFY = {"http": [{"url": URL}], "cloud": False, "within": 30, "interval": 2, "successes": 1}


def olds_with(progress, owed):
    return {"hash": "h2", "targets": TARGETS, "verify": VERIFY, "progress": progress, "owed": owed}


def unverified_outcome():
    return Outcome(
        "edas:a", change_id="co-1", request_id="r-1", status=DONE, verify_error="not verified: x"
    )


def test_a_restart_that_failed_verification_is_recorded_as_restarted_but_unverified():
    progress = fold({}, [unverified_outcome()], "h2", "now")
    assert progress == {
        "edas:a": {
            "hash": "h2",
            "change_id": "co-1",
            "request_id": "r-1",
            "status": "succeeded",
            "restarted_at": "now",
            "unverified_hash": "h2",
            "unverified_reason": "not verified: x",
        }
    }
    props = {"hash": "h2", "targets": [{"kind": "edas", "app_id": "a"}]}
    outs = outputs_of(props, progress, ["edas:a"], "h2")
    assert outs["owed"] == ["edas:a"]
    assert outs["progress"]["edas:a"]["unverified_hash"] == "h2"
    assert outs["statuses"] == {"edas:a": "succeeded"}  # the change itself succeeded


def test_verifying_again_keeps_the_restart_and_records_the_result():
    before = fold({}, [unverified_outcome()], "h2", "t1")
    passed = Outcome("edas:a", change_id="co-1", status=DONE, reverify=True, verified=True)
    after = fold(before, [passed], "h2", "t2")
    assert after == {
        "edas:a": {
            "hash": "h2",
            "change_id": "co-1",
            "request_id": "r-1",
            "status": "succeeded",
            "restarted_at": "t1",  # when it restarted, not when it was verified
            "verified_at": "t2",
        }
    }
    failed_again = Outcome(
        "edas:a", change_id="co-1", status=DONE, reverify=True, verify_error="still: y"
    )
    assert fold(before, [failed_again], "h2", "t2")["edas:a"]["unverified_reason"] == "still: y"


def test_a_passed_verification_records_when():
    passed = Outcome("edas:a", change_id="co-1", status=DONE, verified=True)
    assert fold({}, [passed], "h2", "now")["edas:a"]["verified_at"] == "now"


def test_roll_out_verifies_again_without_asking_the_journal_and_passes_the_specs(monkeypatch):
    seen = {}

    def fake_run(client, todo, **kwargs):
        seen.update(kwargs)
        return [
            Outcome("edas:a", change_id="co-1", status=DONE, reverify=True, verified=True),
            Outcome("edas:b", change_id="co-2", status=DONE, verified=True),
        ]

    class Journal:
        def earlier(self, key, hash_):
            from restart_trigger.journal import Sent

            return Sent(hash_, frozenset(), 1.0, "co-journal")

    monkeypatch.setattr(rollout_module, "run_rollout", fake_run)
    progress = {
        "edas:a": {"hash": "h2", "change_id": "co-1", "unverified_hash": "h2"},
        "edas:b": {"hash": "h1", "change_id": "co-0"},
    }
    props = {"hash": "h2", "targets": TARGETS, "verify": VERIFY, "wait": True, "timeout": 60}
    result = roll_out(
        None,
        props,
        olds_with(progress, ["edas:a", "edas:b"]),
        ("edas:a", "edas:b"),
        deadline=Deadline(60),
        lines=Lines("api", lambda _: None),
        journal=Journal(),
        now=lambda: "t2",
    )
    assert seen["unverified"] == {"edas:a": "co-1"}
    assert "edas:a" not in seen["unsettled"]  # the journal's change is not waited for again
    assert set(seen["verify_for"]) == {"edas:a", "edas:b"}
    assert result.failure is None and result.outputs["owed"] == []
    assert "unverified_hash" not in result.outputs["progress"]["edas:a"]
    assert result.outputs["progress"]["edas:a"]["verified_at"] == "t2"
    assert result.outputs["restarted_hash"] == "h2"


def test_a_targets_own_verify_replaces_the_triggers_and_false_turns_it_off():
    props = {
        "hash": "h",
        "verify": VERIFY,
        "targets": [
            {"kind": "edas", "app_id": "a"},
            {"kind": "edas", "app_id": "b", "verify": {"cloud": True}},
            {"kind": "edas", "app_id": "c", "verify": False},
        ],
    }
    specs = verify_specs(props)
    assert set(specs) == {"edas:a", "edas:b"}
    assert specs["edas:a"].probes[0].path == "verify.http[0]"
    assert specs["edas:b"].cloud and not specs["edas:b"].probes
    assert specs["edas:b"].path == "targets[1].verify"


def test_why_due_says_what_each_front_door_shows_for_a_due_target():
    from restart_trigger.rollout import ADDED, EARLIER_UNSETTLED, HASH_CHANGED, OWED, why_due

    key = "sae:a-1"
    assert why_due({"hash": "h1"}, {"hash": "h2"}, key) == HASH_CHANGED
    assert why_due({"hash": "h1", "owed": [key]}, {"hash": "h1"}, key) == OWED
    assert why_due({"hash": "h1"}, {"hash": "h1"}, key) == ADDED
    unsettled = {
        "hash": "h1",
        "progress": {key: {"unsettled_change_id": "c", "unsettled_hash": "h2"}},
    }
    assert why_due(unsettled, {"hash": "h2"}, key) == EARLIER_UNSETTLED
