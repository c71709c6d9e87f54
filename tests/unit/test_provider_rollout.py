"""provider._rollout: the restarts that happened reach state even when others failed, through
the server call when there is one, and the old way (loudly) when there is not."""

from __future__ import annotations

from contextlib import nullcontext

import pytest

from restart_trigger import provider as provider_module
from restart_trigger import rollout as rollout_module
from restart_trigger.inputs import RESTART_OUTPUTS
from restart_trigger.provider import RestartTriggerProvider
from restart_trigger.runner import Outcome, RestartFailed
from restart_trigger.targets import SUCCEEDED, ChangeStatus

TARGETS = [{"kind": "edas", "app_id": "app-1"}, {"kind": "edas", "app_id": "app-2"}]
NEWS = {"hash": "sha256:new", "targets": TARGETS, "wait": True, "timeout": 60, "__provider": "P"}
OLDS = {
    **NEWS,
    "hash": "sha256:old",
    "progress": {
        "edas:app-1": {"hash": "sha256:old", "change_id": "co-old-1", "status": "succeeded"},
        "edas:app-2": {"hash": "sha256:old", "change_id": "co-old-2", "status": "succeeded"},
    },
    "owed": [],
}
DONE = ChangeStatus(SUCCEEDED, "EDAS status 2 (success)")


class FakeCall:
    urn = "urn:pulumi:dev::proj::pulumi-python:dynamic/restart:RestartTrigger::orders"

    def __init__(self):
        self.sent = None

    def fail_with_outputs(self, resource_id, outputs, reason):
        self.sent = (resource_id, outputs, reason)
        raise RuntimeError("aborted")  # what the server's abort does: the call ends


@pytest.fixture
def rollout(monkeypatch):
    """Run provider callbacks with scripted outcomes and a chosen server call."""
    state = {"call": None, "outcomes": [], "lines": []}
    monkeypatch.setattr(provider_module.provider_server, "current_call", lambda: state["call"])
    monkeypatch.setattr(provider_module, "engine_sink", lambda urn: state["lines"].append)
    monkeypatch.setattr(RestartTriggerProvider, "_client", lambda self, props, d: nullcontext())

    def fake_run(client, targets, **kwargs):
        state["ran"] = [t.key for t in targets]
        return state["outcomes"]

    monkeypatch.setattr(rollout_module, "run_rollout", fake_run)
    return state


def test_a_partly_failed_update_answers_the_call_with_the_restarts_that_happened(rollout):
    call = rollout["call"] = FakeCall()
    rollout["outcomes"] = [
        Outcome("edas:app-1", change_id="co-1", request_id="r-1", status=DONE),
        Outcome("edas:app-2", change_id="co-2", error="restart outcome unknown: x"),
    ]
    with pytest.raises(RuntimeError, match="aborted"):
        RestartTriggerProvider().update("rt-1", OLDS, NEWS)
    resource_id, outputs, reason = call.sent
    assert resource_id == "rt-1"
    assert outputs["__provider"] == "P"  # or the next operation cannot load the provider
    assert outputs["hash"] == "sha256:new"
    assert outputs["owed"] == ["edas:app-2"]
    assert outputs["progress"]["edas:app-1"]["hash"] == "sha256:new"
    assert outputs["progress"]["edas:app-2"]["hash"] == "sha256:old"  # its last real restart
    assert outputs["change_order_ids"] == {"edas:app-1": "co-1", "edas:app-2": "co-old-2"}
    assert all(outputs[k] is not None for k in RESTART_OUTPUTS)  # None reads [unknown]
    assert "restarts only the 1 target(s) above" in reason


def test_without_a_server_call_it_fails_the_old_way_and_says_so(rollout):
    rollout["outcomes"] = [
        Outcome("edas:app-1", change_id="co-1", status=DONE),
        Outcome("edas:app-2", error="restart refused: no"),
    ]
    with pytest.raises(RestartFailed, match="restarts every target again"):
        RestartTriggerProvider().update("rt-1", OLDS, NEWS)
    assert any("warning: this provider host cannot keep" in line for line in rollout["lines"])


def test_when_nothing_restarted_the_state_is_left_as_it_was(rollout):
    call = rollout["call"] = FakeCall()
    rollout["outcomes"] = [
        Outcome("edas:app-1", error="restart refused: no"),
        Outcome("edas:app-2", error="not started: x", started=False),
    ]
    with pytest.raises(RestartFailed, match="Nothing restarted"):
        RestartTriggerProvider().update("rt-1", OLDS, NEWS)
    assert call.sent is None


def test_a_partly_failed_create_keeps_its_new_id(rollout):
    call = rollout["call"] = FakeCall()
    rollout["outcomes"] = [
        Outcome("edas:app-1", change_id="co-1", status=DONE),
        Outcome("edas:app-2", error="restart refused: no"),
    ]
    with pytest.raises(RuntimeError, match="aborted"):
        RestartTriggerProvider().create({**NEWS, "restart_on_create": True})
    resource_id, outputs, _ = call.sent
    assert resource_id.startswith("restart-trigger-")
    assert outputs["owed"] == ["edas:app-2"] and list(outputs["progress"]) == ["edas:app-1"]


def test_only_the_owed_targets_are_rolled_out(rollout):
    rollout["outcomes"] = [Outcome("edas:app-2", change_id="co-2", status=DONE)]
    olds = {**OLDS, "hash": "sha256:new", "owed": ["edas:app-2"]}
    olds["progress"] = {**OLDS["progress"], "edas:app-1": {"hash": "sha256:new"}}
    result = RestartTriggerProvider().update("rt-1", olds, NEWS)
    assert rollout["ran"] == ["edas:app-2"]
    assert result.outs["owed"] == []
    assert {p["hash"] for p in result.outs["progress"].values()} == {"sha256:new"}


def test_a_change_not_seen_to_finish_is_kept_to_be_waited_for_next_time(rollout, monkeypatch):
    rollout["outcomes"] = [
        Outcome("edas:app-1", change_id="co-1", status=DONE),
        Outcome("edas:app-2", change_id="co-2", error="timed out after 60s waiting"),
    ]
    call = rollout["call"] = FakeCall()
    with pytest.raises(RuntimeError, match="aborted"):
        RestartTriggerProvider().update("rt-1", OLDS, NEWS)
    outputs = call.sent[1]
    record = outputs["progress"]["edas:app-2"]
    assert (record["unsettled_change_id"], record["unsettled_hash"]) == ("co-2", "sha256:new")
    assert record["hash"] == "sha256:old" and outputs["owed"] == ["edas:app-2"]

    # the next up hands that change to the runner to wait for
    seen = {}

    def capture(client, targets, **kwargs):
        seen.update(kwargs["unsettled"])
        return [Outcome("edas:app-2", change_id="co-2", status=DONE)]

    monkeypatch.setattr(rollout_module, "run_rollout", capture)
    result = RestartTriggerProvider().update("rt-1", outputs, NEWS)
    assert seen == {"edas:app-2": "co-2"}
    assert (
        result.outs["owed"] == []
        and "unsettled_change_id" not in result.outs["progress"]["edas:app-2"]
    )


def test_a_single_change_not_seen_to_finish_is_kept_even_though_nothing_restarted(rollout):
    call = rollout["call"] = FakeCall()
    rollout["outcomes"] = [
        Outcome("edas:app-1", change_id="co-1", error="timed out after 60s waiting"),
        Outcome("edas:app-2", error="restart refused: no"),
    ]
    with pytest.raises(RuntimeError, match="aborted"):
        RestartTriggerProvider().update("rt-1", OLDS, NEWS)
    assert call.sent[1]["progress"]["edas:app-1"]["unsettled_change_id"] == "co-1"


def test_an_unknown_outcome_is_kept_in_state_and_handed_to_the_next_up_first(rollout, monkeypatch):
    from restart_trigger.runner import Unknown

    lost = Unknown(frozenset({"co-old-2", "co-x"}), 1_767_000_000.5, 60.0)
    rollout["outcomes"] = [
        Outcome("edas:app-1", change_id="co-1", status=DONE),
        Outcome("edas:app-2", error="restart outcome unknown: deadline", unknown=lost),
    ]
    call = rollout["call"] = FakeCall()
    with pytest.raises(RuntimeError, match="aborted"):
        RestartTriggerProvider().update("rt-1", OLDS, NEWS)
    outputs = call.sent[1]
    record = outputs["progress"]["edas:app-2"]
    assert record["unknown_hash"] == "sha256:new"
    assert record["unknown_snapshot"] == ["co-old-2", "co-x"]
    assert record["unknown_sent_at"] == "2025-12-29T09:20:00.500Z"
    assert record["unknown_settle_window"] == 60.0
    assert record["hash"] == "sha256:old" and outputs["owed"] == ["edas:app-2"]
    assert "outcome unknown: edas:app-2" in call.sent[2]

    seen = {}

    def capture(client, targets, **kwargs):
        seen.update(kwargs["unknown"])
        return [Outcome("edas:app-2", change_id="co-x2", status=DONE)]

    monkeypatch.setattr(rollout_module, "run_rollout", capture)
    result = RestartTriggerProvider().update("rt-1", outputs, NEWS)
    assert seen == {"edas:app-2": lost}
    assert not [k for k in result.outs["progress"]["edas:app-2"] if k.startswith("unknown_")]
