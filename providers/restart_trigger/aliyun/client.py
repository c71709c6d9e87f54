"""``AliyunClient``: the EDAS / Web+ operation table and one public method per operation.

Each method checks its arguments, builds the query or form, and sends through the
``Transport`` (one signed attempt, ``transport.py``) under one ``Deadline``:

* the caller's ``deadline`` (the trigger's timeout) bounds every call's retries and waits;
  without one, each call gets its own ``Deadline(DEFAULT_CALL_SECONDS)``;
* reads are retried on throttling, 5xx and transport failures with ``read_backoff``
  (``READ_BACKOFF`` by default);
* restarts go through ``recovery.send_restart`` with ``restart_backoff``
  (``RESTART_BACKOFF``): never blindly resent, a lost answer is checked first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import requests

from restart_trigger import __version__

from ..backoff import Backoff, Deadline
from .auth import AcsV3Auth
from .endpoints import resolve_endpoints, validate_region
from .errors import AliyunError, InvalidResponseError
from .recovery import RestartResult, find_edas_restart, find_webplus_restart, send_restart
from .retryable import wait_before_retry
from .transport import DEFAULT_TIMEOUT, Operation, Transport

__all__ = ["AliyunClient", "Operation", "RestartResult"]

EDAS_VERSION = "2017-08-01"
WEBPLUS_VERSION = "2019-03-20"

DEFAULT_CALL_SECONDS = 120.0
"""Deadline of one call (its retries and waits) when the client was given none."""
DEFAULT_OUTCOME_TOLERANCE = 30.0
"""Seconds subtracted from our send time when matching a server-side CreateTime."""

READ_BACKOFF = Backoff(first=0.5, factor=2.0, cap=20.0, jitter=True, max_attempts=5)
"""Retries of a read: throttling and 5xx are usually over within seconds."""
RESTART_BACKOFF = Backoff(first=0.5, factor=2.0, cap=10.0, jitter=True, max_attempts=10)
"""More patience for restarts: throttling and 5xx mean "not now", and giving up fails the
whole trigger, so its next `up` would restart every target again."""

RESTART_APPLICATION = Operation(
    "edas", "RestartApplication", "POST", "/pop/v5/changeorder/co_restart", EDAS_VERSION
)
GET_CHANGE_ORDER_INFO = Operation(
    "edas", "GetChangeOrderInfo", "POST", "/pop/v5/changeorder/change_order_info", EDAS_VERSION
)
LIST_RECENT_CHANGE_ORDER = Operation(
    "edas", "ListRecentChangeOrder", "POST", "/pop/v5/changeorder/change_order_list", EDAS_VERSION
)
RESTART_APP_ENV = Operation(
    "webplus", "RestartAppEnv", "POST", "/pop/v1/wam/appEnv/restart", WEBPLUS_VERSION
)
DESCRIBE_CHANGE = Operation(
    "webplus", "DescribeChange", "GET", "/pop/v1/wam/changeInfo", WEBPLUS_VERSION
)
DESCRIBE_APP_ENV_STATUS = Operation(
    "webplus", "DescribeAppEnvStatus", "GET", "/pop/v1/wam/appEnv/status", WEBPLUS_VERSION
)
"""Read only by lost-answer recovery of a Web+ restart (its ``LatestChangeId``)."""


# --- arguments and answers ------------------------------------------------------------------


def _id_set(values: Iterable[str] | str | None) -> frozenset[str]:
    if values is None:
        return frozenset()
    if isinstance(values, str):
        return frozenset({values})
    return frozenset(str(v) for v in values if v)


def _require_id(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value.strip()


def _optional_int(name: str, value: Any, low: int, high: int | None = None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {bounds}, got {value}")
    return str(value)


def _change_order_items(data: Mapping[str, Any]) -> list[dict]:
    container = data.get("ChangeOrderList")
    if isinstance(container, Mapping):
        container = container.get("ChangeOrder")
    if container is None:
        return []
    if isinstance(container, Mapping):
        container = [container]
    if not isinstance(container, list):
        raise InvalidResponseError(
            200, "InvalidResponse", "ChangeOrderList is not a list", data.get("RequestId")
        )
    return [item for item in container if isinstance(item, dict)]


def _section(data: Mapping[str, Any], key: str, op: Operation) -> dict:
    section = data.get(key)
    if not isinstance(section, dict):
        raise InvalidResponseError(
            200,
            "InvalidResponse",
            f"response has no {key}",
            data.get("RequestId"),
            operation=op.action,
        )
    return section


def _env_change_id(data: Mapping[str, Any]) -> Any:
    change = data.get("EnvChange")
    return change.get("ChangeId") if isinstance(change, Mapping) else None


class AliyunClient:
    """Client for the EDAS (2017-08-01) and Web+ (2019-03-20) operations restart-trigger uses.

    Args:
        credentials: ``Credentials`` (or any object with ``access_key_id``,
            ``access_key_secret``, ``security_token``).
        region: region id, sent as ``x-acs-region-id`` and used to pick default endpoints.
        endpoints: per-product overrides ``{"edas": url, "webplus": url}``; a bare host means
            https; ``http://`` only for loopback. Default: the SDKs' regional endpoints.
        deadline: the one deadline bounding every call's retries and waits (the trigger's
            timeout). Default: each call gets its own ``Deadline(DEFAULT_CALL_SECONDS)``.
        read_backoff: retries of reads (default ``READ_BACKOFF``: 5 attempts, 0.5 s doubling
            to at most 20 s, jittered).
        restart_backoff: retries of restarts (default ``RESTART_BACKOFF``: 10 attempts, capped
            at 10 s).
        timeout: ``(connect_seconds, read_seconds)`` per attempt (default ``(5, 30)``), each
            capped by the time left before the deadline.
        session: a ``requests.Session`` to use (default: a new one owned by the client).
        user_agent: extra user-agent text appended to ours (default none).
        wall_clock: epoch-seconds clock used to timestamp restart sends (default ``time.time``).
        outcome_tolerance: seconds of clock skew allowed when matching a change's CreateTime
            against our send time (default 30).
        auth: the request signer (default ``AcsV3Auth(credentials)``); tests inject clocks here.
    """

    def __init__(
        self,
        credentials: Any,
        region: str,
        endpoints: Mapping[str, str] | None = None,
        *,
        deadline: Deadline | None = None,
        read_backoff: Backoff | None = None,
        restart_backoff: Backoff | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        user_agent: str | None = None,
        wall_clock: Callable[[], float] = time.time,
        outcome_tolerance: float = DEFAULT_OUTCOME_TOLERANCE,
        auth: requests.auth.AuthBase | None = None,
    ) -> None:
        region = validate_region(region)
        secrets = [
            getattr(credentials, "access_key_secret", None),
            getattr(credentials, "security_token", None),
        ]
        base = f"restart-trigger/{__version__} python-requests/{requests.__version__}"
        self._owns_session = session is None
        self._transport = Transport(
            session=session or requests.Session(),
            auth=auth or AcsV3Auth(credentials),
            endpoints=resolve_endpoints(region, endpoints),
            region=region,
            user_agent=f"{base} {user_agent}" if user_agent else base,
            secrets=[s for s in secrets if s],
            timeout=timeout,
        )
        self._deadline = deadline
        self._read_backoff = read_backoff or READ_BACKOFF
        self._restart_backoff = restart_backoff or RESTART_BACKOFF
        self._wall_clock = wall_clock
        self._outcome_tolerance = outcome_tolerance

    def __repr__(self) -> str:
        t = self._transport
        return f"AliyunClient(region={t.region!r}, endpoints={t.endpoints!r})"

    def close(self) -> None:
        """Close the HTTP session if the client created it."""
        if self._owns_session:
            self._transport.session.close()

    def __enter__(self) -> AliyunClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- EDAS ---------------------------------------------------------------------------

    def restart_application(
        self,
        app_id: str,
        ecc_ids: Sequence[str] | str | None = None,
        *,
        known_change_ids: Iterable[str] | str | None = (),
    ) -> RestartResult:
        """Restart an EDAS application (all instances, or only ``ecc_ids``).

        ``known_change_ids`` are change orders the caller already knows about; they are never
        mistaken for this restart when its outcome has to be checked.
        Returns the ``ChangeOrderId``; raises ``AliyunError`` subclasses.
        """
        app_id = _require_id("app_id", app_id)
        query = {"AppId": app_id}
        if ecc_ids:
            ids = [ecc_ids] if isinstance(ecc_ids, str) else list(ecc_ids)
            ids = [_require_id("ecc_ids item", i) for i in ids]
            query["EccInfo"] = ",".join(ids)
        known = _id_set(known_change_ids)
        deadline = self._call_deadline()

        def find_accepted(since: datetime) -> str | None:
            data = self._transport.send(
                LIST_RECENT_CHANGE_ORDER, {"AppId": app_id}, deadline=deadline
            )
            return find_edas_restart(_change_order_items(data), app_id, since, known)

        return self._restart(
            RESTART_APPLICATION,
            query,
            None,
            deadline,
            target=f"EDAS application {app_id}",
            extract=lambda data: data.get("ChangeOrderId"),
            find_accepted=find_accepted,
        )

    def get_change_order_info(self, change_order_id: str) -> dict:
        """Return ``changeOrderInfo`` (lowercase c) of an EDAS change order."""
        change_order_id = _require_id("change_order_id", change_order_id)
        data = self._read(GET_CHANGE_ORDER_INFO, {"ChangeOrderId": change_order_id})
        info = data.get("changeOrderInfo", data.get("ChangeOrderInfo"))
        if not isinstance(info, dict):
            raise InvalidResponseError(
                200,
                "InvalidResponse",
                "response has no changeOrderInfo",
                data.get("RequestId"),
                operation=GET_CHANGE_ORDER_INFO.action,
            )
        return info

    def list_recent_change_orders(self, app_id: str) -> list[dict]:
        """Return ``ChangeOrderList.ChangeOrder`` (possibly empty) for an EDAS application."""
        app_id = _require_id("app_id", app_id)
        return _change_order_items(self._read(LIST_RECENT_CHANGE_ORDER, {"AppId": app_id}))

    # --- Web+ ---------------------------------------------------------------------------

    def restart_app_env(
        self,
        env_id: str,
        batch_size: int | None = None,
        batch_percent: int | None = None,
        batch_interval: int | None = None,
        pause_between_batches: bool | None = None,
        *,
        known_change_ids: Iterable[str] | str | None = (),
    ) -> RestartResult:
        """Restart a Web+ environment; optional phased-restart settings go in the form body.

        ``pause_between_batches`` is sent as ``true``/``false``. Parameters left ``None`` are
        not sent. Returns ``EnvChange.ChangeId``.
        """
        env_id = _require_id("env_id", env_id)
        if pause_between_batches is not None and not isinstance(pause_between_batches, bool):
            raise ValueError(f"pause_between_batches must be a bool, got {pause_between_batches!r}")
        form = {
            "EnvId": env_id,
            "BatchSize": _optional_int("batch_size", batch_size, 1),
            "BatchPercent": _optional_int("batch_percent", batch_percent, 1, 100),
            "BatchInterval": _optional_int("batch_interval", batch_interval, 0),
            "PauseBetweenBatches": (
                None if pause_between_batches is None else str(pause_between_batches).lower()
            ),
        }
        known = _id_set(known_change_ids)
        deadline = self._call_deadline()

        def describe_change(change_id: str) -> dict:
            query = {"EnvId": env_id, "ChangeId": change_id}
            return self._transport.send(DESCRIBE_CHANGE, query, deadline=deadline)

        def find_accepted(since: datetime) -> str | None:
            status = self._transport.send(
                DESCRIBE_APP_ENV_STATUS, {"EnvId": env_id}, deadline=deadline
            )
            return find_webplus_restart(status, describe_change, since, known)

        return self._restart(
            RESTART_APP_ENV,
            {},
            {k: v for k, v in form.items() if v is not None},
            deadline,
            target=f"Web+ environment {env_id}",
            extract=_env_change_id,
            find_accepted=find_accepted,
        )

    def describe_change(self, env_id: str, change_id: str) -> dict:
        """Return ``Change`` of a Web+ change."""
        query = {
            "EnvId": _require_id("env_id", env_id),
            "ChangeId": _require_id("change_id", change_id),
        }
        return _section(self._read(DESCRIBE_CHANGE, query), "Change", DESCRIBE_CHANGE)

    # --- sending ------------------------------------------------------------------------

    def _call_deadline(self) -> Deadline:
        return self._deadline or Deadline(DEFAULT_CALL_SECONDS)

    def _read(self, op: Operation, query: Mapping[str, str]) -> dict:
        """Send an idempotent (read) operation, retrying per ``read_backoff``."""
        tries = self._read_backoff.start(self._call_deadline())
        while True:
            tries.record_attempt()
            try:
                return self._transport.send(op, query, deadline=tries.deadline)
            except AliyunError as err:
                wait_before_retry(tries, err)

    def _restart(
        self,
        op: Operation,
        query: Mapping[str, str],
        form: Mapping[str, str] | None,
        deadline: Deadline,
        *,
        target: str,
        extract: Callable[[Mapping[str, Any]], Any],
        find_accepted: Callable[[datetime], str | None],
    ) -> RestartResult:
        return send_restart(
            lambda: self._transport.send(op, query, form, deadline=deadline),
            action=op.action,
            target=target,
            extract=extract,
            find_accepted=find_accepted,
            tries=self._restart_backoff.start(deadline),
            wall_clock=self._wall_clock,
            outcome_tolerance=self._outcome_tolerance,
        )
