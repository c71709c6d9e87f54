"""EDAS 2017-08-01 operations: RestartApplication, GetChangeOrderInfo, ListRecentChangeOrder.

EDAS answers business errors with HTTP 200 and an integer body ``Code`` other than 200
(:class:`~emulator.errors.EdasBusinessError`); the codes are the emulator's choice and are
listed in emulator/README.md.
"""

from __future__ import annotations

import uuid
from typing import Any

from emulator.context import CallContext
from emulator.errors import (
    EDAS_CODE_CHANGE_IN_PROGRESS,
    EDAS_CODE_INVALID_ECC,
    EDAS_CODE_NOT_FOUND,
    EdasBusinessError,
)
from emulator.state import (
    EDAS_EXECUTING,
    EDAS_FAILED,
    EDAS_READY,
    EDAS_SUCCESS,
    EdasApplication,
    EdasChangeOrder,
    shanghai_time,
)

PRODUCT = "edas"
CO_TYPE = "Restart Application"
CO_TYPE_CODE = "CoRestart"
BATCH_TYPE = "Automatic"


def _ok(**fields: Any) -> dict[str, Any]:
    return {"Code": 200, "Message": "success", **fields}


def _find_app(ctx: CallContext, app_id: str) -> EdasApplication:
    app = ctx.world.apps.get(app_id)
    if app is None or not ctx.visible(app.region, app.account_id):
        raise EdasBusinessError(
            EDAS_CODE_NOT_FOUND,
            f"The application does not exist or you do not have permission to access it: {app_id}",
        )
    return app


def _find_order(ctx: CallContext, change_order_id: str) -> EdasChangeOrder:
    order = ctx.world.change_orders.get(change_order_id)
    if order is None or not ctx.visible(order.region, order.account_id):
        raise EdasBusinessError(
            EDAS_CODE_NOT_FOUND,
            f"The change order does not exist or you do not have permission to access it: "
            f"{change_order_id}",
        )
    return order


def restart_application(ctx: CallContext) -> dict[str, Any]:
    """``POST /pop/v5/changeorder/co_restart``: create a restart change order."""
    app_id = ctx.required("AppId")
    ecc_raw = ctx.params.get("EccInfo") or ""
    with ctx.world.lock:
        app = _find_app(ctx, app_id)
        ecc_ids = [e.strip() for e in ecc_raw.split(",") if e.strip()]
        unknown = [e for e in ecc_ids if e not in app.ecc_ids]
        if unknown:
            raise EdasBusinessError(
                EDAS_CODE_INVALID_ECC,
                f"EccInfo names instances that do not belong to application {app_id}: "
                + ",".join(unknown),
            )
        for order in ctx.world.change_orders.values():
            if order.app_id == app_id and order.status(ctx.now) in (EDAS_READY, EDAS_EXECUTING):
                raise EdasBusinessError(
                    EDAS_CODE_CHANGE_IN_PROGRESS,
                    f"Another change order is in progress for application {app_id}: "
                    f"{order.change_order_id}. Wait until it finishes.",
                )
        fails = app.fail_changes or ctx.faults.change_fails(app_id)
        targets = ecc_ids or list(app.ecc_ids)
        order = EdasChangeOrder(
            change_order_id=str(uuid.uuid4()),
            app_id=app_id,
            region=app.region,
            account_id=ctx.caller.account_id,
            created_at=ctx.now,
            duration_s=ctx.world.duration_for(app.change_duration_s),
            fails=fails,
            failure_message=(
                f"Failed to restart the application on ECC {targets[0] if targets else '-'}: "
                "health check did not pass in time (injected by the emulator)."
                if fails
                else ""
            ),
            ecc_ids=targets,
        )
        ctx.world.change_orders[order.change_order_id] = order
        ctx.world.save()
    ctx.result_id = order.change_order_id
    return _ok(ChangeOrderId=order.change_order_id)


def _finish_time(order: EdasChangeOrder, status: int) -> str | None:
    return shanghai_time(order.finished_at) if status in (EDAS_SUCCESS, EDAS_FAILED) else None


def _task_status(status: int, index: int, count: int) -> int:
    """Per-task status: tasks before the last run one by one while the order executes."""
    if status == EDAS_READY:
        return EDAS_READY
    if status == EDAS_EXECUTING:
        return EDAS_EXECUTING if index == 0 else EDAS_READY
    if status == EDAS_FAILED:
        return EDAS_FAILED if index == count - 1 else EDAS_SUCCESS
    return EDAS_SUCCESS


def _order_info(order: EdasChangeOrder, now: float) -> dict[str, Any]:
    status = order.status(now)
    update = min(now, order.finished_at)
    task_names = ["Stop application", "Start application", "Health check"]
    tasks = []
    for index, name in enumerate(task_names):
        task_status = _task_status(status, index, len(task_names))
        failed = task_status == EDAS_FAILED
        tasks.append(
            {
                "TaskId": f"{order.change_order_id}-t{index + 1}",
                "TaskName": name,
                "TaskStatus": str(task_status),
                "TaskMessage": order.failure_message if failed else "",
                "TaskErrorCode": "RestartFailed" if failed else "",
                "TaskErrorMessage": order.failure_message if failed else "",
                "TaskErrorIgnorance": 0,
                "RetryType": 0,
                "ShowManualIgnorance": False,
            }
        )
    pipeline = {
        "PipelineId": f"{order.change_order_id}-p1",
        "PipelineName": "Batch: 1",
        "PipelineStatus": status,
        "StartTime": shanghai_time(order.created_at),
        "UpdateTime": shanghai_time(update),
        "StageList": {
            "StageInfoDTO": [
                {"StageId": f"{order.change_order_id}-s1", "StageName": "Restart", "Status": status}
            ]
        },
        "StageDetailList": {
            "StageDetailDTO": [
                {
                    "StageId": f"{order.change_order_id}-s1",
                    "StageName": "Restart",
                    "StageStatus": status,
                    "TaskList": {"TaskInfoDTO": tasks},
                }
            ]
        },
    }
    return {
        "ChangeOrderId": order.change_order_id,
        "Status": status,
        "BatchCount": 1,
        "BatchType": BATCH_TYPE,
        "CoType": CO_TYPE,
        "CreateTime": shanghai_time(order.created_at),
        "CreateUserId": order.account_id,
        "Desc": "",
        "ChangeOrderDescription": "",
        "SupportRollback": False,
        "Targets": {"Items": list(order.ecc_ids)},
        "TrafficControl": {"Routes": "", "Rules": "", "Tips": ""},
        "PipelineInfoList": {"PipelineInfo": [pipeline]},
    }


def get_change_order_info(ctx: CallContext) -> dict[str, Any]:
    """``POST /pop/v5/changeorder/change_order_info``: progress of one change order."""
    change_order_id = ctx.required("ChangeOrderId")
    with ctx.world.lock:
        order = _find_order(ctx, change_order_id)
        info = _order_info(order, ctx.now)
    return _ok(changeOrderInfo=info)


def list_recent_change_order(ctx: CallContext) -> dict[str, Any]:
    """``POST /pop/v5/changeorder/change_order_list``: an app's change orders, newest first."""
    app_id = ctx.required("AppId")
    with ctx.world.lock:
        _find_app(ctx, app_id)
        orders = sorted(
            (o for o in ctx.world.change_orders.values() if o.app_id == app_id),
            key=lambda o: o.created_at,
            reverse=True,
        )
        items = []
        for order in orders:
            status = order.status(ctx.now)
            items.append(
                {
                    "ChangeOrderId": order.change_order_id,
                    "Status": status,
                    "CoType": CO_TYPE,
                    "CoTypeCode": CO_TYPE_CODE,
                    "BatchCount": 1,
                    "BatchType": BATCH_TYPE,
                    "CreateTime": shanghai_time(order.created_at),
                    "FinishTime": _finish_time(order, status),
                    "GroupId": "",
                    "Source": order.source,
                    "AppId": order.app_id,
                    "UserId": order.account_id,
                    "CreateUserId": order.account_id,
                    "ChangeOrderDescription": "",
                }
            )
    return _ok(ChangeOrderList={"ChangeOrder": items})


#: (method, path) -> (action, handler)
ROUTES = {
    ("POST", "/pop/v5/changeorder/co_restart"): ("RestartApplication", restart_application),
    ("POST", "/pop/v5/changeorder/change_order_info"): (
        "GetChangeOrderInfo",
        get_change_order_info,
    ),
    ("POST", "/pop/v5/changeorder/change_order_list"): (
        "ListRecentChangeOrder",
        list_recent_change_order,
    ),
}
