"""``AliyunClient``: one method per EDAS / Web+ operation, signed, retried and typed.

Transport: ``requests`` with ``AcsV3Auth``; every call carries ``x-acs-action``,
``x-acs-version``, ``x-acs-region-id``, ``accept: application/json`` and a user agent.
Read operations are retried by ``RetryPolicy`` on throttling, server and transport errors.

Restarts are never blindly resent. When a restart POST may have reached the server but we
got no usable answer (read timeout, connection dropped after sending, a 5xx other than 503,
an unreadable 2xx body), the client first asks the service whether the restart was accepted:

* EDAS: ``ListRecentChangeOrder(AppId)`` and look for a change order with ``Source`` ``pop``,
  a restart type (``CoTypeCode``/``CoType`` mentioning "restart"), ``CreateTime`` at or after
  the first uncertain send minus ``outcome_tolerance``, and an id not in ``known_change_ids``.
* Web+: ``DescribeAppEnvStatus(EnvId).LatestChangeId``; if it is new (not in
  ``known_change_ids``), ``DescribeChange`` on it must say ``ActionName`` ``RestartApp`` and a
  ``CreateTime`` at or after the send minus the tolerance.

If such a change exists its id is returned (``RestartResult.recovered`` is ``True``);
otherwise the restart is resent. If the check itself cannot finish within the deadline,
``RestartOutcomeUnknown`` names the target. Connection refused / connect timeouts / throttling
/ 503 mean "not accepted", so those are simply retried.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import requests
import urllib3.exceptions

from .auth import AcsV3Auth
from .endpoints import resolve_endpoints, validate_region
from .errors import (
    AliyunError,
    InvalidResponseError,
    RestartOutcomeUnknown,
    ServerError,
    ThrottlingError,
    TransportError,
    business_error_from_body,
    error_from_response,
    parse_error_body,
    scrub,
)
from .retry import RetryBudget, RetryPolicy, is_retryable, retry_after_of

log = logging.getLogger(__name__)

__version__ = "0.1.0"

EDAS_VERSION = "2017-08-01"
WEBPLUS_VERSION = "2019-03-20"
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
"""(connect, read) timeout in seconds for each HTTP attempt."""
DEFAULT_OUTCOME_TOLERANCE = 30.0
"""Seconds subtracted from our send time when matching a server-side CreateTime."""
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
"""EDAS writes naive 'YYYY-MM-DD HH:MM:SS' times in China Standard Time (UTC+8, no DST)."""


@dataclass(frozen=True)
class RestartResult:
    """What a restart call produced.

    Attributes:
        change_id: EDAS ``ChangeOrderId`` or Web+ ``EnvChange.ChangeId``.
        request_id: the server's ``RequestId`` of the accepted call (``None`` if recovered).
        recovered: ``True`` when the answer was lost and the change was found afterwards
            by checking the service (default ``False``).
    """

    change_id: str
    request_id: str | None
    recovered: bool = False


@dataclass(frozen=True)
class Operation:
    """One API operation: product, action name, HTTP method, ROA path and API version."""

    product: str
    action: str
    method: str
    path: str
    version: str


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


# --- time parsing ---------------------------------------------------------------------------

_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def _from_epoch(value: float) -> datetime:
    seconds = value / 1000.0 if abs(value) >= 1e11 else value
    return datetime.fromtimestamp(seconds, UTC)


def parse_time(value: Any) -> datetime | None:
    """Read a server timestamp leniently; ``None`` if it cannot be read.

    Accepts epoch milliseconds (or seconds) as numbers or digit strings, EDAS
    ``YYYY-MM-DD HH:MM:SS`` (taken as Asia/Shanghai, UTC+8) and ISO 8601 with or without an
    offset (naive values are also taken as UTC+8).
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    text = str(value).strip()
    if not text:
        return None
    if _NUMBER.match(text):
        return _from_epoch(float(text))
    try:
        parsed = datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


# --- transport failure classification -------------------------------------------------------

_NOT_SENT_CAUSES = (
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    urllib3.exceptions.NameResolutionError,
    ConnectionRefusedError,
    socket.gaierror,
    ssl.SSLCertVerificationError,
)


def _causes(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen or len(seen) > 20:
            continue
        seen.add(id(current))
        yield current
        for arg in getattr(current, "args", ()):
            if isinstance(arg, BaseException):
                stack.append(arg)
        for attr in ("reason", "__cause__", "__context__"):
            nested = getattr(current, attr, None)
            if isinstance(nested, BaseException):
                stack.append(nested)


def request_was_not_sent(exc: requests.RequestException) -> bool:
    """True when ``exc`` proves the request never reached the server.

    Connect timeouts, refused connections, DNS failures and certificate verification failures
    happen before any request byte is written. Anything else (read timeout, reset or closed
    connection, other TLS errors) may have happened after the server received the request.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        return any(isinstance(cause, _NOT_SENT_CAUSES) for cause in _causes(exc))
    return False


_TRANSPORT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


# --- helpers --------------------------------------------------------------------------------


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


def _clean_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


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


def _looks_like_restart(order: Mapping[str, Any]) -> bool:
    labels = [_clean_str(order.get("CoTypeCode")), _clean_str(order.get("CoType"))]
    labels = [label for label in labels if label]
    if not labels:
        return True  # no type given: the other checks decide
    return any("restart" in label.lower() or "重启" in label for label in labels)


class AliyunClient:
    """Client for the EDAS (2017-08-01) and Web+ (2019-03-20) operations restart-trigger uses.

    Args:
        credentials: ``Credentials`` (or any object with ``access_key_id``,
            ``access_key_secret``, ``security_token``).
        region: region id, sent as ``x-acs-region-id`` and used to pick default endpoints.
        endpoints: per-product overrides ``{"edas": url, "webplus": url}``; a bare host means
            https; ``http://`` only for loopback. Default: the SDKs' regional endpoints.
        retry: ``RetryPolicy`` for every call (default ``RetryPolicy()``).
        timeout: ``(connect_seconds, read_seconds)`` per attempt (default ``(5, 30)``).
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
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        *,
        session: requests.Session | None = None,
        user_agent: str | None = None,
        wall_clock: Callable[[], float] = time.time,
        outcome_tolerance: float = DEFAULT_OUTCOME_TOLERANCE,
        auth: requests.auth.AuthBase | None = None,
    ) -> None:
        self.region = validate_region(region)
        self.endpoints = resolve_endpoints(self.region, endpoints)
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.outcome_tolerance = outcome_tolerance
        self._secrets = tuple(
            s
            for s in (
                getattr(credentials, "access_key_secret", None),
                getattr(credentials, "security_token", None),
            )
            if s
        )
        self._auth = auth or AcsV3Auth(credentials)
        self._owns_session = session is None
        self._session = session or requests.Session()
        base = f"restart-trigger/{__version__} python-requests/{requests.__version__}"
        self._user_agent = f"{base} {user_agent}" if user_agent else base
        self._wall_clock = wall_clock

    def __repr__(self) -> str:
        return f"AliyunClient(region={self.region!r}, endpoints={self.endpoints!r})"

    def close(self) -> None:
        """Close the HTTP session if the client created it."""
        if self._owns_session:
            self._session.close()

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
        return self._restart(
            RESTART_APPLICATION,
            query,
            None,
            target=f"EDAS application {app_id}",
            extract=lambda data: data.get("ChangeOrderId"),
            find_accepted=lambda since: self._edas_restart_since(app_id, since, known),
        )

    def get_change_order_info(self, change_order_id: str) -> dict:
        """Return ``changeOrderInfo`` (lowercase c) of an EDAS change order."""
        change_order_id = _require_id("change_order_id", change_order_id)
        data = self._call(GET_CHANGE_ORDER_INFO, {"ChangeOrderId": change_order_id})
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
        return _change_order_items(self._call(LIST_RECENT_CHANGE_ORDER, {"AppId": app_id}))

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

        def extract(data: Mapping[str, Any]) -> Any:
            change = data.get("EnvChange")
            return change.get("ChangeId") if isinstance(change, Mapping) else None

        return self._restart(
            RESTART_APP_ENV,
            {},
            {k: v for k, v in form.items() if v is not None},
            target=f"Web+ environment {env_id}",
            extract=extract,
            find_accepted=lambda since: self._webplus_restart_since(env_id, since, known),
        )

    def describe_change(self, env_id: str, change_id: str) -> dict:
        """Return ``Change`` of a Web+ change."""
        query = {
            "EnvId": _require_id("env_id", env_id),
            "ChangeId": _require_id("change_id", change_id),
        }
        return self._section(self._call(DESCRIBE_CHANGE, query), "Change", DESCRIBE_CHANGE)

    def describe_app_env_status(self, env_id: str) -> dict:
        """Return ``EnvStatus`` of a Web+ environment."""
        query = {"EnvId": _require_id("env_id", env_id)}
        data = self._call(DESCRIBE_APP_ENV_STATUS, query)
        return self._section(data, "EnvStatus", DESCRIBE_APP_ENV_STATUS)

    # --- one attempt --------------------------------------------------------------------

    def _send_once(
        self, op: Operation, query: Mapping[str, str], form: Mapping[str, str] | None
    ) -> dict:
        """Send one signed request and return its JSON body, or raise a typed error."""
        headers = {
            "x-acs-action": op.action,
            "x-acs-version": op.version,
            "x-acs-region-id": self.region,
            "accept": "application/json",
            "user-agent": self._user_agent,
        }
        body = None
        if form:
            body = urlencode(sorted(form.items())).encode("utf-8")
            headers["content-type"] = "application/x-www-form-urlencoded"
        url = self.endpoints[op.product] + op.path
        try:
            response = self._session.request(
                op.method,
                url,
                params=sorted(query.items()) or None,
                data=body,
                headers=headers,
                auth=self._auth,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except _TRANSPORT_ERRORS as exc:
            not_sent = request_was_not_sent(exc)
            raise TransportError(
                "ConnectionNotEstablished" if not_sent else "NoResponse",
                scrub(f"{type(exc).__name__}: {exc}", self._secrets),
                sent=not not_sent,
                operation=op.action,
            ) from None
        return self._parse(op, response)

    def _parse(self, op: Operation, response: requests.Response) -> dict:
        status = response.status_code
        header_request_id = response.headers.get("x-acs-request-id")
        log.debug(
            "%s %s -> HTTP %s (request id %s)", op.product, op.action, status, header_request_id
        )
        if status >= 300:
            data = parse_error_body(response.content, response.headers.get("content-type"))
            if header_request_id and not data.get("RequestId"):
                data = {**data, "RequestId": header_request_id}
            raise error_from_response(
                status,
                data,
                response.headers,
                operation=op.action,
                secrets=self._secrets,
                fallback_message=f"HTTP {status} {response.reason or ''}".strip(),
            )
        try:
            data = json.loads(response.content or b"null")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise InvalidResponseError(
                status,
                "InvalidResponse",
                "the response body is not a JSON object",
                header_request_id,
                operation=op.action,
            )
        code = data.get("Code", data.get("code"))
        if code is not None:
            text = str(code).strip()
            ok = text == "200" if op.product == "edas" else text.upper() in ("OK", "200")
            if not ok:
                raise business_error_from_body(
                    status, data, operation=op.action, secrets=self._secrets
                )
        return data

    def _section(self, data: Mapping[str, Any], key: str, op: Operation) -> dict:
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

    # --- retry loops --------------------------------------------------------------------

    def _call(
        self,
        op: Operation,
        query: Mapping[str, str],
        form: Mapping[str, str] | None = None,
    ) -> dict:
        """Send an idempotent (read) operation, retrying per the policy."""
        budget = self.retry.start()
        while True:
            budget.record_attempt()
            try:
                return self._send_once(op, query, form)
            except AliyunError as err:
                self._wait_or_raise(budget, err)

    def _wait_or_raise(self, budget: RetryBudget, err: AliyunError) -> None:
        if not is_retryable(err):
            raise err
        delay = budget.next_delay(retry_after_of(err))
        if delay is None:
            log.warning("%s; giving up after %d attempt(s)", err, budget.attempts)
            raise err
        log.warning(
            "%s; retrying in %.2fs (attempt %d of %d)",
            err,
            delay,
            budget.attempts + 1,
            budget.policy.max_attempts,
        )
        budget.wait(delay)

    def _restart(
        self,
        op: Operation,
        query: Mapping[str, str],
        form: Mapping[str, str] | None,
        *,
        target: str,
        extract: Callable[[Mapping[str, Any]], Any],
        find_accepted: Callable[[datetime], str | None],
    ) -> RestartResult:
        """Send a restart; on an uncertain outcome, check before resending."""
        budget = self.retry.start()
        uncertain_since: float | None = None
        while True:
            budget.record_attempt()
            sent_at = self._wall_clock()
            try:
                data = self._send_once(op, query, form)
                change_id = _clean_str(extract(data))
                if change_id is None:
                    raise InvalidResponseError(
                        200,
                        "InvalidResponse",
                        "the response has no change id",
                        data.get("RequestId"),
                        operation=op.action,
                    )
                log.info("%s accepted for %s: change %s", op.action, target, change_id)
                return RestartResult(change_id, _clean_str(data.get("RequestId")))
            except AliyunError as err:
                if is_retryable(err) and _may_have_been_accepted(err):
                    if uncertain_since is None:
                        uncertain_since = sent_at
                    since = datetime.fromtimestamp(uncertain_since, UTC) - timedelta(
                        seconds=self.outcome_tolerance
                    )
                    change_id = self._check_accepted(op, target, find_accepted, since, budget, err)
                    if change_id is not None:
                        log.warning(
                            "%s for %s: the answer was lost but change %s was found; using it",
                            op.action,
                            target,
                            change_id,
                        )
                        return RestartResult(change_id, None, recovered=True)
                    log.warning("%s for %s was not accepted (%s)", op.action, target, err)
                self._wait_or_raise(budget, err)

    def _check_accepted(
        self,
        op: Operation,
        target: str,
        find_accepted: Callable[[datetime], str | None],
        since: datetime,
        budget: RetryBudget,
        cause: AliyunError,
    ) -> str | None:
        """Ask the service whether our restart was accepted; raise if we cannot find out."""
        check = budget.child()
        while True:
            check.record_attempt()
            try:
                return find_accepted(since)
            except AliyunError as err:
                delay = check.next_delay(retry_after_of(err)) if is_retryable(err) else None
                if delay is None:
                    raise _outcome_unknown(op, target, cause, err) from err
                log.warning("checking %s outcome for %s: %s; retrying", op.action, target, err)
                check.wait(delay)

    # --- "was it accepted?" checks ------------------------------------------------------

    def _edas_restart_since(
        self, app_id: str, since: datetime, known: frozenset[str]
    ) -> str | None:
        orders = _change_order_items(
            self._send_once(LIST_RECENT_CHANGE_ORDER, {"AppId": app_id}, None)
        )
        matches: list[tuple[datetime, str]] = []
        for order in orders:
            change_id = _clean_str(order.get("ChangeOrderId"))
            created = parse_time(order.get("CreateTime"))
            source = _clean_str(order.get("Source"))
            order_app = _clean_str(order.get("AppId"))
            if (
                change_id
                and change_id not in known
                and created is not None
                and created >= since
                and (source is None or source.lower() == "pop")
                and (order_app is None or order_app == app_id)
                and _looks_like_restart(order)
            ):
                matches.append((created, change_id))
        return max(matches)[1] if matches else None

    def _webplus_restart_since(
        self, env_id: str, since: datetime, known: frozenset[str]
    ) -> str | None:
        status = self._send_once(DESCRIBE_APP_ENV_STATUS, {"EnvId": env_id}, None)
        env_status = status.get("EnvStatus") if isinstance(status.get("EnvStatus"), dict) else {}
        latest = _clean_str(env_status.get("LatestChangeId"))
        if latest is None or latest in known:
            return None
        data = self._send_once(DESCRIBE_CHANGE, {"EnvId": env_id, "ChangeId": latest}, None)
        change = data.get("Change") if isinstance(data.get("Change"), dict) else {}
        action = _clean_str(change.get("ActionName"))
        created = parse_time(change.get("CreateTime"))
        if action is not None and action.lower() != "restartapp":
            return None
        if created is None or created < since:
            return None
        return latest


def _may_have_been_accepted(err: AliyunError) -> bool:
    """Could the server have acted on a request that ended with ``err``?"""
    if isinstance(err, TransportError):
        return err.sent
    if isinstance(err, ThrottlingError):
        return False
    if isinstance(err, ServerError):
        return not (err.http_status == 503 or err.code == "ServiceUnavailable")
    return False


def _outcome_unknown(
    op: Operation, target: str, cause: AliyunError, check_error: AliyunError
) -> RestartOutcomeUnknown:
    """Build the ``RestartOutcomeUnknown`` raised when the acceptance check fails."""
    return RestartOutcomeUnknown(
        target,
        f"{op.action} for {target} may have been accepted ({cause.code}: {cause.message}), "
        f"and checking whether it was failed ({check_error.code}: {check_error.message}). "
        f"Check the recent changes of {target} before restarting it again.",
        operation=op.action,
        cause=check_error,
    )
