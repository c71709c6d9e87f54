"""Web+ 2019-03-20 operations: RestartAppEnv, DescribeChange, DescribeAppEnvStatus.

Web+ business errors are real HTTP 4xx answers; success carries ``Code: "OK"``.
"""

from __future__ import annotations

import secrets
from typing import Any

from emulator.context import CallContext
from emulator.errors import ApiError
from emulator.state import (
    RESTARTABLE_ENV_STATUSES,
    WebPlusChange,
    WebPlusEnvironment,
    epoch_ms,
)

PRODUCT = "webplus"
ACTION_NAME = "RestartApp"
CHANGE_NAME = "restart.app"
UPDATING = "UPDATING"


def _ok(**fields: Any) -> dict[str, Any]:
    return {"Code": "OK", "Message": "success", **fields}


def resource_auth_failed() -> ApiError:
    """403 ResourceAuthFailed, as documented for unknown or foreign ids."""
    return ApiError(
        403,
        "ResourceAuthFailed",
        "The specified resource does not exist or it does not belong to this Alibaba Cloud "
        "account.",
    )


def _find_env(ctx: CallContext, env_id: str) -> WebPlusEnvironment:
    env = ctx.world.envs.get(env_id)
    if env is None or not ctx.visible(env.region, env.account_id):
        raise resource_auth_failed()
    return env


def _latest_change(ctx: CallContext, env_id: str) -> WebPlusChange | None:
    changes = [c for c in ctx.world.env_changes.values() if c.env_id == env_id]
    return max(changes, key=lambda c: c.created_at) if changes else None


def restart_app_env(ctx: CallContext) -> dict[str, Any]:
    """``POST /pop/v1/wam/appEnv/restart``: start a RestartApp change."""
    env_id = ctx.required("EnvId")
    batch_size = ctx.optional_int("BatchSize", low=1)
    batch_percent = ctx.optional_int("BatchPercent", low=1, high=100)
    batch_interval = ctx.optional_int("BatchInterval", low=0)
    pause = ctx.optional_bool("PauseBetweenBatches")
    with ctx.world.lock:
        ctx.world.settle(ctx.now)
        env = _find_env(ctx, env_id)
        latest = _latest_change(ctx, env_id)
        if latest is not None and not latest.finished(ctx.now):
            raise ApiError(
                400,
                "EnvOnChanging",
                "An error occurred while starting the change. Wait until the ongoing change "
                "is complete.",
            )
        if env.status not in RESTARTABLE_ENV_STATUSES:
            raise ApiError(
                403,
                "StatusNotAllowedRestart",
                "Only a running environment or a terminated environment can be restarted.",
            )
        fails = env.fail_changes or ctx.faults.change_fails(env_id)
        change = WebPlusChange(
            change_id="wc-" + secrets.token_hex(12),
            env_id=env_id,
            region=env.region,
            account_id=ctx.caller.account_id,
            created_at=ctx.now,
            duration_s=ctx.world.duration_for(env.change_duration_s),
            status_before=env.status,
            fails=fails,
            failure_message=(
                "Failed to restart the application on 1 instance(s): health check did not pass "
                "in time (injected by the emulator)."
                if fails
                else ""
            ),
            batch_size=batch_size,
            batch_percent=batch_percent,
            batch_interval=batch_interval,
            pause_between_batches=pause,
        )
        ctx.world.env_changes[change.change_id] = change
        ctx.world.save()
    ctx.result_id = change.change_id
    return _ok(
        EnvChange={
            "ChangeId": change.change_id,
            "EnvId": env_id,
            "StartTime": epoch_ms(change.created_at),
        }
    )


def _change_view(change: WebPlusChange, now: float) -> dict[str, Any]:
    finished = change.finished(now)
    succeeded = finished and not change.fails
    if not finished:
        message = "Restarting the application instances."
    elif succeeded:
        message = "The change succeeded."
    else:
        message = change.failure_message
    return {
        "ChangeId": change.change_id,
        "EnvId": change.env_id,
        "ActionName": ACTION_NAME,
        "ChangeName": CHANGE_NAME,
        "ChangeDescription": "Restart the application environment.",
        "ChangeMessage": message,
        "ChangeFinished": finished,
        "ChangeSucceed": succeeded,
        "ChangeAborted": False,
        "ChangePaused": False,
        "ChangeTimedout": False,
        "CreateUsername": change.account_id,
        "CreateTime": epoch_ms(change.created_at),
        "UpdateTime": epoch_ms(min(now, change.finished_at)),
        "FinishTime": epoch_ms(change.finished_at) if finished else None,
    }


def describe_change(ctx: CallContext) -> dict[str, Any]:
    """``GET /pop/v1/wam/changeInfo``: one change of an environment."""
    env_id = ctx.required("EnvId")
    change_id = ctx.required("ChangeId")
    with ctx.world.lock:
        ctx.world.settle(ctx.now)
        _find_env(ctx, env_id)
        change = ctx.world.env_changes.get(change_id)
        if change is None or change.env_id != env_id:
            raise ApiError(404, "ChangeNotExists", "The specified change does not exist.")
        view = _change_view(change, ctx.now)
    return _ok(Change=view)


def describe_app_env_status(ctx: CallContext) -> dict[str, Any]:
    """``GET /pop/v1/wam/appEnv/status``: the environment's status and its latest change."""
    env_id = ctx.required("EnvId")
    with ctx.world.lock:
        ctx.world.settle(ctx.now)
        env = _find_env(ctx, env_id)
        latest = _latest_change(ctx, env_id)
        applying = latest is not None and not latest.finished(ctx.now)
        status = UPDATING if applying else env.status
        last_status = latest.status_before if (applying and latest) else env.last_status
        healthy = env.instance_count if status == "RUNNING" else 0
        view = {
            "EnvId": env.env_id,
            "EnvName": env.name,
            "EnvStatus": status,
            "LastEnvStatus": last_status or "",
            "ApplyingChange": applying,
            "AbortingChange": False,
            "LatestChangeId": latest.change_id if latest else "",
            "ChangeBanner": "",
            "InstanceAgentStatus": {
                "ConnectedInstances": env.instance_count,
                "DisconnectedInstances": 0,
            },
            "InstanceAppStatus": {
                "HealthyInstances": healthy,
                "StoppedInstances": env.instance_count - healthy
                if status in ("STOPPED", "TERMINATED")
                else 0,
                "UnhealthyInstances": 0,
                "UnknownInstances": env.instance_count - healthy
                if status not in ("RUNNING", "STOPPED", "TERMINATED")
                else 0,
            },
        }
    return _ok(EnvStatus=view)


#: (method, path) -> (action, handler)
ROUTES = {
    ("POST", "/pop/v1/wam/appEnv/restart"): ("RestartAppEnv", restart_app_env),
    ("GET", "/pop/v1/wam/changeInfo"): ("DescribeChange", describe_change),
    ("GET", "/pop/v1/wam/appEnv/status"): ("DescribeAppEnvStatus", describe_app_env_status),
}
