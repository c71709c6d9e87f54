"""rollout: the core both front doors call: settings, what earlier updates left, the fold of
outcomes into state, the outputs. Pure, so tested without a server."""

from __future__ import annotations

from restart_trigger.journal import Journal
from restart_trigger.rollout import earlier_of, fold, outputs_of, settings_of
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
