"""Fault injection for product API calls (never for the admin API).

A :class:`FaultConfig` is set through ``PUT /__emulator__/faults`` or ``--faults``. Each knob
comes in a rate form (drawn from one seeded :class:`random.Random`, so runs are reproducible)
and, where it helps tests, a count form ("the next N matching requests"). Decisions are taken
in a fixed order, and at most one named fault fires per request (the first one wins):

1. latency, 2. drop before processing, 3. QPS limit, 4. throttling, 5. server errors,
6. slow status (status calls only);
once the signature is verified, 7. apply delay (restarts only);
then, when the answer is ready, 8. drop after processing (applied requests only), 9. drip.

A knob draws from the random stream only for requests it could fire on (matching ``actions``
and ``target_ids``, and the right kind of action), so a rate's stream is stable as long as
the same requests arrive in the same order.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from emulator.errors import ApiError

THROTTLE_MESSAGE = "Request was denied due to user flow control."

DROP_BEFORE = "drop_before"
DROP_AFTER = "drop_after"
APPLY_DELAY = "apply_delay"
STATUS_LATENCY = "status_latency"
DRIP = "drip"

#: Actions that create a change: the only ones ``apply_delay_*`` holds.
RESTART_ACTIONS = frozenset({"RestartApplication", "RestartAppEnv", "RestartK8sApplication"})
#: Read-only status calls: the only ones ``status_latency_*`` slows down.
STATUS_ACTIONS = frozenset(
    {
        "GetChangeOrderInfo",
        "ListRecentChangeOrder",
        "DescribeChange",
        "DescribeAppEnvStatus",
        "DescribeChangeOrder",
        "ListChangeOrders",
    }
)


@dataclass
class FaultConfig:
    """Every fault knob, all off by default. See emulator/README.md for examples."""

    seed: int | None = None
    actions: list[str] | None = None
    target_ids: list[str] | None = None
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    drop_before_rate: float = 0.0
    drop_before_count: int = 0
    drop_after_rate: float = 0.0
    drop_after_count: int = 0
    qps_limit: float | None = None
    throttle_rate: float = 0.0
    throttle_count: int = 0
    throttle_status: int = 400
    throttle_code: str = "Throttling.User"
    retry_after_ms: int | None = None
    error_rate: float = 0.0
    error_count: int = 0
    error_status: int | list[int] = 500
    apply_delay_ms: float = 0.0
    apply_delay_rate: float = 0.0
    apply_delay_count: int = 0
    status_latency_ms: float = 0.0
    status_latency_rate: float = 0.0
    status_latency_count: int = 0
    drip_interval_ms: float = 0.0
    drip_rate: float = 0.0
    drip_count: int = 0
    drip_headers: bool = False
    fail_changes: bool = False
    fail_change_rate: float = 0.0
    fail_app_ids: list[str] = field(default_factory=list)
    fail_env_ids: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        """Build a config, rejecting unknown keys and ill-typed values with ValueError."""
        if not isinstance(data, dict):
            raise ValueError("faults must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(unknown)}")
        config = cls(**data)
        config.validate()
        return config

    def validate(self) -> None:
        """Check value ranges; raise ValueError on nonsense."""
        for name in (
            "drop_before_rate",
            "drop_after_rate",
            "throttle_rate",
            "error_rate",
            "apply_delay_rate",
            "status_latency_rate",
            "drip_rate",
            "fail_change_rate",
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1")
        for name in (
            "drop_before_count",
            "drop_after_count",
            "throttle_count",
            "error_count",
            "apply_delay_count",
            "status_latency_count",
            "drip_count",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer")
        for amount, rate, count in (
            ("apply_delay_ms", "apply_delay_rate", "apply_delay_count"),
            ("status_latency_ms", "status_latency_rate", "status_latency_count"),
            ("drip_interval_ms", "drip_rate", "drip_count"),
        ):
            value = getattr(self, amount)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{amount} must be a non-negative number of milliseconds")
            if (getattr(self, rate) or getattr(self, count)) and not value > 0:
                raise ValueError(f"{rate} and {count} need {amount} > 0")
        if self.drip_interval_ms > 10_000:
            raise ValueError("drip_interval_ms must be at most 10000")
        if not isinstance(self.drip_headers, bool):
            raise ValueError("drip_headers must be true or false")
        for name in ("actions", "target_ids"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(v, str) for v in value)
            ):
                raise ValueError(f"{name} must be null or a list of strings")
        statuses = self.error_status if isinstance(self.error_status, list) else [self.error_status]
        if not statuses or any(s not in (500, 502, 503, 504) for s in statuses):
            raise ValueError("error_status must be 500, 502, 503, 504 or a list of them")
        if self.throttle_status not in (400, 429, 503):
            raise ValueError("throttle_status must be 400, 429 or 503")
        if self.qps_limit is not None and self.qps_limit <= 0:
            raise ValueError("qps_limit must be positive")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able view."""
        return asdict(self)


def _server_error(status: int) -> ApiError:
    if status == 503:
        return ApiError(
            503,
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.",
        )
    return ApiError(
        status,
        "InternalError",
        "The request processing has failed due to some unknown error, exception or failure.",
    )


@dataclass
class PreDecision:
    """What to do with a request before it is processed."""

    sleep_s: float = 0.0
    drop: bool = False
    error: ApiError | None = None
    fault: str | None = None


@dataclass
class Drip:
    """Send the answer one byte every ``interval_s`` (the head too if ``headers``)."""

    interval_s: float
    headers: bool = False


class FaultInjector:
    """Holds the active :class:`FaultConfig`, its random generator and the QPS window."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._window: deque[float] = deque()
        self.configure(config or FaultConfig())

    @property
    def config(self) -> FaultConfig:
        """The active configuration."""
        with self._lock:
            return self._config

    def configure(self, config: FaultConfig) -> None:
        """Replace the configuration and re-seed the random generator."""
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)
            self._window.clear()

    def _applies(self, action: str | None, target: str | None = None) -> bool:
        actions = self._config.actions
        targets = self._config.target_ids
        if actions is not None and (action is None or action not in actions):
            return False
        return targets is None or (target is not None and target in targets)

    def _fire(self, rate: float, count_field: str) -> bool:
        """Consume one from a count knob, else draw against a rate (draws only if rate > 0)."""
        remaining = getattr(self._config, count_field)
        if remaining > 0:
            setattr(self._config, count_field, remaining - 1)
            return True
        return rate > 0 and self._rng.random() < rate

    def before(
        self, action: str | None, target: str | None = None, now: float | None = None
    ) -> PreDecision:
        """Decide latency, drop, throttling, a server error or slow status for a request.

        ``target`` is the AppId or EnvId the request names (for ``target_ids``).
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            cfg = self._config
            if not self._applies(action, target):
                return PreDecision()
            decision = PreDecision()
            if cfg.latency_ms or cfg.latency_jitter_ms:
                jitter = self._rng.uniform(0, cfg.latency_jitter_ms) if cfg.latency_jitter_ms else 0
                decision.sleep_s = max(0.0, (cfg.latency_ms + jitter) / 1000.0)
            if self._fire(cfg.drop_before_rate, "drop_before_count"):
                decision.drop, decision.fault = True, DROP_BEFORE
                return decision
            if cfg.qps_limit is not None:
                while self._window and now - self._window[0] >= 1.0:
                    self._window.popleft()
                if len(self._window) >= cfg.qps_limit:
                    decision.error, decision.fault = self._throttle(), "qps_limit"
                    return decision
                self._window.append(now)
            if self._fire(cfg.throttle_rate, "throttle_count"):
                decision.error, decision.fault = self._throttle(), "throttle"
                return decision
            if self._fire(cfg.error_rate, "error_count"):
                statuses = cfg.error_status
                status = self._rng.choice(statuses) if isinstance(statuses, list) else statuses
                decision.error, decision.fault = _server_error(status), f"error_{status}"
                return decision
            if (
                action in STATUS_ACTIONS
                and cfg.status_latency_ms > 0
                and self._fire(cfg.status_latency_rate, "status_latency_count")
            ):
                decision.sleep_s += cfg.status_latency_ms / 1000.0
                decision.fault = STATUS_LATENCY
            return decision

    def apply_delay(self, action: str | None, target: str | None = None) -> float:
        """Seconds to hold a verified restart before applying it (0: apply at once)."""
        with self._lock:
            cfg = self._config
            if action not in RESTART_ACTIONS or cfg.apply_delay_ms <= 0:
                return 0.0
            if not self._applies(action, target):
                return 0.0
            if self._fire(cfg.apply_delay_rate, "apply_delay_count"):
                return cfg.apply_delay_ms / 1000.0
            return 0.0

    def drip(self, action: str | None, target: str | None = None) -> Drip | None:
        """Decide whether to send an answer byte by byte."""
        with self._lock:
            cfg = self._config
            if cfg.drip_interval_ms <= 0 or not self._applies(action, target):
                return None
            if self._fire(cfg.drip_rate, "drip_count"):
                return Drip(cfg.drip_interval_ms / 1000.0, cfg.drip_headers)
            return None

    def _throttle(self) -> ApiError:
        cfg = self._config
        headers = {}
        if cfg.retry_after_ms is not None:
            headers["x-acs-retry-after"] = str(int(cfg.retry_after_ms))
        return ApiError(cfg.throttle_status, cfg.throttle_code, THROTTLE_MESSAGE, headers)

    def drop_after(self, action: str | None, target: str | None = None) -> bool:
        """Decide whether to lose the answer of a request that was applied."""
        with self._lock:
            if not self._applies(action, target):
                return False
            return self._fire(self._config.drop_after_rate, "drop_after_count")

    def change_fails(self, target_id: str) -> bool:
        """Decide whether a new change order of this app/env will end in failure."""
        with self._lock:
            cfg = self._config
            if cfg.fail_changes or target_id in cfg.fail_app_ids or target_id in cfg.fail_env_ids:
                return True
            return cfg.fail_change_rate > 0 and self._rng.random() < cfg.fail_change_rate
