"""The SAE and EDAS Kubernetes kinds of target: their inputs checked at preview (each failure
naming its field), their statuses read, their refusals while busy, their preview wording, and
a trigger mixing all four kinds."""

from __future__ import annotations

import pytest

from restart_trigger.aliyun import BusinessError, RestartResult
from restart_trigger.backoff import Deadline
from restart_trigger.targets import (
    KINDS,
    EdasK8sApplication,
    SaeApplication,
    parse_targets,
    target_keys,
    view_targets,
)
from restart_trigger.targets.edas import EdasTarget
from restart_trigger.targets.k8s import EdasK8sTarget
from restart_trigger.targets.sae import BUSY_CODES, SaeTarget, decode_change_order
from restart_trigger.targets.webplus import WebPlusTarget
from restart_trigger.validation import UNKNOWN

APP = "0099b7be-5f5b-4512-a7fc-56049ef1a2b3"


def failures_of(entry: dict) -> list[tuple[str, str]]:
    return parse_targets([entry]).failures.items


# --- the kinds ----------------------------------------------------------------------------------


def test_the_kinds_their_titles_and_restart_actions():
    assert list(KINDS) == ["edas", "webplus", "sae", "edas-k8s"]
    assert (SaeTarget.title, SaeTarget.restart_action) == ("SAE app", "RestartApplication")
    assert (EdasK8sTarget.title, EdasK8sTarget.restart_action) == (
        "EDAS K8s app",
        "RestartK8sApplication",
    )


def test_the_input_classes_write_their_kind_and_only_the_fields_set():
    assert SaeApplication(APP).to_input() == {"kind": "sae", "app_id": APP}
    assert SaeApplication(
        APP,
        min_ready_instances=2,
        min_ready_instance_ratio=50,
        auto_enable_application_scaling_rule=False,
    ).to_input() == {
        "kind": "sae",
        "app_id": APP,
        "min_ready_instances": 2,
        "min_ready_instance_ratio": 50,
        "auto_enable_application_scaling_rule": False,
    }
    assert EdasK8sApplication("app-1").to_input() == {"kind": "edas-k8s", "app_id": "app-1"}
    assert EdasK8sApplication("app-1", timeout=600).to_input() == {
        "kind": "edas-k8s",
        "app_id": "app-1",
        "timeout": 600,
    }


def test_the_public_package_exports_both_input_classes():
    import restart_trigger

    assert restart_trigger.SaeApplication is SaeApplication
    assert restart_trigger.EdasK8sApplication is EdasK8sApplication
    assert {"SaeApplication", "EdasK8sApplication"} <= set(restart_trigger.__all__)


def test_a_trigger_mixes_all_four_kinds_each_keyed_by_its_kind():
    raw = [
        {"app_id": "app-1"},  # no kind: an EDAS application, as before
        {"env_id": "we-1"},
        SaeApplication(APP, min_ready_instances=1.0).to_input(),  # Pulumi sends floats
        EdasK8sApplication("app-1", timeout=60.0).to_input(),
    ]
    parsed = parse_targets(raw)
    assert parsed.failures.items == []
    assert parsed.targets == [
        EdasTarget("app-1"),
        WebPlusTarget("we-1"),
        SaeTarget(APP, min_ready_instances=1),
        EdasK8sTarget("app-1", timeout=60),
    ]
    assert [t.key for t in parsed.targets] == [
        "edas:app-1",
        "webplus:we-1",
        f"sae:{APP}",
        "edas-k8s:app-1",
    ]
    assert [entry["kind"] for entry in parsed.normalized] == ["edas", "webplus", "sae", "edas-k8s"]
    assert target_keys(parsed.normalized) == sorted(t.key for t in parsed.targets)
    views = view_targets(parsed.normalized)
    assert [(v.kind, v.label) for v in views] == [
        ("edas", "EDAS app app-1"),
        ("webplus", "Web+ env we-1"),
        ("sae", f"SAE app {APP}"),
        ("edas-k8s", "EDAS K8s app app-1"),
    ]


def test_the_same_app_twice_in_one_kind_is_a_duplicate():
    parsed = parse_targets([{"kind": "sae", "app_id": APP}, {"kind": "sae", "app_id": APP}])
    assert parsed.failures.items == [
        ("targets[1]", f"duplicate target sae:{APP} (also targets[0])")
    ]


def test_an_unknown_app_id_lets_the_entry_through_unchecked():
    parsed = parse_targets([{"kind": "sae", "app_id": UNKNOWN, "min_ready_instances": UNKNOWN}])
    assert parsed.failures.items == []
    assert parsed.targets == []
    assert [v.label for v in view_targets(parsed.normalized)] == ["SAE app (known after apply)"]


# --- validation at preview ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "field", "words"),
    [
        ({"kind": "sae", "app_id": ""}, "targets[0].app_id", "non-empty"),
        ({"kind": "sae"}, "targets[0].app_id", "must be a string"),
        ({"kind": "sae", "app_id": 7}, "targets[0].app_id", "must be a string"),
        ({"kind": "sae", "app_id": "app-1"}, "targets[0].app_id", "UUID"),
        ({"kind": "sae", "app_id": APP + "0"}, "targets[0].app_id", "UUID"),
        ({"kind": "sae", "app_id": f" {APP}"}, "targets[0].app_id", "whitespace"),
        ({"kind": "sae", "app_id": f"{APP},{APP}"}, "targets[0].app_id", "commas"),
        (
            {"kind": "sae", "app_id": APP, "min_ready_instances": -2},
            "targets[0].min_ready_instances",
            "at least -1",
        ),
        (
            {"kind": "sae", "app_id": APP, "min_ready_instances": 1.5},
            "targets[0].min_ready_instances",
            "whole number",
        ),
        (
            {"kind": "sae", "app_id": APP, "min_ready_instances": True},
            "targets[0].min_ready_instances",
            "whole number",
        ),
        (
            {"kind": "sae", "app_id": APP, "min_ready_instances": "2"},
            "targets[0].min_ready_instances",
            "whole number",
        ),
        (
            {"kind": "sae", "app_id": APP, "min_ready_instance_ratio": 101},
            "targets[0].min_ready_instance_ratio",
            "between -1 and 100",
        ),
        (
            {"kind": "sae", "app_id": APP, "min_ready_instance_ratio": -5},
            "targets[0].min_ready_instance_ratio",
            "between -1 and 100",
        ),
        (
            {"kind": "sae", "app_id": APP, "auto_enable_application_scaling_rule": "yes"},
            "targets[0].auto_enable_application_scaling_rule",
            "true or false",
        ),
        (
            {"kind": "sae", "app_id": APP, "batch_size": 2},
            "targets[0].batch_size",
            "unknown field for a sae target",
        ),
        ({"kind": "sae", "env_id": "we-1"}, "targets[0]", "takes no env_id"),
        ({"kind": "edas-k8s", "app_id": ""}, "targets[0].app_id", "non-empty"),
        ({"kind": "edas-k8s", "app_id": "a b"}, "targets[0].app_id", "whitespace"),
        ({"kind": "edas-k8s", "app_id": "a", "timeout": -1}, "targets[0].timeout", "between 1"),
        ({"kind": "edas-k8s", "app_id": "a", "timeout": 0}, "targets[0].timeout", "between 1"),
        (
            {"kind": "edas-k8s", "app_id": "a", "timeout": 1801},
            "targets[0].timeout",
            "between 1 and 1800",
        ),
        ({"kind": "edas-k8s", "app_id": "a", "timeout": 2.5}, "targets[0].timeout", "whole"),
        ({"kind": "edas-k8s", "app_id": "a", "ecc_ids": ["e"]}, "targets[0].ecc_ids", "unknown"),
        ({"kind": "k8s", "app_id": "a"}, "targets[0].kind", "'edas-k8s'"),
    ],
)
def test_bad_sae_and_k8s_fields_are_refused_naming_the_field(entry, field, words):
    found = failures_of(entry)
    assert any(path == field and words in reason for path, reason in found), found


@pytest.mark.parametrize(
    "entry",
    [
        {"kind": "sae", "app_id": APP},
        {"kind": "sae", "app_id": APP.upper()},
        {"kind": "sae", "app_id": APP, "min_ready_instances": -1},  # SAE's choice
        {"kind": "sae", "app_id": APP, "min_ready_instances": 0},  # interruption allowed
        {"kind": "sae", "app_id": APP, "min_ready_instances": 40},
        {"kind": "sae", "app_id": APP, "min_ready_instance_ratio": -1},  # not used
        {"kind": "sae", "app_id": APP, "min_ready_instance_ratio": 0},
        {"kind": "sae", "app_id": APP, "min_ready_instance_ratio": 100},
        # not exclusive: the API takes both, and the ratio (0-100) wins
        {"kind": "sae", "app_id": APP, "min_ready_instances": 2, "min_ready_instance_ratio": 50},
        {"kind": "sae", "app_id": APP, "auto_enable_application_scaling_rule": True},
        {"kind": "edas-k8s", "app_id": "0099b7be-5f5b-4512-a7fc-56049ef1a2b3"},
        {"kind": "edas-k8s", "app_id": "app-1", "timeout": 1},
        {"kind": "edas-k8s", "app_id": "app-1", "timeout": 1800},
        {"kind": "edas-k8s", "app_id": "app-1", "timeout": 600.0},
    ],
)
def test_values_the_apis_document_are_accepted(entry):
    assert failures_of(entry) == []


def test_sae_fields_without_a_kind_say_which_kind_to_write():
    ((path, reason),) = failures_of({"app_id": APP, "min_ready_instances": 1})
    assert path == "targets[0].min_ready_instances"
    assert "set kind: sae for an SAE app" in reason
    ((path, reason),) = failures_of({"app_id": "a", "timeout": 60})
    assert "set kind: edas-k8s for an EDAS K8s app" in reason


def test_a_missing_target_names_every_kind_and_how_to_write_it():
    ((path, reason),) = parse_targets(None).failures.items
    assert "[{kind: sae, app_id: ...}]" in reason and "[{kind: edas-k8s, app_id: ...}]" in reason
    ((path, reason),) = failures_of({"ecc_ids": []})
    assert "SaeApplication(app_id=...)" in reason and "EdasK8sApplication(app_id=...)" in reason


# --- preview wording ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "text"),
    [
        ({}, "SAE's default ready instances"),
        ({"min_ready_instances": -1}, "SAE-recommended ready instances (25%)"),
        ({"min_ready_instances": 0}, "no instance kept ready (interruption allowed)"),
        ({"min_ready_instances": 2.0}, "keep 2 instance(s) ready"),
        ({"min_ready_instances": UNKNOWN}, "keep (known after apply) instances ready"),
        ({"min_ready_instance_ratio": 50}, "keep 50% of instances ready"),
        ({"min_ready_instance_ratio": -1, "min_ready_instances": 3}, "keep 3 instance(s) ready"),
        (
            {"min_ready_instance_ratio": 50, "min_ready_instances": 3},
            "keep 50% of instances ready, (over min_ready_instances 3)",
        ),
        (
            {"auto_enable_application_scaling_rule": True},
            "SAE's default ready instances, auto scaling re-enabled: true",
        ),
    ],
)
def test_sae_strategy_in_words(entry, text):
    assert SaeTarget.strategy({"kind": "sae", "app_id": APP, **entry}) == text


def test_k8s_strategy_in_words():
    assert EdasK8sTarget.strategy({"app_id": "a"}) == "all pods, EDAS's change timeout"
    assert EdasK8sTarget.strategy({"app_id": "a", "timeout": 300.0}) == (
        "all pods, change timeout 300s"
    )
    assert EdasK8sTarget.strategy({"app_id": "a", "timeout": UNKNOWN}) == (
        "all pods, change timeout (known after apply)s"
    )


# --- statuses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state", "words"),
    [
        (0, "running", "preparing"),
        (1, "running", "running"),
        (2, "succeeded", "succeeded"),
        (3, "failed", "failed"),
        (6, "failed", "terminated"),
        (8, "paused", "manual confirmation"),
        (9, "running", "automatic batch"),
        (10, "failed", "system exception"),
        (11, "paused", "pending approval"),
        (12, "running", "approved, waiting to run"),
        (42, "running", "unknown status, still waiting"),
        ("2", "succeeded", "succeeded"),
        (None, "unknown", "not a number"),
        ("soon", "unknown", "not a number"),
    ],
)
def test_every_sae_status(status, state, words):
    decoded = decode_change_order({"Status": status, "SubStatus": 0})
    assert decoded.state == state
    assert decoded.detail.startswith(f"SAE status {status!r}" if state == "unknown" else "SAE")
    assert words in decoded.detail


def test_sae_failures_are_final_at_once_and_carry_the_error_message():
    for code in (3, 6, 10):
        status = decode_change_order({"Status": code, "ErrorMessage": " image pull failed "})
        assert status.finished and status.state == "failed"
        assert status.message == "image pull failed"
    assert decode_change_order({"Status": 2, "ErrorMessage": "old note"}).message == ""


def test_sae_sub_status_1_while_running_is_surfaced():
    status = decode_change_order({"Status": 1, "SubStatus": 1, "ErrorMessage": "batch 2 failed"})
    assert status.state == "paused" and not status.finished
    assert status.detail.startswith("SAE status 1 (running), sub-status 1 (abnormal")
    assert "roll back or abort" in status.detail
    assert status.message == "batch 2 failed"
    assert decode_change_order({"Status": 1, "SubStatus": "1"}).state == "paused"
    assert decode_change_order({"Status": 1, "SubStatus": 0}).state == "running"
    assert "sub-status" not in decode_change_order({"Status": 1}).detail
    # a finished order reads as its status says, whatever its sub-status
    assert decode_change_order({"Status": 3, "SubStatus": 1}).state == "failed"
    assert decode_change_order({"Status": 2, "SubStatus": 1}).state == "succeeded"


def test_k8s_status_reads_as_edas_change_orders_do():
    class Client:
        def read(self, op, query, deadline=None):
            assert (op.action, query) == ("GetChangeOrderInfo", {"ChangeOrderId": "co-1"})
            return {"changeOrderInfo": {"Status": 3, "TaskErrorMessage": "pods not ready"}}

    status = EdasK8sTarget("app-1").status(Client(), "co-1")
    assert (status.state, status.message) == ("failed", "pods not ready")
    assert status.detail == "EDAS status 3 (failed)"


# --- restarting once, waiting while busy ----------------------------------------------------


class FakeClient:
    def __init__(self, refusals=(), orders=()):
        self.refusals = list(refusals)
        self.orders = list(orders)
        self.calls: list[tuple] = []

    def request_restart(self, op, ident, changes, *, query=None, known_change_ids=(), **_kw):
        """The client's restart entry point: records what the kind asked to send."""
        self.calls.append((op.action, ident, query, list(known_change_ids)))
        if self.refusals:
            raise self.refusals.pop(0)
        return RestartResult("change-1", "request-1")

    def read(self, op, query, deadline=None):
        if op.action == "ListRecentChangeOrder":
            return {"ChangeOrderList": {"ChangeOrder": self.orders}}
        assert op.action == "DescribeChangeOrder", op
        return {"Data": {"Status": 2}}


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def deadline(clock, seconds=100):
    return Deadline(seconds, clock=clock, sleep=clock.sleep)


def sae_refusal(code):
    return BusinessError(400, code, "An application change process is in progress.")


def test_sae_busy_codes_are_the_documented_ones():
    assert BUSY_CODES == {"Application.ChangerOrderRunning", "Application.InvalidStatus"}


@pytest.mark.parametrize("code", sorted(BUSY_CODES))
def test_sae_waits_while_another_change_order_runs_then_restarts_once(code):
    client, clock = FakeClient([sae_refusal(code), sae_refusal(code)]), Clock()
    target = SaeTarget(APP, min_ready_instances=1, auto_enable_application_scaling_rule=True)
    result = target.request_restart(client, known_change_ids=["old"], deadline=deadline(clock))
    assert result.change_id == "change-1"
    assert len(client.calls) == 3 and len(clock.sleeps) == 2
    assert client.calls[-1] == (
        "RestartApplication",
        APP,
        {
            "AppId": APP,
            "MinReadyInstances": "1",
            "MinReadyInstanceRatio": None,
            "AutoEnableApplicationScalingRule": "True",
        },
        ["old"],
    )


@pytest.mark.parametrize(
    "code", ["InvalidApplication.NotFound", "Application.NotDeployYet", "InvalidParameter"]
)
def test_sae_other_refusals_fail_at_once(code):
    client, clock = FakeClient([sae_refusal(code)]), Clock()
    with pytest.raises(BusinessError, match=code.replace(".", r"\.")):
        SaeTarget(APP).request_restart(client, known_change_ids=[], deadline=deadline(clock))
    assert len(client.calls) == 1


def test_sae_gives_up_waiting_when_the_deadline_comes():
    client, clock = FakeClient([sae_refusal("Application.ChangerOrderRunning")] * 100), Clock()
    with pytest.raises(BusinessError, match="ChangerOrderRunning"):
        SaeTarget(APP).request_restart(client, known_change_ids=[], deadline=deadline(clock, 20))
    assert clock.now <= 20


@pytest.mark.parametrize("status", [0, 1, 8, 9])
def test_k8s_waits_while_an_edas_change_order_is_in_progress(status):
    refusal = BusinessError(200, "603", "another change order is in progress")
    client = FakeClient([refusal], orders=[{"ChangeOrderId": "co-0", "Status": status}])
    clock = Clock()
    result = EdasK8sTarget("app-1", timeout=60).request_restart(
        client, known_change_ids=[], deadline=deadline(clock)
    )
    assert result.change_id == "change-1"
    assert len(client.calls) == 2
    assert client.calls[-1] == (
        "RestartK8sApplication",
        "app-1",
        {"AppId": "app-1", "Timeout": "60"},
        [],
    )


@pytest.mark.parametrize("status", [2, 3, 6, 10])
def test_k8s_refusal_without_a_change_order_in_progress_fails_at_once(status):
    refusal = BusinessError(200, "601", "application not found")
    client = FakeClient([refusal], orders=[{"ChangeOrderId": "co-0", "Status": status}])
    with pytest.raises(BusinessError, match="601"):
        EdasK8sTarget("app-1").request_restart(
            client, known_change_ids=[], deadline=deadline(Clock())
        )
    assert len(client.calls) == 1
