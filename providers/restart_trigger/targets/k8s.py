"""EDAS applications in Kubernetes clusters (ACK, ASK): restarted with
``RestartK8sApplication``, waited for with ``GetChangeOrderInfo`` like EDAS applications in
ECS clusters (EDAS 2017-08-01)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from restart_trigger.aliyun import AliyunClient, BusinessError, RestartResult
from restart_trigger.aliyun.client import Operation
from restart_trigger.aliyun.params import items, optional_int, require_id
from restart_trigger.backoff import Deadline
from restart_trigger.targets.base import ChangeStatus, InputSpec, InstancesView, Target
from restart_trigger.targets.edas import (
    EDAS_VERSION,
    EdasChanges,
    busy_change_order,
    change_order_id_of,
    decode_status,
    get_change_order_info,
)
from restart_trigger.validation import Failures, as_int, check_id, check_int, escaped, shown

if TYPE_CHECKING:
    import pulumi

RESTART_K8S_APPLICATION = Operation(
    "edas", "RestartK8sApplication", "POST", "/pop/v5/k8s/acs/restart_k8s_app", EDAS_VERSION
)
DESCRIBE_APP_INSTANCE_LIST = Operation(
    "edas", "DescribeAppInstanceList", "GET", "/pop/v5/oam/app_instance_list", EDAS_VERSION
)
"""The cloud's view of a Kubernetes application's pods (``verify: {cloud: true}``): query
``AppId``; ``InstanceList[]``, each with ``PodRaw``, the pod as Kubernetes gives it (a JSON
string: ``status.phase``, ``status.conditions[type=Ready].status``,
``metadata.deletionTimestamp``), as alibabacloud-edas20170801
``DescribeAppInstanceListResponseBodyInstanceList`` and the API page describe it."""
K8S_TIMEOUT_RANGE = (1, 1800)
"""``Timeout`` of ``RestartK8sApplication``, in seconds. Its SDK docstring gives only the unit;
the sibling ``StartK8sApplication``/``StopK8sApplication`` documentation gives 1 to 1800
(default 600), the bound used here."""
K8S_CHANGES = EdasChanges(
    restart_action="RestartK8sApplication", noun="EDAS Kubernetes application"
)
"""Change orders of an application in Kubernetes are listed as any EDAS application's."""


@dataclass(frozen=True)
class EdasK8sApplication(InputSpec):
    """An EDAS application in a Kubernetes cluster, restarted with ``RestartK8sApplication``.

    Args:
        app_id: the application id (``ListApplication`` shows it); may be an Output.
        timeout: the change process's own timeout, in seconds (1-1800); default: EDAS's.
        verify: this target's own ``verify`` (a ``restart_trigger.Verify`` or a mapping),
            instead of the trigger's; ``False``: none for this target.
    """

    kind: ClassVar[str] = "edas-k8s"

    app_id: pulumi.Input[str]
    timeout: pulumi.Input[int] | None = None
    verify: Any = None


@dataclass(frozen=True)
class EdasK8sTarget(Target):
    """The provider's view of an :class:`EdasK8sApplication`: checked, plain values."""

    app_id: str
    timeout: int | None = None

    kind: ClassVar[str] = "edas-k8s"
    id_field: ClassVar[str] = "app_id"
    fields: ClassVar[frozenset[str]] = frozenset({"kind", "app_id", "timeout"})
    title: ClassVar[str] = "EDAS K8s app"
    restart_action: ClassVar[str] = "RestartK8sApplication"
    changes: ClassVar[EdasChanges] = K8S_CHANGES
    instances_action: ClassVar[str] = "DescribeAppInstanceList"

    @classmethod
    def validate(cls, raw: Mapping[str, Any], path: str, failures: Failures) -> None:
        check_id(raw.get("app_id"), f"{path}.app_id", "EDAS application id", failures)
        low, high = K8S_TIMEOUT_RANGE
        check_int(raw.get("timeout"), f"{path}.timeout", failures, low=low, high=high)

    @classmethod
    def from_input(cls, raw: Mapping[str, Any]) -> EdasK8sTarget:
        return cls(app_id=raw["app_id"], timeout=as_int(raw.get("timeout")))

    @classmethod
    def strategy(cls, raw: Mapping[str, Any]) -> str:
        timeout = raw.get("timeout")
        if timeout is None:
            return "all pods, EDAS's change timeout"
        return f"all pods, change timeout {shown(timeout)}s"

    def call_restart_api(self, client: AliyunClient, known_change_ids: list[str]) -> RestartResult:
        return restart_k8s_application(
            client, self.app_id, timeout=self.timeout, known_change_ids=known_change_ids
        )

    def is_busy(self, client: AliyunClient, refusal: BusinessError) -> bool:
        return busy_change_order(client, self.app_id)

    def status(self, client: AliyunClient, change_id: str) -> ChangeStatus:
        return decode_status(get_change_order_info(client, change_id))

    def instances(self, client: AliyunClient, deadline: Deadline) -> InstancesView:
        return pods_ready(describe_app_instance_list(client, self.app_id, deadline))


def restart_k8s_application(
    client: AliyunClient,
    app_id: str,
    timeout: int | None = None,
    *,
    known_change_ids: Iterable[str] | str | None = (),
) -> RestartResult:
    """Restart an EDAS application in a Kubernetes cluster (``RestartK8sApplication``).

    ``timeout`` is the change process's own timeout in seconds (``K8S_TIMEOUT_RANGE``), sent
    as the ``Timeout`` query parameter; ``None`` leaves EDAS's default. Recovery, snapshot
    (``ListRecentChangeOrder(AppId)``) and errors as ``edas.restart_application``; wait for it
    with ``edas.get_change_order_info``.
    """
    app_id = require_id("app_id", app_id)
    query = {"AppId": app_id, "Timeout": optional_int("timeout", timeout, *K8S_TIMEOUT_RANGE)}
    return client.request_restart(
        RESTART_K8S_APPLICATION,
        app_id,
        K8S_CHANGES,
        query=query,
        extract=change_order_id_of,
        known_change_ids=known_change_ids,
    )


def describe_app_instance_list(
    client: AliyunClient, app_id: str, deadline: Deadline | None = None
) -> list[dict]:
    """Return ``InstanceList`` (possibly empty) of an EDAS application in a Kubernetes cluster
    (``DescribeAppInstanceList``)."""
    query = {"AppId": require_id("app_id", app_id)}
    data = client.read(DESCRIBE_APP_INSTANCE_LIST, query, deadline)
    return items(data.get("InstanceList"), "InstanceList", data.get("RequestId"))


def _pod(instance: Mapping[str, Any]) -> Mapping[str, Any]:
    raw = instance.get("PodRaw")
    if isinstance(raw, Mapping):
        return raw
    try:
        pod = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return {}
    return pod if isinstance(pod, Mapping) else {}


def pod_ready(pod: Mapping[str, Any]) -> bool:
    """A pod is ready when it runs (``status.phase`` Running), its ``Ready`` condition is
    ``True`` and it is not being deleted (``metadata.deletionTimestamp``)."""
    status = pod.get("status") if isinstance(pod.get("status"), Mapping) else {}
    metadata = pod.get("metadata") if isinstance(pod.get("metadata"), Mapping) else {}
    conditions = status.get("conditions") if isinstance(status.get("conditions"), list) else []
    ready = any(
        isinstance(c, Mapping) and c.get("type") == "Ready" and str(c.get("status")) == "True"
        for c in conditions
    )
    return status.get("phase") == "Running" and ready and not metadata.get("deletionTimestamp")


def pods_ready(instances: list[dict]) -> InstancesView:
    """Read ``InstanceList`` of ``DescribeAppInstanceList``: ready when there are pods and
    every one is ready (``pod_ready``); the first pod that is not is named."""
    fields = "EDAS DescribeAppInstanceList PodRaw status.phase/conditions Ready"
    if not instances:
        return InstancesView(False, f"the application has no pods ({fields})")
    pods = [_pod(i) for i in instances]
    not_ready = [p for p in pods if not pod_ready(p)]
    detail = f"{len(pods) - len(not_ready)} of {len(pods)} pod(s) ready ({fields})"
    if not_ready:
        first = not_ready[0]
        metadata = first.get("metadata") if isinstance(first.get("metadata"), Mapping) else {}
        name = metadata.get("name")
        status = first.get("status") if isinstance(first.get("status"), Mapping) else {}
        conditions = status.get("conditions") if isinstance(status.get("conditions"), list) else []
        ready = next(
            (
                c.get("status")
                for c in conditions
                if isinstance(c, Mapping) and c.get("type") == "Ready"
            ),
            None,
        )
        detail += (
            f"; not ready: {clean_name(name)} (phase {clean_name(status.get('phase'))}, "
            f"Ready {clean_name(ready)})"
        )
    return InstancesView(not not_ready, detail)


def clean_name(value: Any) -> str:
    """A name from an answer, short and printable."""
    return escaped("?" if value is None else value)[:80]
