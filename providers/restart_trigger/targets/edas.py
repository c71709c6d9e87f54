"""EDAS applications in ECS clusters: restarted with ``RestartApplication``, waited for with
``GetChangeOrderInfo`` (EDAS 2017-08-01). Everything this kind knows is here: its fields and
checks, its operations and their parameters, the busy rule, how its change orders are listed
for a lost answer (``EDAS_CHANGES``, shared with EDAS applications in Kubernetes), and how a
change order's status reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from restart_trigger.aliyun import AliyunClient, BusinessError, RestartResult
from restart_trigger.aliyun.client import Operation
from restart_trigger.aliyun.params import clean_str, ids_of, items, require_id, section
from restart_trigger.aliyun.recovery import Reader, new_orders
from restart_trigger.backoff import Deadline
from restart_trigger.targets.base import (
    FAILED,
    PAUSED,
    RUNNING,
    SUCCEEDED,
    UNKNOWN_STATE,
    ChangeStatus,
    InputSpec,
    InstancesView,
    Target,
    batch_position,
    int_or_none,
)
from restart_trigger.validation import Failures, check_id, is_unknown, shown

if TYPE_CHECKING:
    import pulumi


EDAS_VERSION = "2017-08-01"
RESTART_APPLICATION = Operation(
    "edas", "RestartApplication", "POST", "/pop/v5/changeorder/co_restart", EDAS_VERSION
)
GET_CHANGE_ORDER_INFO = Operation(
    "edas", "GetChangeOrderInfo", "POST", "/pop/v5/changeorder/change_order_info", EDAS_VERSION
)
LIST_RECENT_CHANGE_ORDER = Operation(
    "edas", "ListRecentChangeOrder", "POST", "/pop/v5/changeorder/change_order_list", EDAS_VERSION
)
"""Read by EDAS restarts (ECS and Kubernetes): the snapshot before each send and the looks
after a lost answer."""
QUERY_APPLICATION_STATUS = Operation(
    "edas", "QueryApplicationStatus", "GET", "/pop/v5/app/app_status", EDAS_VERSION
)
"""The cloud's view of an ECS application's instances (``verify: {cloud: true}``): query
``AppId``; ``AppInfo.Application`` holds ``InstanceCount`` and ``RunningInstanceCount``
(alibabacloud-edas20170801 ``QueryApplicationStatusResponseBodyAppInfoApplication``; the API
page's "number of application instances" / "number of application instances that are
running")."""

MAX_ECC_IDS = 100
"""The most ECC ids one restart names. ``EccInfo`` travels in the query string, comma
separated; 100 ids (UUIDs, 37 characters with the comma) make 3.7 KB, which with the signed
parameters stays well under the 8 KiB request line HTTP gateways commonly accept (10,000 ids
got HTTP 414). To restart more instances, leave ``ecc_ids`` out (every instance) or split
them over several triggers."""


@dataclass(frozen=True)
class EdasChanges:
    """The ``ChangeList`` of an EDAS application (ECS or Kubernetes): its
    ``ListRecentChangeOrder``."""

    restart_action: str = "RestartApplication"
    noun: str = "EDAS application"

    def label(self, ident: str) -> str:
        return f"{self.noun} {ident}"

    def where_to_look(self, ident: str) -> str:
        return f"the change orders of {self.label(ident)} (EDAS console, or ListRecentChangeOrder)"

    def snapshot(self, read: Reader, ident: str) -> frozenset[str]:
        return edas_change_ids(change_order_items(read(LIST_RECENT_CHANGE_ORDER, {"AppId": ident})))

    def candidates(
        self, read: Reader, ident: str, before: frozenset[str], known: frozenset[str]
    ) -> list[str]:
        orders = change_order_items(read(LIST_RECENT_CHANGE_ORDER, {"AppId": ident}))
        return edas_candidates(orders, ident, before, known)


EDAS_CHANGES = EdasChanges()


@dataclass(frozen=True)
class EdasApplication(InputSpec):
    """An EDAS application in an ECS cluster, restarted with ``RestartApplication``.

    Args:
        app_id: the application id (``ListApplication`` shows it); may be an Output, e.g.
            of a ``pulumi_alicloud.edas.Application``.
        ecc_ids: restart only these elastic compute containers (``QueryApplicationStatus``
            shows them); default: every instance of the application.
        verify: this target's own ``verify`` (a ``restart_trigger.Verify`` or a mapping),
            instead of the trigger's; ``False``: none for this target.
    """

    kind: ClassVar[str] = "edas"

    app_id: pulumi.Input[str]
    ecc_ids: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None
    verify: Any = None


@dataclass(frozen=True)
class EdasTarget(Target):
    """The provider's view of an :class:`EdasApplication`: checked, plain values."""

    app_id: str
    ecc_ids: tuple[str, ...] | None = None

    kind: ClassVar[str] = "edas"
    id_field: ClassVar[str] = "app_id"
    fields: ClassVar[frozenset[str]] = frozenset({"kind", "app_id", "ecc_ids"})
    title: ClassVar[str] = "EDAS app"
    restart_action: ClassVar[str] = "RestartApplication"
    changes: ClassVar[EdasChanges] = EDAS_CHANGES
    instances_action: ClassVar[str] = "QueryApplicationStatus"

    @classmethod
    def validate(cls, raw: Mapping[str, Any], path: str, failures: Failures) -> None:
        check_id(raw.get("app_id"), f"{path}.app_id", "EDAS application id", failures)
        ecc = raw.get("ecc_ids")
        if ecc is None or is_unknown(ecc):
            return
        if not isinstance(ecc, list):
            failures.add(f"{path}.ecc_ids", f"must be a list of ECC ids, got {ecc!r}")
            return
        if not ecc:
            failures.add(
                f"{path}.ecc_ids",
                "must not be empty: leave ecc_ids out to restart every instance",
            )
        if len(ecc) > MAX_ECC_IDS:
            failures.add(
                f"{path}.ecc_ids",
                f"lists {len(ecc)} ECC ids, more than {MAX_ECC_IDS} (the restart's EccInfo "
                "goes in the URL): leave ecc_ids out to restart every instance, or split the "
                "instances over several triggers",
            )
            return
        seen: set[str] = set()
        for i, one in enumerate(ecc):
            check_id(one, f"{path}.ecc_ids[{i}]", "ECC id", failures)
            if isinstance(one, str):
                if one in seen:
                    failures.add(f"{path}.ecc_ids[{i}]", f"duplicate ECC id {one!r}")
                seen.add(one)

    @classmethod
    def from_input(cls, raw: Mapping[str, Any]) -> EdasTarget:
        ecc = raw.get("ecc_ids")
        return cls(app_id=raw["app_id"], ecc_ids=tuple(ecc) if ecc else None)

    @classmethod
    def strategy(cls, raw: Mapping[str, Any]) -> str:
        ecc = raw.get("ecc_ids")
        if ecc is None:
            return "all instances"
        if isinstance(ecc, list):
            return "ECC " + ",".join(shown(e) for e in ecc)
        return f"ECC {shown(ecc)}"

    def call_restart_api(self, client: AliyunClient, known_change_ids: list[str]) -> RestartResult:
        return restart_application(
            client,
            self.app_id,
            ecc_ids=list(self.ecc_ids) if self.ecc_ids else None,
            known_change_ids=known_change_ids,
        )

    def is_busy(self, client: AliyunClient, refusal: BusinessError) -> bool:
        return busy_change_order(client, self.app_id)

    def status(self, client: AliyunClient, change_id: str) -> ChangeStatus:
        return decode_status(get_change_order_info(client, change_id))

    def instances(self, client: AliyunClient, deadline: Deadline) -> InstancesView:
        return instances_running(query_application_status(client, self.app_id, deadline))


# -- the operations ------------------------------------------------------------------------


def restart_application(
    client: AliyunClient,
    app_id: str,
    ecc_ids: Sequence[str] | str | None = None,
    *,
    known_change_ids: Iterable[str] | str | None = (),
) -> RestartResult:
    """Restart an EDAS application (all instances, or only ``ecc_ids``).

    ``known_change_ids`` are change orders the caller already knows about; they are never
    mistaken for this restart when its outcome has to be looked up. Each send is preceded by
    one ``ListRecentChangeOrder(AppId)`` (the snapshot; see ``recovery``). Returns the
    ``ChangeOrderId``; raises ``AliyunError`` subclasses, and ``RestartOutcomeUnknown`` when
    the restart may or may not have been applied.
    """
    app_id = require_id("app_id", app_id)
    query = {"AppId": app_id}
    if ecc_ids:
        ids = [ecc_ids] if isinstance(ecc_ids, str) else list(ecc_ids)
        ids = [require_id("ecc_ids item", i) for i in ids]
        query["EccInfo"] = ",".join(ids)
    return client.request_restart(
        RESTART_APPLICATION,
        app_id,
        EDAS_CHANGES,
        query=query,
        extract=change_order_id_of,
        known_change_ids=known_change_ids,
    )


def get_change_order_info(client: AliyunClient, change_order_id: str) -> dict:
    """Return ``changeOrderInfo`` (lowercase c) of an EDAS change order."""
    change_order_id = require_id("change_order_id", change_order_id)
    data = client.read(GET_CHANGE_ORDER_INFO, {"ChangeOrderId": change_order_id})
    key = "changeOrderInfo" if "changeOrderInfo" in data else "ChangeOrderInfo"
    return section(
        {**data, "changeOrderInfo": data.get(key)}, "changeOrderInfo", GET_CHANGE_ORDER_INFO
    )


def list_recent_change_orders(client: AliyunClient, app_id: str) -> list[dict]:
    """Return ``ChangeOrderList.ChangeOrder`` (possibly empty) for an EDAS application."""
    app_id = require_id("app_id", app_id)
    return change_order_items(client.read(LIST_RECENT_CHANGE_ORDER, {"AppId": app_id}))


def query_application_status(
    client: AliyunClient, app_id: str, deadline: Deadline | None = None
) -> dict:
    """Return ``AppInfo`` of an EDAS application in an ECS cluster (``QueryApplicationStatus``)."""
    query = {"AppId": require_id("app_id", app_id)}
    data = client.read(QUERY_APPLICATION_STATUS, query, deadline)
    return section(data, "AppInfo", QUERY_APPLICATION_STATUS)


def instances_running(app_info: Mapping[str, Any]) -> InstancesView:
    """Read ``AppInfo`` of ``QueryApplicationStatus``: ready when the application has
    instances and ``RunningInstanceCount`` reaches ``InstanceCount``."""
    application = app_info.get("Application")
    application = application if isinstance(application, Mapping) else {}
    total = int_or_none(application.get("InstanceCount"))
    running = int_or_none(application.get("RunningInstanceCount"))
    fields = "EDAS QueryApplicationStatus RunningInstanceCount/InstanceCount"
    if total is None or running is None:
        return InstancesView(False, f"no instance counts in the answer ({fields})")
    if total < 1:
        return InstancesView(False, f"the application has no instances ({fields}: 0)")
    return InstancesView(running >= total, f"{running} of {total} instance(s) running ({fields})")


def change_order_id_of(data: Mapping[str, Any]) -> Any:
    """The ``ChangeOrderId`` of an EDAS restart's answer (ECS and Kubernetes alike)."""
    return data.get("ChangeOrderId")


def change_order_items(data: Mapping[str, Any]) -> list[dict]:
    """``ChangeOrderList.ChangeOrder`` of a ``ListRecentChangeOrder`` body (a list, or one
    object)."""
    container = data.get("ChangeOrderList")
    if isinstance(container, Mapping):
        container = container.get("ChangeOrder")
    return items(container, "ChangeOrderList", data.get("RequestId"))


# -- lost answers: how EDAS change orders are listed ---------------------------------------


def looks_like_restart(order: Mapping[str, Any]) -> bool:
    """Whether an EDAS change order's type says restart (no type given: the other checks decide)."""
    labels = [clean_str(order.get("CoTypeCode")), clean_str(order.get("CoType"))]
    labels = [label for label in labels if label]
    if not labels:
        return True
    return any("restart" in label.lower() or "重启" in label for label in labels)


def edas_change_ids(orders: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The snapshot of an EDAS app: the id of every change order listed."""
    return ids_of(orders)


def edas_candidates(
    orders: Iterable[Mapping[str, Any]],
    app_id: str,
    before: frozenset[str],
    known: frozenset[str],
) -> list[str]:
    """The ids among ``orders`` that may be our restart: new since ``before``, not known,
    restart-type, from the API (``Source`` pop) and of this app (each check passes when the
    field is absent)."""
    return new_orders(orders, app_id, before, known, _is_api_restart)


def _is_api_restart(order: Mapping[str, Any]) -> bool:
    source = clean_str(order.get("Source"))
    return (source is None or source.lower() == "pop") and looks_like_restart(order)


# EDAS change order Status codes (GetChangeOrderInfo; doc-detail/62072).
_STATUS: dict[int, tuple[str, str]] = {
    0: (RUNNING, "ready"),
    1: (RUNNING, "executing"),
    2: (SUCCEEDED, "success"),
    3: (FAILED, "failed"),
    6: (FAILED, "terminated"),
    7: (FAILED, "partially successful"),
    # 8 waits for a person: say where the next batch is released.
    8: (
        PAUSED,
        "waiting for manual confirmation of the next batch: confirm it in the EDAS console "
        "or with ContinuePipeline",
    ),
    9: (RUNNING, "waiting for the next automatic batch"),
    10: (FAILED, "failed on a system exception"),
}


def busy_change_order(client: AliyunClient, app_id: str) -> bool:
    """Whether an EDAS application (ECS or Kubernetes) has a change order in progress.

    EDAS refuses with a body Code whose value is not documented; what is known is that a
    change order in progress blocks a new one (terraform-provider-alicloud looks for one in
    0, 1, 8 or 9 before acting), so look for one, read as polling reads it."""
    orders = list_recent_change_orders(client, app_id)
    return any(reading(order.get("Status"))[0] in (RUNNING, PAUSED) for order in orders)


def reading(raw: Any) -> tuple[str, str]:
    """The one reading of an EDAS status, for polling and for "is another change running?"
    alike: (state, words). A number EDAS may add later reads as still running (keep waiting,
    within the deadline); something that is no number at all is unknown."""
    try:
        code = int(raw)
    except (TypeError, ValueError):
        return UNKNOWN_STATE, f"EDAS status {raw!r} (not a number)"
    state, words = _STATUS.get(code, (RUNNING, "unknown status, still waiting"))
    return state, f"EDAS status {code} ({words})"


_MESSAGE_KEYS = ("TaskErrorMessage", "ErrorMessage", "TaskMessage")
_STATUS_KEYS = ("TaskStatus", "PipelineStatus", "StageStatus", "Status")


def _messages(node: Any, failed_only: bool) -> list[str]:
    """Error messages anywhere in a change order body, in task order; with ``failed_only``,
    only those of tasks (or pipelines, stages) whose own status reads failed."""
    out: list[str] = []
    if isinstance(node, Mapping):
        status = next((node[k] for k in _STATUS_KEYS if k in node), None)
        if not failed_only or (status is not None and reading(status)[0] == FAILED):
            for key in _MESSAGE_KEYS:
                value = node.get(key)
                if isinstance(value, str) and value.strip():
                    out.append(value.strip())
                    break
        children: Any = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return out
    for child in children:
        if isinstance(child, Mapping | list):
            out += _messages(child, failed_only)
    return out


def failure_message(info: Mapping[str, Any]) -> str:
    """Why a change order failed: the failed task's error text (a success note on an earlier
    task must not hide it), else the first error text anywhere."""
    for failed_only in (True, False):
        found = _messages(info, failed_only)
        if found:
            return found[0]
    return ""


def decode_status(info: Mapping[str, Any]) -> ChangeStatus:
    """Read ``changeOrderInfo`` of ``GetChangeOrderInfo``."""
    state, detail = reading(info.get("Status"))
    message = failure_message(info) if state == FAILED else ""
    pipelines = (info.get("PipelineInfoList") or {}).get("PipelineInfo")
    batch = batch_position(info.get("BatchCount"), pipelines, "PipelineStatus")
    return ChangeStatus(state, detail, message, batch=batch)
