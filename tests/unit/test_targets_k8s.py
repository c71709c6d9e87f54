"""restart_trigger.targets.k8s: EDAS applications in Kubernetes clusters: the strategy in words,
statuses read as EDAS change orders are, and a restart that waits while another change order
runs."""

from __future__ import annotations

import json

import pytest

from restart_trigger.aliyun import BusinessError, RestartResult
from restart_trigger.backoff import Deadline
from restart_trigger.targets.k8s import EdasK8sTarget, pod_ready, pods_ready
from restart_trigger.validation import UNKNOWN

# --- preview wording ------------------------------------------------------------------------------


def test_k8s_strategy_in_words():
    assert EdasK8sTarget.strategy({"app_id": "a"}) == "all pods, EDAS's change timeout"
    assert EdasK8sTarget.strategy({"app_id": "a", "timeout": 300.0}) == (
        "all pods, change timeout 300s"
    )
    assert EdasK8sTarget.strategy({"app_id": "a", "timeout": UNKNOWN}) == (
        "all pods, change timeout (known after apply)s"
    )


# --- statuses -------------------------------------------------------------------------------------


def test_k8s_status_reads_as_edas_change_orders_do():
    class Client:
        def read(self, op, query, deadline=None):
            assert (op.action, query) == ("GetChangeOrderInfo", {"ChangeOrderId": "co-1"})
            return {"changeOrderInfo": {"Status": 3, "TaskErrorMessage": "pods not ready"}}

    status = EdasK8sTarget("app-1").status(Client(), "co-1")
    assert (status.state, status.message) == ("failed", "pods not ready")
    assert status.detail == "EDAS status 3 (failed)"


# --- restarting once, waiting while busy ----------------------------------------------------------


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


# -- the cloud's view of the instances (verify: {cloud: true}) --------------------------------


def pod(phase="Running", ready="True", deleting=False, name="p-1"):
    metadata = {"name": name, **({"deletionTimestamp": "2026-01-01T00:00:00Z"} if deleting else {})}
    return {
        "metadata": metadata,
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": ready}]},
    }


def test_a_pod_is_ready_when_running_ready_and_not_being_deleted():
    assert pod_ready(pod())
    assert not pod_ready(pod(phase="Pending"))
    assert not pod_ready(pod(ready="False"))
    assert not pod_ready(pod(deleting=True))
    assert not pod_ready({})


def test_edas_k8s_reads_each_pods_raw_json():
    instances = [
        {"PodRaw": json.dumps(pod())},
        {"PodRaw": json.dumps(pod(ready="False", name="p-2"))},
    ]
    view = pods_ready(instances)
    assert not view.ready
    assert view.detail.endswith("; not ready: p-2 (phase Running, Ready False)")
    assert pods_ready([{"PodRaw": json.dumps(pod())}]).ready
    assert not pods_ready([]).ready
    assert not pods_ready([{"PodRaw": "not json"}]).ready
