"""Web+ 2019-03-20 operations: RestartAppEnv, DescribeChange, DescribeAppEnvStatus,
ResumeChange.

Web+ business errors are real HTTP 4xx answers; success carries ``Code: "OK"``.

A restart runs in batches: ``BatchSize`` or ``BatchPercent`` split the env's
``instance_count`` instances into batches of ``change_duration_s`` seconds each (one batch
without them), ``BatchInterval`` (times the env's ``batch_interval_unit_s``) apart. With
``PauseBetweenBatches`` the change is paused (``ChangePaused``) after each batch until
ResumeChange (or ``POST /__emulator__/confirm``, or the env's ``auto_resume_s``). After the
last batch it ends as the env's ``change_outcome`` says: success, failed, aborted, timed_out.
"""

from __future__ import annotations

import secrets
from typing import Any

from emulator.context import CallContext
from emulator.errors import ApiError
from emulator.state import (
    HELD,
    INTERVAL,
    RESTARTABLE_ENV_STATUSES,
    WebPlusChange,
    WebPlusEnvironment,
    epoch_ms,
    record_release,
)

PRODUCT = "webplus"
ACTION_NAME = "RestartApp"
CHANGE_NAME = "restart.app"
UPDATING = "UPDATING"

#: change_outcome -> ChangeMessage of a change that ended without success.
FAILURE_MESSAGES = {
    "failed": "Failed to restart the application on 1 instance(s): health check did not pass "
    "in time (injected by the emulator).",
    "aborted": "The change was aborted during batch {batch} of {count} (injected by the emulator).",
    "timed_out": "The change timed out during batch {batch} of {count}: the instances did "
    "not become healthy in time (injected by the emulator).",
}


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
        outcome = env.change_outcome or "success"
        fails = env.fail_changes or ctx.faults.change_fails(env_id)
        if fails and outcome == "success":
            outcome = "failed"
        batches = env.batch_count(batch_size, batch_percent)
        message = ""
        if outcome != "success":
            message = FAILURE_MESSAGES[outcome].format(batch=batches, count=batches)
        change = WebPlusChange(
            change_id="wc-" + secrets.token_hex(12),
            env_id=env_id,
            region=env.region,
            account_id=ctx.caller.account_id,
            created_at=ctx.now,
            duration_s=ctx.world.duration_for(env.change_duration_s),
            status_before=env.status,
            fails=outcome != "success",
            failure_message=message,
            batch_size=batch_size,
            batch_percent=batch_percent,
            batch_interval=batch_interval,
            pause_between_batches=pause,
            outcome=outcome,
            batch_count=batches,
            batch_interval_s=(batch_interval or 0) * float(env.batch_interval_unit_s),
            auto_resume_s=env.auto_resume_s,
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
    progress = change.progress(now)
    finished_at = progress.finished_at
    finished = finished_at is not None
    outcome = change.final_outcome
    succeeded = finished and outcome == "success"
    paused = progress.phase == HELD
    if not finished:
        batch = progress.batch + 1
        if paused:
            message = (
                f"Batch {batch} of {change.batch_count} done; paused until the change is "
                "resumed (ResumeChange)."
            )
        elif progress.phase == INTERVAL:
            message = f"Batch {batch} of {change.batch_count} done; waiting for the next batch."
        else:
            message = (
                f"Restarting the application instances (batch {batch} of {change.batch_count})."
            )
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
        "ChangeAborted": finished and outcome == "aborted",
        "ChangePaused": paused,
        "ChangeTimedout": finished and outcome == "timed_out",
        "CreateUsername": change.account_id,
        "CreateTime": epoch_ms(change.created_at),
        "UpdateTime": epoch_ms(finished_at if finished else now),
        "FinishTime": epoch_ms(finished_at) if finished else None,
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
        down = min(env.instance_count, env.instances_not_running) if status == "RUNNING" else 0
        healthy = env.instance_count - down if status == "RUNNING" else 0
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
                "UnhealthyInstances": down,
                "UnknownInstances": env.instance_count - healthy
                if status not in ("RUNNING", "STOPPED", "TERMINATED")
                else 0,
            },
        }
    return _ok(EnvStatus=view)


class NotPaused(Exception):
    """The change is not paused between batches now."""


def resume(change: WebPlusChange, now: float) -> int:
    """Resume a change paused between batches; return the batch that starts (0-based).
    Raise :class:`NotPaused` otherwise. Call with the world lock held."""
    progress = change.progress(now)
    if progress.phase != HELD:
        raise NotPaused(f"change {change.change_id} is not paused between batches")
    record_release(change.resumed_at, progress.batch, now)
    return progress.batch + 1


def resume_change(ctx: CallContext) -> dict[str, Any]:
    """``POST /pop/v1/wam/change/resume``: resume a change paused between batches.

    Form ``ChangeId``, optional query ``RegionId`` (as alibabacloud-webplus20190320
    ``resume_change_with_options`` and aliyun-python-sdk-webplus ``ResumeChangeRequest``
    send them). 404 ``ChangeNotExists`` for an unknown or foreign change, 400
    ``ChangeNotPaused`` (the emulator's choice) for one that is not paused.
    """
    change_id = ctx.required("ChangeId")
    with ctx.world.lock:
        ctx.world.settle(ctx.now)
        change = ctx.world.env_changes.get(change_id)
        if change is None or not ctx.visible(change.region, change.account_id):
            raise ApiError(404, "ChangeNotExists", "The specified change does not exist.")
        try:
            resume(change, ctx.now)
        except NotPaused:
            raise ApiError(
                400,
                "ChangeNotPaused",
                "The specified change is not paused: only a change paused between batches "
                "can be resumed.",
            ) from None
        ctx.world.save()
    return _ok(
        EnvChange={
            "ChangeId": change.change_id,
            "EnvId": change.env_id,
            "StartTime": epoch_ms(change.created_at),
        }
    )


#: (method, path) -> (action, handler)
ROUTES = {
    ("POST", "/pop/v1/wam/appEnv/restart"): ("RestartAppEnv", restart_app_env),
    ("GET", "/pop/v1/wam/changeInfo"): ("DescribeChange", describe_change),
    ("GET", "/pop/v1/wam/appEnv/status"): ("DescribeAppEnvStatus", describe_app_env_status),
    ("POST", "/pop/v1/wam/change/resume"): ("ResumeChange", resume_change),
}
