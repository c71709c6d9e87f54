"""SAE (Serverless App Engine) 2019-05-06 operations: RestartApplication, DescribeChangeOrder,
ListChangeOrders, and the instance read DescribeApplicationGroups.

Every parameter is read from the query (alibabacloud-sae20190506 ``*_with_options`` put them
all in ``query``; aliyun-python-sdk-sae's setters call ``add_query_param``). Success answers
``{"Code": "200", "Success": true, "Message": "success", "TraceId", "Data": {...}}``; refusals
are real HTTP errors (:class:`~emulator.errors.SaeError`) with ``Success: false`` and the code in
both ``Code`` and ``ErrorCode``.

A change order may first wait for approval (11, then 12), then runs in batches (0 preparing,
1 running; 9 between two ``auto`` batches, 8 between two ``manual`` ones until confirmed),
then ends at the status of the app's ``change_outcome`` (2, 3, 6 or 10, the failures with an
``ErrorMessage``), or, with ``sub_status_abnormal``, stays at 1 with ``SubStatus`` 1.
"""

from __future__ import annotations

import uuid
from typing import Any

from emulator.context import CallContext
from emulator.errors import SaeError
from emulator.state import (
    DONE,
    HELD,
    SAE_APP_ID_RE,
    SAE_FAILED,
    SAE_FINAL_STATUSES,
    SAE_OUTCOMES,
    SAE_PREPARING,
    SAE_RUNNING,
    SAE_SUCCEEDED,
    SaeApplication,
    SaeChangeOrder,
    epoch_ms,
    record_release,
    shanghai_time,
)

PRODUCT = "sae"
CO_TYPE = "Restart Application"
CO_TYPE_CODE = "CoRestartApplication"
DEFAULT_PAGE_SIZE = 10

#: change_outcome (or sub_status_abnormal) -> ErrorMessage of the order.
FAILURES = {
    "failed": "Batch {batch} of {count} failed: instance {app}-{batch} did not pass its "
    "readiness check in time (injected by the emulator).",
    "terminated": "The change order was terminated during batch {batch} of {count} "
    "(injected by the emulator).",
    "system_error": "A system exception occurred during batch {batch} of {count} "
    "(injected by the emulator).",
    "abnormal": "Batch {batch} of {count} failed: roll back or abort the change order "
    "(injected by the emulator).",
}


def _ok(data: Any) -> dict[str, Any]:
    return {
        "Code": "200",
        "Success": True,
        "Message": "success",
        "TraceId": uuid.uuid4().hex[:30],
        "Data": data,
    }


def _not_empty(name: str) -> SaeError:
    return SaeError(400, "InvalidParameter.NotEmpty", f"You must specify the parameter {name}.")


def _invalid(name: str, raw: str, expected: str) -> SaeError:
    return SaeError(
        400,
        "InvalidParameter.WithMessage",
        f"The parameter is invalid {{{name}}}: {raw!r} ({expected}).",
    )


def _required(ctx: CallContext, name: str) -> str:
    value = ctx.params.get(name)
    if value is None or value.strip() == "":
        raise _not_empty(name)
    return value.strip()


def _int(ctx: CallContext, name: str, low: int, high: int | None = None) -> int | None:
    raw = ctx.params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise _invalid(name, raw, "an integer is expected") from None
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        raise _invalid(name, raw, f"must be {bounds}")
    return value


def _bool(ctx: CallContext, name: str) -> bool | None:
    raw = ctx.params.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.strip().lower()
    if lowered not in ("true", "false"):
        raise _invalid(name, raw, "true or false is expected")
    return lowered == "true"


def _find_app(ctx: CallContext, app_id: str) -> SaeApplication:
    """The app, or 404 ``InvalidAppId.NotFound`` (not an SAE id at all) / 400
    ``InvalidApplication.NotFound`` (no such app here)."""
    if not SAE_APP_ID_RE.match(app_id):
        raise SaeError(404, "InvalidAppId.NotFound", "The specified AppId does not exist.")
    app = ctx.world.sae_apps.get(app_id)
    if app is None or not ctx.visible(app.region, app.account_id):
        raise SaeError(
            400, "InvalidApplication.NotFound", "The current application does not exist."
        )
    return app


def restart_application(ctx: CallContext) -> dict[str, Any]:
    """``PUT /pop/v1/sam/app/restartApplication``: create a restart change order."""
    app_id = _required(ctx, "AppId")
    min_ready = _int(ctx, "MinReadyInstances", low=-1)
    ratio = _int(ctx, "MinReadyInstanceRatio", low=-1, high=100)
    scaling = _bool(ctx, "AutoEnableApplicationScalingRule")
    with ctx.world.lock:
        app = _find_app(ctx, app_id)
        for order in ctx.world.sae_orders.values():
            if order.app_id == app_id and order.status(ctx.now)[0] not in SAE_FINAL_STATUSES:
                raise SaeError(
                    400,
                    "Application.ChangerOrderRunning",
                    "An application change process is in progress. Please try again later.",
                )
        outcome = app.change_outcome or "success"
        if (app.fail_changes or ctx.faults.change_fails(app_id)) and outcome == "success":
            outcome = "failed"
        message = ""
        key = "abnormal" if app.sub_status_abnormal else outcome
        if key != "success":
            message = FAILURES[key].format(batch=app.batches, count=app.batches, app=app.name)
        order = SaeChangeOrder(
            change_order_id=str(uuid.uuid4()),
            app_id=app_id,
            region=app.region,
            account_id=ctx.caller.account_id,
            created_at=ctx.now,
            duration_s=ctx.world.duration_for(app.change_duration_s),
            outcome=outcome,
            failure_message=message,
            batch_count=app.batches,
            batch_type=app.batch_type,
            batch_wait_s=float(app.batch_wait_s),
            auto_confirm_s=app.auto_confirm_s,
            approval_s=app.approval_s,
            approved_wait_s=float(app.approved_wait_s),
            sub_status_abnormal=app.sub_status_abnormal,
            min_ready_instances=min_ready,
            min_ready_instance_ratio=ratio,
            auto_enable_application_scaling_rule=scaling,
        )
        ctx.world.sae_orders[order.change_order_id] = order
        ctx.world.save()
    ctx.result_id = order.change_order_id
    return _ok({"ChangeOrderId": order.change_order_id})


def _pipeline_id(order: SaeChangeOrder, index: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sae-pipeline:{order.change_order_id}:{index}"))


def _pipelines(order: SaeChangeOrder, now: float, status: int) -> tuple[list[dict], str]:
    """One pipeline per batch, and the id of the current one (running, or next to start)."""
    started = now >= order.runs_at
    progress = order.progress(now) if started else None
    current = ""
    out = []
    for index in range(order.batch_count):
        begin = progress.starts[index] if progress and index < len(progress.starts) else None
        end = progress.ends[index] if progress and index < len(progress.ends) else None
        if begin is None:
            pipe = SAE_PREPARING
        elif end is None:
            pipe = SAE_PREPARING if status == SAE_PREPARING else SAE_RUNNING
        elif progress and progress.phase == DONE and index == order.batch_count - 1:
            pipe = SAE_FAILED if order.sub_status_abnormal else SAE_OUTCOMES[order.outcome]
        else:
            pipe = SAE_SUCCEEDED
        if not current and pipe in (SAE_PREPARING, SAE_RUNNING):
            current = _pipeline_id(order, index)
        out.append(
            {
                "PipelineId": _pipeline_id(order, index),
                "PipelineName": f"Batch {index + 1}",
                "Status": pipe,
                "BatchType": 0 if order.batch_type == "auto" else 1,
                "ParallelCount": 0,
                "StartTime": epoch_ms(begin) if begin is not None else None,
                "UpdateTime": epoch_ms(end if end is not None else now)
                if begin is not None
                else None,
            }
        )
    return out, current


def _order_data(order: SaeChangeOrder, app: SaeApplication | None, now: float) -> dict:
    status, sub_status = order.status(now)
    pipelines, current = _pipelines(order, now, status)
    ended_badly = status not in (SAE_SUCCEEDED,) and (
        status in SAE_FINAL_STATUSES or sub_status == 1
    )
    return {
        "ChangeOrderId": order.change_order_id,
        "AppId": order.app_id,
        "AppName": app.name if app else "",
        "Status": status,
        "SubStatus": sub_status,
        "ErrorMessage": order.failure_message if ended_badly else "",
        "CoType": CO_TYPE,
        "CoTypeCode": CO_TYPE_CODE,
        "CreateTime": shanghai_time(order.created_at),
        "BatchCount": order.batch_count,
        "BatchType": order.batch_type,
        "BatchWaitTime": int(order.batch_wait_s // 60),
        "Auto": order.batch_type == "auto",
        "CurrentPipelineId": current,
        "Description": "",
        "ApprovalId": "" if order.approval_s is None else f"approval-{order.change_order_id}",
        "SupportRollback": False,
        "Pipelines": pipelines,
    }


def describe_change_order(ctx: CallContext) -> dict[str, Any]:
    """``GET /pop/v1/sam/changeorder/DescribeChangeOrder``: one change order."""
    change_order_id = _required(ctx, "ChangeOrderId")
    with ctx.world.lock:
        order = ctx.world.sae_orders.get(change_order_id)
        if order is None or not ctx.visible(order.region, order.account_id):
            raise SaeError(400, "InvalidChangeOrder.NotFound", "The change order does not exist.")
        data = _order_data(order, ctx.world.sae_apps.get(order.app_id), ctx.now)
    return _ok(data)


def list_change_orders(ctx: CallContext) -> dict[str, Any]:
    """``GET /pop/v1/sam/changeorder/ListChangeOrders``: an app's change orders, newest
    first, filtered by ``CoType`` and ``CoStatus``, one page (``CurrentPage``, ``PageSize``)."""
    app_id = _required(ctx, "AppId")
    co_type = (ctx.params.get("CoType") or "").strip() or None
    co_status = _int(ctx, "CoStatus", low=0)
    page = _int(ctx, "CurrentPage", low=1) or 1
    size = _int(ctx, "PageSize", low=1, high=10000) or DEFAULT_PAGE_SIZE
    with ctx.world.lock:
        _find_app(ctx, app_id)
        orders = sorted(
            (o for o in ctx.world.sae_orders.values() if o.app_id == app_id),
            key=lambda o: o.created_at,
            reverse=True,
        )
        if co_type is not None and co_type != CO_TYPE_CODE:
            orders = []  # every order the emulator makes is an application restart
        if co_status is not None:
            orders = [o for o in orders if o.status(ctx.now)[0] == co_status]
        total = len(orders)
        items = []
        for order in orders[(page - 1) * size : page * size]:
            finished = order.finished_at(ctx.now)
            items.append(
                {
                    "ChangeOrderId": order.change_order_id,
                    "AppId": order.app_id,
                    "CoType": CO_TYPE,
                    "CoTypeCode": CO_TYPE_CODE,
                    "Status": order.status(ctx.now)[0],
                    "Source": order.source,
                    "BatchCount": order.batch_count,
                    "BatchType": order.batch_type,
                    "CreateTime": shanghai_time(order.created_at),
                    "FinishTime": shanghai_time(finished) if finished is not None else "",
                    "CreateUserId": order.account_id,
                    "UserId": order.account_id,
                    "Description": "",
                    "GroupId": "",
                }
            )
    return _ok(
        {"ChangeOrderList": items, "CurrentPage": page, "PageSize": size, "TotalSize": total}
    )


class NotWaiting(Exception):
    """The order is not waiting for a manual confirmation now."""


def confirm(order: SaeChangeOrder, now: float) -> int:
    """Release the next batch of an order at status 8; return the batch released (0-based).
    Raise :class:`NotWaiting` otherwise. Call with the world lock held."""
    if now < order.runs_at or order.progress(now).phase != HELD:
        raise NotWaiting(
            f"change order {order.change_order_id} is not waiting for a manual confirmation "
            f"(status {order.status(now)[0]})"
        )
    progress = order.progress(now)
    record_release(order.confirmed_at, progress.batch, now)
    return progress.batch + 1


def describe_application_groups(ctx: CallContext) -> dict[str, Any]:
    """``GET /pop/v1/sam/app/describeApplicationGroups``: the app's one group,
    ``_DEFAULT_GROUP``, with ``Replicas`` (its ``instance_count``) and ``RunningInstances``
    (all but its ``instances_not_running``, and one fewer while a change order runs)."""
    app_id = _required(ctx, "AppId")
    _int(ctx, "CurrentPage", low=1)
    _int(ctx, "PageSize", low=1, high=10000)
    with ctx.world.lock:
        app = _find_app(ctx, app_id)
        restarting = any(
            o.app_id == app_id and o.status(ctx.now)[0] not in SAE_FINAL_STATUSES
            for o in ctx.world.sae_orders.values()
        )
        running = max(0, app.instance_count - app.instances_not_running - int(restarting))
        group = {
            "GroupId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sae-group:{app_id}")),
            "GroupName": "_DEFAULT_GROUP",
            "GroupType": 0,
            "Replicas": app.instance_count,
            "RunningInstances": running,
            "PackageType": "Image",
            "PackageVersion": "",
            "ImageUrl": "",
        }
    return _ok([group])


#: (method, path) -> (action, handler)
ROUTES = {
    ("PUT", "/pop/v1/sam/app/restartApplication"): ("RestartApplication", restart_application),
    ("GET", "/pop/v1/sam/changeorder/DescribeChangeOrder"): (
        "DescribeChangeOrder",
        describe_change_order,
    ),
    ("GET", "/pop/v1/sam/changeorder/ListChangeOrders"): (
        "ListChangeOrders",
        list_change_orders,
    ),
    ("GET", "/pop/v1/sam/app/describeApplicationGroups"): (
        "DescribeApplicationGroups",
        describe_application_groups,
    ),
}
