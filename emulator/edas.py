"""EDAS 2017-08-01 operations: RestartApplication, RestartK8sApplication, GetChangeOrderInfo,
ListRecentChangeOrder, ContinuePipeline, and the instance reads QueryApplicationStatus (ECS
applications) and DescribeAppInstanceList (Kubernetes applications).

An application's ``cluster_type`` says which restart it takes: ``ecs`` (the default)
``RestartApplication``, ``k8s`` ``RestartK8sApplication``; the other one is refused with
body code 605. Both make the same kind of change order, read with GetChangeOrderInfo and
ListRecentChangeOrder alike.

A change order runs in batches (``batches`` of the app, default 1). Between two batches an
Automatic order waits ``batch_wait_s`` at status 9 and a Manual one stays at status 8 until
ContinuePipeline (or ``POST /__emulator__/confirm``, or ``auto_confirm_s``) releases the next
batch. After the last batch it ends at the status of the app's ``change_outcome``.

EDAS answers business errors with HTTP 200 and an integer body ``Code`` other than 200
(:class:`~emulator.errors.EdasBusinessError`); the codes are the emulator's choice and are
listed in emulator/README.md.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from emulator.context import CallContext
from emulator.errors import (
    EDAS_CODE_CHANGE_IN_PROGRESS,
    EDAS_CODE_INVALID_ECC,
    EDAS_CODE_NOT_FOUND,
    EDAS_CODE_NOT_WAITING,
    EDAS_CODE_WRONG_CLUSTER,
    EdasBusinessError,
)
from emulator.state import (
    DONE,
    EDAS_EXECUTING,
    EDAS_FAILED,
    EDAS_FINAL_STATUSES,
    EDAS_PARTIAL,
    EDAS_READY,
    EDAS_SUCCESS,
    HELD,
    EdasApplication,
    EdasChangeOrder,
    Progress,
    record_release,
    shanghai_time,
)

PRODUCT = "edas"
CO_TYPE = "Restart Application"
CO_TYPE_CODE = "CoRestart"
K8S_CO_TYPE = "Restart K8s Application"
K8S_CO_TYPE_CODE = "CoRestartK8sApplication"
TASK_NAMES = ("Stop application", "Start application", "Health check")

#: change_outcome -> (TaskErrorCode, TaskErrorMessage template) of the failing task.
FAILURES = {
    "failed": (
        "RestartFailed",
        "Failed to restart the application on ECC {ecc}: health check did not pass in time "
        "(injected by the emulator).",
    ),
    "terminated": (
        "ChangeOrderTerminated",
        "The change order was terminated before batch {batch} of {count} finished "
        "(injected by the emulator).",
    ),
    "partial": (
        "PartialRestartFailed",
        "Batch {batch} of {count} failed: the application did not start on ECC {ecc}; the "
        "other instances restarted (injected by the emulator).",
    ),
    "system_error": (
        "SystemException",
        "A system exception occurred while restarting the application on ECC {ecc} "
        "(injected by the emulator).",
    ),
}


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


def _check_no_order_running(ctx: CallContext, app_id: str) -> None:
    for order in ctx.world.change_orders.values():
        if order.app_id == app_id and order.status(ctx.now) not in EDAS_FINAL_STATUSES:
            raise EdasBusinessError(
                EDAS_CODE_CHANGE_IN_PROGRESS,
                f"Another change order is in progress for application {app_id}: "
                f"{order.change_order_id}. Wait until it finishes.",
            )


def _check_cluster(app: EdasApplication, wanted: str) -> None:
    if app.cluster_type != wanted:
        where = "a Kubernetes" if app.cluster_type == "k8s" else "an ECS"
        other = "RestartK8sApplication" if app.cluster_type == "k8s" else "RestartApplication"
        raise EdasBusinessError(
            EDAS_CODE_WRONG_CLUSTER,
            f"Application {app.app_id} is deployed in {where} cluster: restart it with {other}.",
        )


def _new_order(
    ctx: CallContext,
    app: EdasApplication,
    targets: list[str],
    co_type: str,
    co_type_code: str,
    timeout_s: int | None = None,
) -> EdasChangeOrder:
    """Create and store a restart change order of ``app`` (world lock held)."""
    outcome = app.change_outcome or "success"
    fails = app.fail_changes or ctx.faults.change_fails(app.app_id)
    if fails and outcome == "success":
        outcome = "failed"
    message = ""
    if outcome != "success":
        template = FAILURES[outcome][1]
        message = template.format(
            ecc=targets[-1] if targets else "-", batch=app.batches, count=app.batches
        )
    order = EdasChangeOrder(
        change_order_id=str(uuid.uuid4()),
        app_id=app.app_id,
        region=app.region,
        account_id=ctx.caller.account_id,
        created_at=ctx.now,
        duration_s=ctx.world.duration_for(app.change_duration_s),
        fails=outcome != "success",
        failure_message=message,
        ecc_ids=targets,
        outcome=outcome,
        batch_count=app.batches,
        batch_type=app.batch_type,
        batch_wait_s=float(app.batch_wait_s),
        auto_confirm_s=app.auto_confirm_s,
        co_type=co_type,
        co_type_code=co_type_code,
        timeout_s=timeout_s,
    )
    ctx.world.change_orders[order.change_order_id] = order
    ctx.world.save()
    ctx.result_id = order.change_order_id
    return order


def restart_application(ctx: CallContext) -> dict[str, Any]:
    """``POST /pop/v5/changeorder/co_restart``: create a restart change order."""
    app_id = ctx.required("AppId")
    ecc_raw = ctx.params.get("EccInfo") or ""
    with ctx.world.lock:
        app = _find_app(ctx, app_id)
        _check_cluster(app, "ecs")
        ecc_ids = [e.strip() for e in ecc_raw.split(",") if e.strip()]
        unknown = [e for e in ecc_ids if e not in app.ecc_ids]
        if unknown:
            raise EdasBusinessError(
                EDAS_CODE_INVALID_ECC,
                f"EccInfo names instances that do not belong to application {app_id}: "
                + ",".join(unknown),
            )
        _check_no_order_running(ctx, app_id)
        order = _new_order(ctx, app, ecc_ids or list(app.ecc_ids), CO_TYPE, CO_TYPE_CODE)
    return _ok(ChangeOrderId=order.change_order_id)


def restart_k8s_application(ctx: CallContext) -> dict[str, Any]:
    """``POST /pop/v5/k8s/acs/restart_k8s_app``: restart an application in a Kubernetes
    cluster. Query ``AppId``, optional ``Timeout`` (seconds, an integer >= 1; recorded on the
    order as ``timeout_s``). Its pods (the app's ``ecc_ids``, if seeded) are the targets."""
    app_id = ctx.required("AppId")
    timeout = ctx.optional_int("Timeout", low=1)
    with ctx.world.lock:
        app = _find_app(ctx, app_id)
        _check_cluster(app, "k8s")
        _check_no_order_running(ctx, app_id)
        order = _new_order(ctx, app, list(app.ecc_ids), K8S_CO_TYPE, K8S_CO_TYPE_CODE, timeout)
    return _ok(ChangeOrderId=order.change_order_id)


def _finish_time(order: EdasChangeOrder, now: float) -> str | None:
    finished_at = order.finished_at(now)
    return shanghai_time(finished_at) if finished_at is not None else None


def _pipeline_status(order: EdasChangeOrder, progress: Progress, index: int) -> int:
    """A batch's PipelineStatus: 0 not started, 1 running, 2 done; the last batch of a
    failing order ends at 3, 6 or 10 (PipelineStatus has no 7: a partial success is 3)."""
    if index >= len(progress.starts):
        return EDAS_READY
    if index >= len(progress.ends):
        return EDAS_EXECUTING
    if progress.phase == DONE and index == order.batch_count - 1:
        final = order.final_status
        return EDAS_FAILED if final == EDAS_PARTIAL else final
    return EDAS_SUCCESS


def _tasks(order: EdasChangeOrder, pipeline: int, status: int, elapsed: float) -> list[dict]:
    """The batch's tasks: run one after the other; a failing batch fails on its last task,
    which carries the error code and message (its TaskStatus is the pipeline's)."""
    failing = status not in (EDAS_READY, EDAS_EXECUTING, EDAS_SUCCESS)
    running = min(len(TASK_NAMES) - 1, int(elapsed / order.duration_s * len(TASK_NAMES)))
    tasks = []
    for index, name in enumerate(TASK_NAMES):
        if status == EDAS_EXECUTING:
            task_status = (
                EDAS_SUCCESS if index < running else EDAS_EXECUTING if index == running else 0
            )
        elif failing:
            task_status = status if index == len(TASK_NAMES) - 1 else EDAS_SUCCESS
        else:
            task_status = status
        failed = failing and index == len(TASK_NAMES) - 1
        code = FAILURES[order.outcome or "failed"][0] if failed else ""
        tasks.append(
            {
                "TaskId": f"{order.change_order_id}-p{pipeline + 1}-t{index + 1}",
                "TaskName": name,
                "TaskStatus": str(task_status),
                "TaskMessage": order.failure_message if failed else "",
                "TaskErrorCode": code,
                "TaskErrorMessage": order.failure_message if failed else "",
                "TaskErrorIgnorance": 0,
                "RetryType": 0,
                "ShowManualIgnorance": False,
            }
        )
    return tasks


def _pipeline_id(order: EdasChangeOrder, index: int) -> str:
    return f"{order.change_order_id}-p{index + 1}"


def _order_info(order: EdasChangeOrder, now: float) -> dict[str, Any]:
    progress = order.progress(now)
    status = order.status(now)
    pipelines = []
    for index in range(order.batch_count):
        pipeline_status = _pipeline_status(order, progress, index)
        started = progress.starts[index] if index < len(progress.starts) else None
        ended = progress.ends[index] if index < len(progress.ends) else None
        if status == EDAS_READY:
            pipeline_status = EDAS_READY
        stage_id = f"{_pipeline_id(order, index)}-s1"
        elapsed = now - started if started is not None else 0.0
        pipelines.append(
            {
                "PipelineId": _pipeline_id(order, index),
                "PipelineName": f"Batch: {index + 1}",
                "PipelineStatus": pipeline_status,
                "StartTime": shanghai_time(started) if started is not None else "",
                "UpdateTime": shanghai_time(ended if ended is not None else now)
                if started is not None
                else "",
                "StageList": {
                    "StageInfoDTO": [
                        {"StageId": stage_id, "StageName": "Restart", "Status": pipeline_status}
                    ]
                },
                "StageDetailList": {
                    "StageDetailDTO": [
                        {
                            "StageId": stage_id,
                            "StageName": "Restart",
                            "StageStatus": pipeline_status,
                            "TaskList": {
                                "TaskInfoDTO": _tasks(order, index, pipeline_status, elapsed)
                            },
                        }
                    ]
                },
            }
        )
    return {
        "ChangeOrderId": order.change_order_id,
        "Status": status,
        "BatchCount": order.batch_count,
        "BatchType": order.batch_type,
        "CoType": order.co_type,
        "CreateTime": shanghai_time(order.created_at),
        "CreateUserId": order.account_id,
        "Desc": "",
        "ChangeOrderDescription": "",
        "SupportRollback": False,
        "Targets": {"Items": list(order.ecc_ids)},
        "TrafficControl": {"Routes": "", "Rules": "", "Tips": ""},
        "PipelineInfoList": {"PipelineInfo": pipelines},
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
            items.append(
                {
                    "ChangeOrderId": order.change_order_id,
                    "Status": order.status(ctx.now),
                    "CoType": order.co_type,
                    "CoTypeCode": order.co_type_code,
                    "BatchCount": order.batch_count,
                    "BatchType": order.batch_type,
                    "CreateTime": shanghai_time(order.created_at),
                    "FinishTime": _finish_time(order, ctx.now),
                    "GroupId": "",
                    "Source": order.source,
                    "AppId": order.app_id,
                    "UserId": order.account_id,
                    "CreateUserId": order.account_id,
                    "ChangeOrderDescription": "",
                }
            )
    return _ok(ChangeOrderList={"ChangeOrder": items})


class NotWaiting(Exception):
    """The change is not waiting for a confirmation now."""


def confirm(order: EdasChangeOrder, now: float) -> int:
    """Release the next batch of an order waiting at status 8; return the batch released
    (0-based). Raise :class:`NotWaiting` otherwise. Call with the world lock held."""
    progress = order.progress(now)
    if progress.phase != HELD:
        raise NotWaiting(
            f"change order {order.change_order_id} is not waiting for a manual confirmation "
            f"(status {order.status(now)})"
        )
    record_release(order.confirmed_at, progress.batch, now)
    return progress.batch + 1


def continue_pipeline(ctx: CallContext) -> dict[str, Any]:
    """``GET /pop/v5/changeorder/pipeline_batch_confirm``: release the next batch.

    ``PipelineId`` is the pipeline of the batch waiting to start (GetChangeOrderInfo lists
    one per batch). ``Confirm=false`` releases nothing. Business code 604 when that batch is
    not the one waiting (the order is not at status 8, or another batch is next).
    """
    pipeline_id = ctx.required("PipelineId")
    release = ctx.optional_bool("Confirm")
    order_id, _, number = pipeline_id.rpartition("-p")
    with ctx.world.lock:
        order = ctx.world.change_orders.get(order_id)
        if (
            order is None
            or not ctx.visible(order.region, order.account_id)
            or not number.isdigit()
            or not 1 <= int(number) <= order.batch_count
        ):
            raise EdasBusinessError(
                EDAS_CODE_NOT_FOUND,
                f"The pipeline does not exist or you do not have permission to access it: "
                f"{pipeline_id}",
            )
        progress = order.progress(ctx.now)
        if progress.phase != HELD or int(number) != progress.batch + 2:
            raise EdasBusinessError(
                EDAS_CODE_NOT_WAITING,
                f"The pipeline {pipeline_id} is not waiting for confirmation: change order "
                f"{order_id} is at status {order.status(ctx.now)}.",
            )
        if release is not False:
            confirm(order, ctx.now)
            ctx.world.save()
    return _ok()


def _instances_running(ctx: CallContext, app: EdasApplication) -> int:
    """How many of the app's instances run now: all but its ``instances_not_running``, and one
    fewer while a change order of it runs (that instance is restarting). World lock held."""
    restarting = any(
        order.app_id == app.app_id and order.status(ctx.now) not in EDAS_FINAL_STATUSES
        for order in ctx.world.change_orders.values()
    )
    return max(0, app.instances - app.instances_not_running - (1 if restarting else 0))


def query_application_status(ctx: CallContext) -> dict[str, Any]:
    """``GET /pop/v5/app/app_status``: an application and its instances. ``AppInfo``:
    ``Application`` (``ApplicationId``, ``Name``, ``RegionId``, ``InstanceCount``,
    ``RunningInstanceCount``, as the SDK's model names them), ``EccList.Ecc[]`` (``EccId``,
    ``AppId``, ``AppState``: 7 running, 1 stopped, as ListApplicationEcc documents them;
    ``TaskState`` 2), ``EcuList``, ``GroupList`` and ``DeployRecordList`` (empty)."""
    app_id = ctx.required("AppId")
    with ctx.world.lock:
        app = _find_app(ctx, app_id)
        total = app.instances
        running = _instances_running(ctx, app)
        ecc_ids = list(app.ecc_ids) or [f"{app.app_id}-ecc-{i + 1}" for i in range(total)]
        eccs = [
            {
                "EccId": ecc,
                "AppId": app.app_id,
                "AppState": 7 if index < running else 1,
                "TaskState": 2,
                "EcuId": f"{ecc}-ecu",
                "GroupId": "",
                "Ip": f"172.16.0.{index + 1}",
                "VpcId": "",
                "ContainerStatus": "",
                "CreateTime": int(ctx.now * 1000),
                "UpdateTime": int(ctx.now * 1000),
            }
            for index, ecc in enumerate(ecc_ids[:total])
        ]
    info = {
        "Application": {
            "ApplicationId": app.app_id,
            "Name": app.name,
            "RegionId": app.region,
            "InstanceCount": total,
            "RunningInstanceCount": running,
        },
        "EccList": {"Ecc": eccs},
        "EcuList": {"Ecu": []},
        "GroupList": {"Group": []},
        "DeployRecordList": {"DeployRecord": []},
    }
    return _ok(AppInfo=info)


def _pod(app: EdasApplication, name: str, ready: bool, now: float) -> dict[str, Any]:
    """A pod as Kubernetes writes it (the fields PodRaw readers use)."""
    condition = {"type": "Ready", "status": "True" if ready else "False"}
    container = {"name": "main", "ready": ready, "restartCount": 0 if ready else 3}
    if ready:
        container["state"] = {"running": {"startedAt": shanghai_time(now)}}
    else:
        container["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {"edas.appid": app.app_id},
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "PodScheduled", "status": "True"}, condition],
            "containerStatuses": [container],
        },
    }


def describe_app_instance_list(ctx: CallContext) -> dict[str, Any]:
    """``GET /pop/v5/oam/app_instance_list``: the pods of a Kubernetes application.
    ``InstanceList[]``: ``AppId``, ``GroupId``, ``GroupName``, ``NodeName``, ``Version``,
    ``Canary: false`` and ``PodRaw``, the pod as a JSON string (``status.phase`` Running;
    ``status.conditions`` Ready ``False`` and a CrashLoopBackOff container for the app's
    ``instances_not_running``, and for one pod while a change order runs)."""
    app_id = ctx.required("AppId")
    ctx.optional_bool("WithNodeInfo")
    with ctx.world.lock:
        app = _find_app(ctx, app_id)
        if app.cluster_type != "k8s":
            raise EdasBusinessError(
                EDAS_CODE_WRONG_CLUSTER,
                f"Application {app.app_id} is deployed in an ECS cluster: it has no pods; "
                "read its instances with QueryApplicationStatus.",
            )
        total = app.instances
        running = _instances_running(ctx, app)
        names = list(app.ecc_ids) or [f"{app.name or 'app'}-pod-{i + 1}" for i in range(total)]
        instances = [
            {
                "AppId": app.app_id,
                "GroupId": f"{app.app_id}-group",
                "GroupName": "_DEFAULT_GROUP",
                "NodeName": f"{app.region}.192.168.0.{index + 1}",
                "NodeLabels": None,
                "Version": shanghai_time(ctx.now),
                "Canary": False,
                "PodRaw": json.dumps(_pod(app, name, index < running, ctx.now)),
            }
            for index, name in enumerate(names[:total])
        ]
    return _ok(InstanceList=instances)


#: (method, path) -> (action, handler)
ROUTES = {
    ("POST", "/pop/v5/changeorder/co_restart"): ("RestartApplication", restart_application),
    ("POST", "/pop/v5/k8s/acs/restart_k8s_app"): (
        "RestartK8sApplication",
        restart_k8s_application,
    ),
    ("POST", "/pop/v5/changeorder/change_order_info"): (
        "GetChangeOrderInfo",
        get_change_order_info,
    ),
    ("POST", "/pop/v5/changeorder/change_order_list"): (
        "ListRecentChangeOrder",
        list_recent_change_order,
    ),
    ("GET", "/pop/v5/changeorder/pipeline_batch_confirm"): (
        "ContinuePipeline",
        continue_pipeline,
    ),
    ("GET", "/pop/v5/app/app_status"): ("QueryApplicationStatus", query_application_status),
    ("GET", "/pop/v5/oam/app_instance_list"): (
        "DescribeAppInstanceList",
        describe_app_instance_list,
    ),
}
