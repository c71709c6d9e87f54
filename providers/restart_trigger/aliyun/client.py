"""``AliyunClient``: the EDAS / Web+ / SAE operation table and one public method per operation.

Each method checks its arguments, builds the query or form, and sends through the
``Transport`` (one signed attempt, ``transport.py``) under one ``Deadline``:

* the caller's ``deadline`` (the trigger's timeout) bounds every call's retries and waits;
  without one, each call gets its own ``Deadline(DEFAULT_CALL_SECONDS)``;
* reads are retried on throttling, 5xx and transport failures with ``read_backoff``
  (``READ_BACKOFF`` by default);
* restarts go through ``recovery.send_until_known`` with ``restart_backoff``
  (``RESTART_BACKOFF``): before each send, a snapshot of the target's changes (one read:
  ``ListRecentChangeOrder``, ``DescribeAppEnvStatus`` or ``ListChangeOrders``, retried like
  any read; the caller's credentials need that permission too); after a lost answer, only a
  new restart that was not in the snapshot is adopted, and nothing is resent while the
  outcome is unknown;
* every HTTP attempt is bounded in all (connect, send, headers, body) by its own limit and
  the deadline, and at most ``max_connections`` run at once per host (``transport.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import requests

from restart_trigger import __version__

from ..backoff import Backoff, Deadline
from .auth import AcsRoaSha1Auth, AcsV3Auth
from .endpoints import resolve_endpoints, validate_region
from .errors import AliyunError, InvalidResponseError
from .recovery import (
    DEFAULT_SETTLE_WINDOW,
    SAE_RESTART_TYPE,
    RestartResult,
    edas_candidates,
    edas_change_ids,
    sae_candidates,
    send_until_known,
    webplus_candidates,
    webplus_latest_change,
)
from .recovery import find_earlier_restart as recovery_find_earlier_restart
from .retryable import wait_before_retry
from .transport import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_TIMEOUT,
    Operation,
    Transport,
    new_session,
)

__all__ = ["SIGNERS", "AliyunClient", "Operation", "RestartResult"]

EDAS_VERSION = "2017-08-01"
WEBPLUS_VERSION = "2019-03-20"
SAE_VERSION = "2019-05-06"

SIGNERS: Mapping[str, Callable[[Any], requests.auth.AuthBase]] = {
    "edas": AcsV3Auth,
    "webplus": AcsRoaSha1Auth,
    "sae": AcsV3Auth,
}
"""Which signature scheme each product's requests carry, as its current official SDK signs
them: alibabacloud-edas20170801 signs V3 (ACS3-HMAC-SHA256, tea's default);
alibabacloud-webplus20190320 signs every call with ROA HMAC-SHA1 (tea's ``do_roarequest``),
as aliyun-python-sdk-webplus did, and Web+'s documentation names only HMAC-SHA1;
alibabacloud-sae20190506 (2.11.2) sends every operation through ``call_api``, which signs V3
unless its config asks for ``signature_algorithm='v2'`` (the legacy aliyun-python-sdk-sae
signs ROA HMAC-SHA1, as the legacy EDAS SDK does)."""

DEFAULT_CALL_SECONDS = 120.0
"""Deadline of one call (its retries and waits) when the client was given none."""

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
"""Read by Web+ restarts: the snapshot before each send and the looks after a lost answer."""
RESTART_K8S_APPLICATION = Operation(
    "edas", "RestartK8sApplication", "POST", "/pop/v5/k8s/acs/restart_k8s_app", EDAS_VERSION
)
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

K8S_TIMEOUT_RANGE = (1, 1800)
"""``Timeout`` of ``RestartK8sApplication``, in seconds. Its SDK docstring gives only the unit;
the sibling ``StartK8sApplication``/``StopK8sApplication`` documentation gives 1 to 1800
(default 600), the bound used here."""

SAE_RESTART_PAGE = {"CoType": SAE_RESTART_TYPE, "CurrentPage": "1", "PageSize": "20"}
"""How the SAE snapshot and looks list an app's restarts: the first page of 20 (the API
documentation's example page), restarts only. The list is newest first (Alibaba's own
serverless-devs tooling reads ``ChangeOrderList[0]`` as the latest order), so a restart made
after the snapshot is on that page."""


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


INT32_MAX = 2**31 - 1  # the APIs' integer parameters are 32-bit


def _optional_int(name: str, value: Any, low: int, high: int = INT32_MAX) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or value > high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
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


def _data_change_order_id(data: Mapping[str, Any]) -> Any:
    section = data.get("Data")
    return section.get("ChangeOrderId") if isinstance(section, Mapping) else None


def _sae_change_orders(data: Mapping[str, Any]) -> list[dict]:
    """``Data.ChangeOrderList`` of an SAE ``ListChangeOrders`` body (a plain list)."""
    section = data.get("Data")
    items = section.get("ChangeOrderList") if isinstance(section, Mapping) else None
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidResponseError(
            200, "InvalidResponse", "Data.ChangeOrderList is not a list", data.get("RequestId")
        )
    return [item for item in items if isinstance(item, dict)]


def _optional_bool(name: str, value: Any) -> str | None:
    """A bool query parameter as tea's ``Utils.query`` and the legacy core write it
    (``str(value)``: ``True``/``False``)."""
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return str(value)


def _secrets_of(credentials: Any) -> Callable[[], tuple[str, ...]]:
    """Every secret ``credentials`` holds now (a provider's change as it renews them), for
    scrubbing error texts."""
    provided = getattr(credentials, "secrets", None)
    if callable(provided):
        return lambda: tuple(s for s in provided() if s)
    fixed = tuple(
        s
        for s in (
            getattr(credentials, "access_key_secret", None),
            getattr(credentials, "security_token", None),
        )
        if s
    )
    return lambda: fixed


class AliyunClient:
    """Client for the EDAS (2017-08-01), Web+ (2019-03-20) and SAE (2019-05-06) operations
    restart-trigger uses.

    Args:
        credentials: ``Credentials`` (or any object with ``access_key_id``,
            ``access_key_secret``, ``security_token``), or a credentials provider
            (``sources``, what ``resolve_settings`` gives for temporary credentials), which
            the signers ask for its current key pair before every attempt.
        region: region id, used to pick default endpoints and sent with every call (Web+:
            the ``RegionId`` query parameter; EDAS, SAE: the ``x-acs-region-id`` header).
        endpoints: per-product overrides ``{"edas": url, "webplus": url, "sae": url}`` (EDAS
            Kubernetes applications are EDAS calls); a bare host means
            https; ``http://`` only for loopback. Default: the SDKs' regional endpoints.
        deadline: the one deadline bounding every call's retries and waits (the trigger's
            timeout). Default: each call gets its own ``Deadline(DEFAULT_CALL_SECONDS)``.
        read_backoff: retries of reads (default ``READ_BACKOFF``: 5 attempts, 0.5 s doubling
            to at most 20 s, jittered).
        restart_backoff: retries of restarts (default ``RESTART_BACKOFF``: 10 attempts, capped
            at 10 s).
        timeout: ``(connect_seconds, read_seconds)`` per attempt (default ``(5, 30)``): the
            per-phase timeouts, whose sum (35 s) bounds each attempt in all (connect, send,
            headers and every body read); all capped by the time left before the deadline.
        session: a ``requests.Session`` to use, as it is (default: ``transport.new_session``,
            owned by the client, whose sockets the deadline watchdog can abort).
        user_agent: extra user-agent text appended to ours (default none).
        auth: ``{product: requests.auth.AuthBase}`` replacing the signer ``SIGNERS`` names for
            those products (default: ``SIGNERS[product](credentials)`` for each); tests inject
            clocks and nonces here.
        settle_window: seconds after a restart send during which a restart whose outcome is
            unknown may still show up (default ``recovery.DEFAULT_SETTLE_WINDOW``, 60: more
            than the 30 s read timeout plus gateway slack); capped by the deadline.
        max_connections: HTTP attempts in flight at once per host, and sockets pooled per host
            by the default session (default 16). Threads sharing the client (the runner's
            ``max_parallel``) beyond that wait their turn, within their deadline.
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
        auth: Mapping[str, requests.auth.AuthBase] | None = None,
        settle_window: float = DEFAULT_SETTLE_WINDOW,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        region = validate_region(region)
        base = f"restart-trigger/{__version__} python-requests/{requests.__version__}"
        if isinstance(settle_window, bool) or not settle_window >= 0:
            raise ValueError(f"settle_window must be a number >= 0, got {settle_window!r}")
        if auth is not None and not isinstance(auth, Mapping):
            raise TypeError("auth must map a product ('edas', 'webplus', 'sae') to its signer")
        signers = {product: make(credentials) for product, make in SIGNERS.items()}
        signers.update(auth or {})
        self._owns_session = session is None
        self._transport = Transport(
            session=session or new_session(max_connections),
            signers=signers,
            endpoints=resolve_endpoints(region, endpoints),
            region=region,
            user_agent=f"{base} {user_agent}" if user_agent else base,
            secrets=_secrets_of(credentials),
            timeout=timeout,
            max_connections=max_connections,
        )
        self._deadline = deadline
        self._read_backoff = read_backoff or READ_BACKOFF
        self._restart_backoff = restart_backoff or RESTART_BACKOFF
        self._settle_window = float(settle_window)

    @property
    def endpoints(self) -> dict[str, str]:
        """``{product: "scheme://host[:port]"}``: where each product's calls go (a copy)."""
        return dict(self._transport.endpoints)

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
        mistaken for this restart when its outcome has to be looked up. Each send is preceded
        by one ``ListRecentChangeOrder(AppId)`` (the snapshot; see ``recovery``).
        Returns the ``ChangeOrderId``; raises ``AliyunError`` subclasses, and
        ``RestartOutcomeUnknown`` when the restart may or may not have been applied.
        """
        app_id = _require_id("app_id", app_id)
        query = {"AppId": app_id}
        if ecc_ids:
            ids = [ecc_ids] if isinstance(ecc_ids, str) else list(ecc_ids)
            ids = [_require_id("ecc_ids item", i) for i in ids]
            query["EccInfo"] = ",".join(ids)
        return self._edas_restart(
            RESTART_APPLICATION, query, f"EDAS application {app_id}", known_change_ids
        )

    def restart_k8s_application(
        self,
        app_id: str,
        timeout: int | None = None,
        *,
        known_change_ids: Iterable[str] | str | None = (),
    ) -> RestartResult:
        """Restart an EDAS application in a Kubernetes cluster (``RestartK8sApplication``).

        ``timeout`` is the change process's own timeout in seconds (``K8S_TIMEOUT_RANGE``),
        sent as the ``Timeout`` query parameter; ``None`` leaves EDAS's default. Recovery,
        snapshot (``ListRecentChangeOrder(AppId)``) and errors as ``restart_application``;
        wait for it with ``get_change_order_info``.
        """
        app_id = _require_id("app_id", app_id)
        query = {"AppId": app_id}
        seconds = _optional_int("timeout", timeout, *K8S_TIMEOUT_RANGE)
        if seconds is not None:
            query["Timeout"] = seconds
        return self._edas_restart(
            RESTART_K8S_APPLICATION,
            query,
            f"EDAS Kubernetes application {app_id}",
            known_change_ids,
        )

    def _edas_restart(
        self,
        op: Operation,
        query: Mapping[str, str],
        target: str,
        known_change_ids: Iterable[str] | str | None,
    ) -> RestartResult:
        """An EDAS restart (ECS or Kubernetes application): the answer's ``ChangeOrderId``;
        the app's ``ListRecentChangeOrder`` is the snapshot and the looks."""
        app_id = query["AppId"]
        known = _id_set(known_change_ids)
        deadline = self._call_deadline()
        list_query = {"AppId": app_id}

        def snapshot() -> frozenset[str]:
            data = self._read(LIST_RECENT_CHANGE_ORDER, list_query, deadline)
            return edas_change_ids(_change_order_items(data))

        return self._restart(
            op,
            query,
            None,
            deadline,
            target=target,
            where_to_look=f"the change orders of {target} (EDAS console, or ListRecentChangeOrder)",
            extract=lambda data: data.get("ChangeOrderId"),
            snapshot=snapshot,
            look=self._edas_look(app_id, known, deadline),
        )

    def _edas_look(
        self, app_id: str, known: frozenset[str], deadline: Deadline
    ) -> Callable[[frozenset[str]], list[str]]:
        list_query = {"AppId": app_id}

        def look(before: frozenset[str]) -> list[str]:
            data = self._transport.send(LIST_RECENT_CHANGE_ORDER, list_query, deadline=deadline)
            return edas_candidates(_change_order_items(data), app_id, before, known)

        return look

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

        ``pause_between_batches`` is sent as ``True``/``False``, as the generated SDK sends a
        bool form field (``str(bool)``). Parameters left ``None`` are not sent. Each send is
        preceded by one ``DescribeAppEnvStatus(EnvId)`` (the snapshot; see ``recovery``).
        Returns ``EnvChange.ChangeId``; raises as ``restart_application``.
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
                None if pause_between_batches is None else str(pause_between_batches)
            ),
        }
        known = _id_set(known_change_ids)
        deadline = self._call_deadline()

        status_query = {"EnvId": env_id}

        def snapshot() -> frozenset[str]:
            latest = webplus_latest_change(
                self._read(DESCRIBE_APP_ENV_STATUS, status_query, deadline)
            )
            return frozenset({latest} if latest else ())

        target = f"Web+ environment {env_id}"
        return self._restart(
            RESTART_APP_ENV,
            {},
            {k: v for k, v in form.items() if v is not None},
            deadline,
            target=target,
            where_to_look=f"the changes of {target} (Web+ console, or DescribeAppEnvStatus)",
            extract=_env_change_id,
            snapshot=snapshot,
            look=self._webplus_look(env_id, known, deadline),
        )

    def _webplus_look(
        self, env_id: str, known: frozenset[str], deadline: Deadline
    ) -> Callable[[frozenset[str]], list[str]]:
        status_query = {"EnvId": env_id}

        def describe_change(change_id: str) -> dict:
            query = {"EnvId": env_id, "ChangeId": change_id}
            return self._transport.send(DESCRIBE_CHANGE, query, deadline=deadline)

        def look(before: frozenset[str]) -> list[str]:
            status = self._transport.send(DESCRIBE_APP_ENV_STATUS, status_query, deadline=deadline)
            return webplus_candidates(status, describe_change, before, known)

        return look

    def describe_change(self, env_id: str, change_id: str) -> dict:
        """Return ``Change`` of a Web+ change."""
        query = {
            "EnvId": _require_id("env_id", env_id),
            "ChangeId": _require_id("change_id", change_id),
        }
        return _section(self._read(DESCRIBE_CHANGE, query), "Change", DESCRIBE_CHANGE)

    # --- SAE ----------------------------------------------------------------------------

    def restart_sae_application(
        self,
        app_id: str,
        min_ready_instances: int | None = None,
        min_ready_instance_ratio: int | None = None,
        auto_enable_application_scaling_rule: bool | None = None,
        *,
        known_change_ids: Iterable[str] | str | None = (),
    ) -> RestartResult:
        """Restart an SAE application (SAE ``RestartApplication``: PUT, every parameter in
        the query, as alibabacloud-sae20190506 sends it).

        ``min_ready_instances``: -1 (the system's choice, 25% rounded up), 0 (interruption
        allowed) or more; ``min_ready_instance_ratio``: -1 (not used, the default) or 0-100,
        and it wins over ``min_ready_instances`` when both are set (the SDK docstring);
        ``auto_enable_application_scaling_rule`` is sent as ``True``/``False``. Parameters left
        ``None`` are not sent. Each send is preceded by one ``ListChangeOrders`` (the app's
        latest restarts: the snapshot; see ``recovery``). Returns ``Data.ChangeOrderId``;
        raises as ``restart_application``.
        """
        app_id = _require_id("app_id", app_id)
        query = {
            "AppId": app_id,
            "MinReadyInstances": _optional_int("min_ready_instances", min_ready_instances, -1),
            "MinReadyInstanceRatio": _optional_int(
                "min_ready_instance_ratio", min_ready_instance_ratio, -1, 100
            ),
            "AutoEnableApplicationScalingRule": _optional_bool(
                "auto_enable_application_scaling_rule", auto_enable_application_scaling_rule
            ),
        }
        known = _id_set(known_change_ids)
        deadline = self._call_deadline()
        list_query = {"AppId": app_id, **SAE_RESTART_PAGE}

        def snapshot() -> frozenset[str]:
            data = self._read(LIST_CHANGE_ORDERS, list_query, deadline)
            return edas_change_ids(_sae_change_orders(data))  # the ChangeOrderId of each

        target = f"SAE application {app_id}"
        return self._restart(
            SAE_RESTART_APPLICATION,
            {k: v for k, v in query.items() if v is not None},
            None,
            deadline,
            target=target,
            where_to_look=f"the change orders of {target} (SAE console, or ListChangeOrders)",
            extract=_data_change_order_id,
            snapshot=snapshot,
            look=self._sae_look(app_id, known, deadline),
        )

    def _sae_look(
        self, app_id: str, known: frozenset[str], deadline: Deadline
    ) -> Callable[[frozenset[str]], list[str]]:
        list_query = {"AppId": app_id, **SAE_RESTART_PAGE}

        def look(before: frozenset[str]) -> list[str]:
            data = self._transport.send(LIST_CHANGE_ORDERS, list_query, deadline=deadline)
            return sae_candidates(_sae_change_orders(data), app_id, before, known)

        return look

    # --- an earlier update's restart, outcome unknown -----------------------------------

    def find_earlier_restart(
        self,
        family: str,
        ident: str,
        *,
        before: Iterable[str],
        sent_at: float,
        settle_window: float | None = None,
        known_change_ids: Iterable[str] | str | None = (),
    ) -> str | None:
        """Resolve a restart an earlier update sent without learning its outcome
        (``recovery.find_earlier_restart``): ``family`` is ``edas`` (ECS and Kubernetes
        applications: ``ListRecentChangeOrder``), ``webplus`` (``DescribeAppEnvStatus``) or
        ``sae`` (``ListChangeOrders``); ``before`` the snapshot taken before that send,
        ``sent_at`` its wall-clock time. The adopted change id, or None (restart anew)."""
        ident = _require_id("id", ident)
        known = _id_set(known_change_ids)
        deadline = self._call_deadline()
        looks = {"edas": self._edas_look, "webplus": self._webplus_look, "sae": self._sae_look}
        if family not in looks:
            raise ValueError(f"no restart lookup for {family!r}")
        names = {
            "edas": ("RestartApplication", f"EDAS application {ident}", "ListRecentChangeOrder"),
            "webplus": ("RestartAppEnv", f"Web+ environment {ident}", "DescribeAppEnvStatus"),
            "sae": ("RestartApplication", f"SAE application {ident}", "ListChangeOrders"),
        }
        action, target, read = names[family]
        return recovery_find_earlier_restart(
            looks[family](ident, known, deadline),
            before=frozenset(before),
            sent_at=sent_at,
            settle_window=self._settle_window if settle_window is None else settle_window,
            deadline=deadline,
            action=action,
            target=target,
            where_to_look=f"the changes of {target} ({read})",
        )

    def describe_change_order(self, change_order_id: str) -> dict:
        """Return ``Data`` of an SAE change order (``Status``, ``SubStatus``,
        ``ErrorMessage``, ``Pipelines``, ...)."""
        query = {"ChangeOrderId": _require_id("change_order_id", change_order_id)}
        return _section(self._read(DESCRIBE_CHANGE_ORDER, query), "Data", DESCRIBE_CHANGE_ORDER)

    def list_change_orders(self, app_id: str) -> list[dict]:
        """Return ``Data.ChangeOrderList`` (possibly empty) of an SAE application's latest
        restarts, newest first (the page the restart snapshot reads: ``SAE_RESTART_PAGE``)."""
        query = {"AppId": _require_id("app_id", app_id), **SAE_RESTART_PAGE}
        return _sae_change_orders(self._read(LIST_CHANGE_ORDERS, query))

    # --- sending ------------------------------------------------------------------------

    def _call_deadline(self) -> Deadline:
        return self._deadline or Deadline(DEFAULT_CALL_SECONDS)

    def _read(
        self, op: Operation, query: Mapping[str, str], deadline: Deadline | None = None
    ) -> dict:
        """Send an idempotent (read) operation, retrying per ``read_backoff``."""
        tries = self._read_backoff.start(deadline or self._call_deadline())
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
        where_to_look: str,
        extract: Callable[[Mapping[str, Any]], Any],
        snapshot: Callable[[], frozenset[str]],
        look: Callable[[frozenset[str]], list[str]],
    ) -> RestartResult:
        return send_until_known(
            lambda: self._transport.send(op, query, form, deadline=deadline),
            action=op.action,
            target=target,
            where_to_look=where_to_look,
            extract=extract,
            snapshot=snapshot,
            look=look,
            tries=self._restart_backoff.start(deadline),
            settle_window=self._settle_window,
        )
