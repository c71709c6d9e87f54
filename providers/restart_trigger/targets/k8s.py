"""EDAS applications in Kubernetes clusters (ACK, ASK): restarted with
``RestartK8sApplication``, waited for with ``GetChangeOrderInfo`` like EDAS applications in
ECS clusters (EDAS 2017-08-01)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from restart_trigger.aliyun import AliyunClient, BusinessError, RestartResult
from restart_trigger.aliyun.client import Operation
from restart_trigger.aliyun.params import optional_int, require_id
from restart_trigger.targets.base import ChangeStatus, InputSpec, Target
from restart_trigger.targets.edas import (
    EDAS_VERSION,
    EdasChanges,
    busy_change_order,
    change_order_id_of,
    decode_status,
    get_change_order_info,
)
from restart_trigger.validation import Failures, as_int, check_id, check_int, shown

if TYPE_CHECKING:
    import pulumi

RESTART_K8S_APPLICATION = Operation(
    "edas", "RestartK8sApplication", "POST", "/pop/v5/k8s/acs/restart_k8s_app", EDAS_VERSION
)
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
    """

    kind: ClassVar[str] = "edas-k8s"

    app_id: pulumi.Input[str]
    timeout: pulumi.Input[int] | None = None


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
