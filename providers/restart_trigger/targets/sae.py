"""SAE (Serverless App Engine) applications: restarted with ``RestartApplication``, waited for
with ``DescribeChangeOrder`` (SAE 2019-05-06). Its fields and checks, operations, busy rule,
how its change orders are found after a lost answer (``SAE_CHANGES``) and how a change order
reads: all here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from restart_trigger.aliyun import AliyunClient, BusinessError, InvalidResponseError, RestartResult
from restart_trigger.aliyun.client import Operation
from restart_trigger.aliyun.params import (
    clean_str,
    ids_of,
    optional_bool,
    optional_int,
    require_id,
    section,
)
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
from restart_trigger.validation import (
    KNOWN_AFTER_APPLY,
    Failures,
    as_int,
    check_bool,
    check_id,
    check_int,
    escaped,
    is_unknown,
    shown,
)

if TYPE_CHECKING:
    import pulumi

SAE_VERSION = "2019-05-06"
SAE_RESTART_APPLICATION = Operation(
    "sae", "RestartApplication", "PUT", "/pop/v1/sam/app/restartApplication", SAE_VERSION
)
DESCRIBE_CHANGE_ORDER = Operation(
    "sae", "DescribeChangeOrder", "GET", "/pop/v1/sam/changeorder/DescribeChangeOrder", SAE_VERSION
)
LIST_CHANGE_ORDERS = Operation(
    "sae", "ListChangeOrders", "GET", "/pop/v1/sam/changeorder/ListChangeOrders", SAE_VERSION
)
"""Read by SAE restarts (the snapshot and the looks) and by ``list_change_orders``."""
DESCRIBE_APPLICATION_GROUPS = Operation(
    "sae",
    "DescribeApplicationGroups",
    "GET",
    "/pop/v1/sam/app/describeApplicationGroups",
    SAE_VERSION,
)
"""The cloud's view of an SAE application's instances (``verify: {cloud: true}``): query
``AppId``; ``Data[]``, one per group, each with ``Replicas`` ("the total number of
instances") and ``RunningInstances`` ("the number of running instances"), as
alibabacloud-sae20190506 ``DescribeApplicationGroupsResponseBodyData`` describes them."""

SAE_RESTART_TYPE = "CoRestartApplication"
"""The ``CoTypeCode`` of an SAE application restart (alibabacloud-sae20190506's
``ListChangeOrdersResponseBodyDataChangeOrderList.co_type_code`` values)."""
SAE_RESTART_PAGE = {"CoType": SAE_RESTART_TYPE, "CurrentPage": "1", "PageSize": "20"}
"""How the SAE snapshot and looks list an app's restarts: the first page of 20 (the API
documentation's example page), restarts only. The list is newest first (Alibaba's own
serverless-devs tooling reads ``ChangeOrderList[0]`` as the latest order), so a restart made
after the snapshot is on that page."""


def sae_change_orders(data: Mapping[str, Any]) -> list[dict]:
    """``Data.ChangeOrderList`` of an SAE ``ListChangeOrders`` body (a plain list)."""
    found = data.get("Data")
    items = found.get("ChangeOrderList") if isinstance(found, Mapping) else None
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidResponseError(
            200, "InvalidResponse", "Data.ChangeOrderList is not a list", data.get("RequestId")
        )
    return [item for item in items if isinstance(item, dict)]


def sae_candidates(
    orders: Iterable[Mapping[str, Any]],
    app_id: str,
    before: frozenset[str],
    known: frozenset[str],
) -> list[str]:
    """The ids among SAE ``ListChangeOrders`` items that may be our restart: new since
    ``before``, not known, an application restart (``CoTypeCode``), not made in the console
    (``Source``; the SDK documents ``console`` as a value and no other), of this app (each
    check passes when the field is absent)."""
    return new_orders(orders, app_id, before, known, _is_api_restart)


def _is_api_restart(order: Mapping[str, Any]) -> bool:
    code = clean_str(order.get("CoTypeCode"))
    source = clean_str(order.get("Source"))
    return (code is None or code == SAE_RESTART_TYPE) and (
        source is None or source.lower() != "console"
    )


@dataclass(frozen=True)
class SaeChanges:
    """The ``ChangeList`` of an SAE application: the first page of its restarts
    (``ListChangeOrders``, ``SAE_RESTART_PAGE``)."""

    restart_action: str = "RestartApplication"

    def label(self, ident: str) -> str:
        return f"SAE application {ident}"

    def where_to_look(self, ident: str) -> str:
        return f"the change orders of {self.label(ident)} (SAE console, or ListChangeOrders)"

    def snapshot(self, read: Reader, ident: str) -> frozenset[str]:
        orders = sae_change_orders(read(LIST_CHANGE_ORDERS, {"AppId": ident, **SAE_RESTART_PAGE}))
        return ids_of(orders)

    def candidates(
        self, read: Reader, ident: str, before: frozenset[str], known: frozenset[str]
    ) -> list[str]:
        orders = sae_change_orders(read(LIST_CHANGE_ORDERS, {"AppId": ident, **SAE_RESTART_PAGE}))
        return sae_candidates(orders, ident, before, known)


SAE_CHANGES = SaeChanges()

SAE_OPTIONS = (
    "min_ready_instances",
    "min_ready_instance_ratio",
    "auto_enable_application_scaling_rule",
)

# An SAE application id is a UUID (``0099b7be-5f5b-4512-a7fc-56049ef1****`` in the API docs).
APP_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)

BUSY_CODES = frozenset({"Application.ChangerOrderRunning", "Application.InvalidStatus"})
"""The refusals that mean "another change order is still running on the app": SAE runs one
change order per application at a time, and its API error tables list both (400; the first
"An application change process is in progress", the second "The application status is
abnormal. Please try again later."); terraform-provider-alicloud retries SAE changes on both.
(``ChangerOrderRunning`` is spelled so by SAE.)"""


@dataclass(frozen=True)
class SaeApplication(InputSpec):
    """An SAE application, restarted with SAE's ``RestartApplication``.

    Args:
        app_id: the application id (a UUID; ``ListApplications`` shows it); may be an Output,
            e.g. of a ``pulumi_alicloud.sae.Application``.
        min_ready_instances: instances kept ready during the restart: -1 lets SAE choose
            (25% of the instances, rounded up), 0 allows an interruption; default: SAE's.
        min_ready_instance_ratio: the same as a percentage of the instances, 0-100 (-1: not
            used, SAE's default); when set (0-100) it wins over ``min_ready_instances``.
        auto_enable_application_scaling_rule: re-enable the application's auto scaling rules
            after the restart.
        verify: this target's own ``verify`` (a ``restart_trigger.Verify`` or a mapping),
            instead of the trigger's; ``False``: none for this target.
    """

    kind: ClassVar[str] = "sae"

    app_id: pulumi.Input[str]
    min_ready_instances: pulumi.Input[int] | None = None
    min_ready_instance_ratio: pulumi.Input[int] | None = None
    auto_enable_application_scaling_rule: pulumi.Input[bool] | None = None
    verify: Any = None


@dataclass(frozen=True)
class SaeTarget(Target):
    """The provider's view of an :class:`SaeApplication`: checked, plain values."""

    app_id: str
    min_ready_instances: int | None = None
    min_ready_instance_ratio: int | None = None
    auto_enable_application_scaling_rule: bool | None = None

    kind: ClassVar[str] = "sae"
    id_field: ClassVar[str] = "app_id"
    fields: ClassVar[frozenset[str]] = frozenset({"kind", "app_id", *SAE_OPTIONS})
    title: ClassVar[str] = "SAE app"
    restart_action: ClassVar[str] = "RestartApplication"
    changes: ClassVar[SaeChanges] = SAE_CHANGES
    instances_action: ClassVar[str] = "DescribeApplicationGroups"

    @classmethod
    def validate(cls, raw: Mapping[str, Any], path: str, failures: Failures) -> None:
        app_id = raw.get("app_id")
        before = len(failures)
        check_id(app_id, f"{path}.app_id", "SAE application id", failures)
        if len(failures) == before and isinstance(app_id, str) and not APP_ID_RE.match(app_id):
            failures.add(
                f"{path}.app_id",
                f"must be an SAE application id, a UUID such as "
                f"0099b7be-5f5b-4512-a7fc-56049ef1a2b3, got {app_id!r}",
            )
        check_int(raw.get("min_ready_instances"), f"{path}.min_ready_instances", failures, low=-1)
        check_int(
            raw.get("min_ready_instance_ratio"),
            f"{path}.min_ready_instance_ratio",
            failures,
            low=-1,
            high=100,
        )
        check_bool(
            raw.get("auto_enable_application_scaling_rule"),
            f"{path}.auto_enable_application_scaling_rule",
            failures,
        )

    @classmethod
    def from_input(cls, raw: Mapping[str, Any]) -> SaeTarget:
        return cls(
            app_id=raw["app_id"],
            min_ready_instances=as_int(raw.get("min_ready_instances")),
            min_ready_instance_ratio=as_int(raw.get("min_ready_instance_ratio")),
            auto_enable_application_scaling_rule=raw.get("auto_enable_application_scaling_rule"),
        )

    @classmethod
    def strategy(cls, raw: Mapping[str, Any]) -> str:
        count, ratio = raw.get("min_ready_instances"), raw.get("min_ready_instance_ratio")
        ratio_used = ratio is not None and (is_unknown(ratio) or ratio != -1)
        if ratio_used:
            parts = [f"keep {shown(ratio)}% of instances ready"]
            if count is not None:
                parts.append(f"(over min_ready_instances {shown(count)})")
        elif count is None:
            parts = ["SAE's default ready instances"]
        elif is_unknown(count):
            parts = [f"keep {KNOWN_AFTER_APPLY} instances ready"]
        elif count == -1:
            parts = ["SAE-recommended ready instances (25%)"]
        elif count == 0:
            parts = ["no instance kept ready (interruption allowed)"]
        else:
            parts = [f"keep {shown(count)} instance(s) ready"]
        scaling = raw.get("auto_enable_application_scaling_rule")
        if scaling is not None:
            parts.append(f"auto scaling re-enabled: {shown(scaling)}")
        return ", ".join(parts)

    def call_restart_api(self, client: AliyunClient, known_change_ids: list[str]) -> RestartResult:
        return restart_sae_application(
            client,
            self.app_id,
            min_ready_instances=self.min_ready_instances,
            min_ready_instance_ratio=self.min_ready_instance_ratio,
            auto_enable_application_scaling_rule=self.auto_enable_application_scaling_rule,
            known_change_ids=known_change_ids,
        )

    def is_busy(self, client: AliyunClient, refusal: BusinessError) -> bool:
        return refusal.code in BUSY_CODES

    def status(self, client: AliyunClient, change_id: str) -> ChangeStatus:
        return decode_change_order(describe_change_order(client, change_id))

    def instances(self, client: AliyunClient, deadline: Deadline) -> InstancesView:
        return groups_running(describe_application_groups(client, self.app_id, deadline))


def restart_sae_application(
    client: AliyunClient,
    app_id: str,
    min_ready_instances: int | None = None,
    min_ready_instance_ratio: int | None = None,
    auto_enable_application_scaling_rule: bool | None = None,
    *,
    known_change_ids: Iterable[str] | str | None = (),
) -> RestartResult:
    """Restart an SAE application (SAE ``RestartApplication``: PUT, every parameter in the
    query, as alibabacloud-sae20190506 sends it).

    ``min_ready_instances``: -1 (the system's choice, 25% rounded up), 0 (interruption
    allowed) or more; ``min_ready_instance_ratio``: -1 (not used, the default) or 0-100, and
    it wins over ``min_ready_instances`` when both are set (the SDK docstring);
    ``auto_enable_application_scaling_rule`` is sent as ``True``/``False``. Parameters left
    ``None`` are not sent. Each send is preceded by one ``ListChangeOrders`` (the app's latest
    restarts: the snapshot; see ``recovery``). Returns ``Data.ChangeOrderId``; raises as
    ``edas.restart_application``.
    """
    app_id = require_id("app_id", app_id)
    query = {
        "AppId": app_id,
        "MinReadyInstances": optional_int("min_ready_instances", min_ready_instances, -1),
        "MinReadyInstanceRatio": optional_int(
            "min_ready_instance_ratio", min_ready_instance_ratio, -1, 100
        ),
        "AutoEnableApplicationScalingRule": optional_bool(
            "auto_enable_application_scaling_rule", auto_enable_application_scaling_rule
        ),
    }
    return client.request_restart(
        SAE_RESTART_APPLICATION,
        app_id,
        SAE_CHANGES,
        query=query,
        extract=_data_change_order_id,
        known_change_ids=known_change_ids,
    )


def _data_change_order_id(data: Mapping[str, Any]) -> Any:
    found = data.get("Data")
    return found.get("ChangeOrderId") if isinstance(found, Mapping) else None


def describe_change_order(client: AliyunClient, change_order_id: str) -> dict:
    """Return ``Data`` of an SAE change order (``Status``, ``SubStatus``, ``ErrorMessage``,
    ``Pipelines``, ...)."""
    query = {"ChangeOrderId": require_id("change_order_id", change_order_id)}
    return section(client.read(DESCRIBE_CHANGE_ORDER, query), "Data", DESCRIBE_CHANGE_ORDER)


def list_change_orders(client: AliyunClient, app_id: str) -> list[dict]:
    """Return ``Data.ChangeOrderList`` (possibly empty) of an SAE application's latest
    restarts, newest first (the page the restart snapshot reads: ``SAE_RESTART_PAGE``)."""
    query = {"AppId": require_id("app_id", app_id), **SAE_RESTART_PAGE}
    return sae_change_orders(client.read(LIST_CHANGE_ORDERS, query))


def describe_application_groups(
    client: AliyunClient, app_id: str, deadline: Deadline | None = None
) -> list[dict]:
    """Return ``Data`` (the groups, possibly none) of an SAE application
    (``DescribeApplicationGroups``)."""
    query = {"AppId": require_id("app_id", app_id)}
    data = client.read(DESCRIBE_APPLICATION_GROUPS, query, deadline)
    groups = data.get("Data")
    if groups is None:
        return []
    if not isinstance(groups, list):
        raise InvalidResponseError(
            200, "InvalidResponse", "Data is not a list of groups", data.get("RequestId")
        )
    return [group for group in groups if isinstance(group, dict)]


def groups_running(groups: list[dict]) -> InstancesView:
    """Read ``Data`` of ``DescribeApplicationGroups``: ready when the application has instances
    and every group runs all of its ``Replicas`` (``RunningInstances``)."""
    fields = "SAE DescribeApplicationGroups RunningInstances/Replicas"
    wanted = running = 0
    short = None
    for group in groups:
        replicas = int_or_none(group.get("Replicas"))
        live = int_or_none(group.get("RunningInstances"))
        if replicas is None or live is None:
            return InstancesView(False, f"no instance counts in the answer ({fields})")
        wanted, running = wanted + replicas, running + min(live, replicas)
        if live < replicas and short is None:
            short = group.get("GroupName") or group.get("GroupId")
    if wanted < 1:
        return InstancesView(False, f"the application has no instances ({fields}: 0)")
    detail = f"{running} of {wanted} instance(s) running ({fields})"
    if short is not None:
        detail += f"; short in group {escaped(short)[:80]}"
    return InstancesView(short is None, detail)


# SAE change order Status codes (alibabacloud-sae20190506 DescribeChangeOrderResponseBodyData).
_STATUS: dict[int, tuple[str, str]] = {
    0: (RUNNING, "preparing"),
    1: (RUNNING, "running"),
    2: (SUCCEEDED, "succeeded"),
    3: (FAILED, "failed"),
    6: (FAILED, "terminated"),
    8: (PAUSED, "waiting for manual confirmation of the next batch"),
    9: (RUNNING, "waiting for the next automatic batch"),
    10: (FAILED, "failed on a system exception"),
    11: (PAUSED, "pending approval"),
    12: (RUNNING, "approved, waiting to run"),
}

SUB_STATUS_ABNORMAL = 1
"""``SubStatus`` 1: the order is in trouble while its ``Status`` still reads running (e.g. a
batch failed and waits for a manual rollback or abort)."""


def reading(raw: Any) -> tuple[str, str]:
    """The one reading of an SAE status: (state, words). A number SAE may add later reads as
    still running (keep waiting, within the deadline); no number at all is unknown."""
    try:
        code = int(raw)
    except (TypeError, ValueError):
        return UNKNOWN_STATE, f"SAE status {raw!r} (not a number)"
    state, words = _STATUS.get(code, (RUNNING, "unknown status, still waiting"))
    return state, f"SAE status {code} ({words})"


def decode_change_order(data: Mapping[str, Any]) -> ChangeStatus:
    """Read the ``Data`` of ``DescribeChangeOrder``.

    Failed (3, 6, 10) is final at once: terraform-provider-alicloud's SAE wait lists no
    failure state and so polls a failed order until its timeout; this does not. A
    ``SubStatus`` of 1 on an order not finished is said in the detail and the state is
    ``paused``: the order waits for a person (roll back or abort it in the SAE console).
    """
    state, detail = reading(data.get("Status"))
    message = str(data.get("ErrorMessage") or "").strip()
    batch = batch_position(data.get("BatchCount"), data.get("Pipelines"), "Status")
    if state in (RUNNING, PAUSED) and int_or_none(data.get("SubStatus")) == SUB_STATUS_ABNORMAL:
        detail += (
            ", sub-status 1 (abnormal: a batch failed; roll back or abort the change order "
            "in the SAE console)"
        )
        return ChangeStatus(PAUSED, detail, message, batch=batch)
    return ChangeStatus(state, detail, message if state == FAILED else "", batch=batch)
