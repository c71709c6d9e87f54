"""The emulated world: accounts, EDAS applications, Web+ environments and their changes.

Everything lives in one :class:`World` guarded by one re-entrant lock. Change progress is
computed from the creation time and the duration, so no background thread is needed and a
restarted emulator (``--state FILE``) carries on where the previous one stopped.

The seed format (``--seed FILE`` and ``POST /__emulator__/seed``) is documented in
``emulator/README.md``; merging is by id, and fields that are present override.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta, timezone
from typing import Any

from emulator.signatures import KeyRecord

#: EDAS reports wall-clock times in Asia/Shanghai (UTC+8).
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

DEFAULT_CHANGE_DURATION_S = 2.0
DEFAULT_REGION = "cn-hangzhou"
DEFAULT_ACCOUNT_ID = "1000000000000000"

#: Web+ statuses from which a restart is allowed.
RESTARTABLE_ENV_STATUSES = frozenset({"RUNNING", "STOPPED", "TERMINATED"})

#: EDAS change-order status codes (GetChangeOrderInfo / ListRecentChangeOrder).
EDAS_READY, EDAS_EXECUTING, EDAS_SUCCESS, EDAS_FAILED = 0, 1, 2, 3


def shanghai_time(epoch_s: float) -> str:
    """Format an epoch time as ``YYYY-MM-DD HH:MM:SS`` in Asia/Shanghai."""
    return datetime.fromtimestamp(epoch_s, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def epoch_ms(epoch_s: float) -> int:
    """Epoch seconds to integer epoch milliseconds."""
    return int(round(epoch_s * 1000))


@dataclass
class Account:
    """An access key pair; several keys (e.g. a permanent one and an STS one) share an account."""

    access_key_id: str
    access_key_secret: str
    account_id: str = DEFAULT_ACCOUNT_ID
    security_token: str | None = None
    security_token_expires_at: float | None = None
    enabled: bool = True
    name: str = ""

    def key_record(self) -> KeyRecord:
        """The view of this account the signature verifier needs."""
        return KeyRecord(
            access_key_id=self.access_key_id,
            access_key_secret=self.access_key_secret,
            account_id=self.account_id,
            security_token=self.security_token,
            security_token_expires_at=self.security_token_expires_at,
            enabled=self.enabled,
        )


@dataclass
class EdasApplication:
    """An EDAS application deployed on ECS, with its elastic compute container ids."""

    app_id: str
    region: str = DEFAULT_REGION
    name: str = ""
    ecc_ids: list[str] = field(default_factory=list)
    account_id: str | None = None
    change_duration_s: float | None = None
    fail_changes: bool = False


@dataclass
class WebPlusEnvironment:
    """A Web+ application environment. ``status`` is the status outside of any change."""

    env_id: str
    region: str = DEFAULT_REGION
    name: str = ""
    status: str = "RUNNING"
    last_status: str | None = None
    instance_count: int = 2
    account_id: str | None = None
    change_duration_s: float | None = None
    fail_changes: bool = False


@dataclass
class EdasChangeOrder:
    """A restart change order of an EDAS application."""

    change_order_id: str
    app_id: str
    region: str
    account_id: str
    created_at: float
    duration_s: float
    fails: bool = False
    failure_message: str = ""
    ecc_ids: list[str] = field(default_factory=list)
    source: str = "pop"

    def status(self, now: float) -> int:
        """0 ready, 1 executing, then 2 success or 3 failed once the duration has elapsed."""
        elapsed = now - self.created_at
        if elapsed >= self.duration_s:
            return EDAS_FAILED if self.fails else EDAS_SUCCESS
        if elapsed < min(0.2, self.duration_s * 0.1):
            return EDAS_READY
        return EDAS_EXECUTING

    @property
    def finished_at(self) -> float:
        """When the order finishes (or finished)."""
        return self.created_at + self.duration_s


@dataclass
class WebPlusChange:
    """A RestartApp change of a Web+ environment."""

    change_id: str
    env_id: str
    region: str
    account_id: str
    created_at: float
    duration_s: float
    status_before: str
    fails: bool = False
    failure_message: str = ""
    batch_size: int | None = None
    batch_percent: int | None = None
    batch_interval: int | None = None
    pause_between_batches: bool | None = None
    settled: bool = False

    def finished(self, now: float) -> bool:
        """True once the duration has elapsed."""
        return now - self.created_at >= self.duration_s

    @property
    def finished_at(self) -> float:
        """When the change finishes (or finished)."""
        return self.created_at + self.duration_s


def _build(cls: type, data: dict[str, Any]) -> Any:
    """Build a dataclass from a dict, ignoring unknown keys."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def _merge(obj: Any, data: dict[str, Any]) -> None:
    """Override the fields of a dataclass instance with the keys present in ``data``."""
    names = {f.name for f in fields(obj)}
    for key, value in data.items():
        if key in names:
            setattr(obj, key, value)


class SeedError(ValueError):
    """A seed document is malformed."""


class World:
    """All emulated state, with a lock, JSON (de)serialisation and optional persistence."""

    def __init__(self, state_path: str | None = None) -> None:
        self.lock = threading.RLock()
        self.state_path = state_path
        self.default_change_duration_s = DEFAULT_CHANGE_DURATION_S
        self.accounts: dict[str, Account] = {}
        self.apps: dict[str, EdasApplication] = {}
        self.envs: dict[str, WebPlusEnvironment] = {}
        self.change_orders: dict[str, EdasChangeOrder] = {}
        self.env_changes: dict[str, WebPlusChange] = {}

    # -- access helpers (call with the lock held) ----------------------------------------

    @contextmanager
    def locked(self) -> Iterator[World]:
        """Hold the world lock for a block."""
        with self.lock:
            yield self

    def key_record(self, access_key_id: str) -> KeyRecord | None:
        """Look up an access key for the signature verifier."""
        with self.lock:
            account = self.accounts.get(access_key_id)
            return account.key_record() if account else None

    def duration_for(self, override: float | None) -> float:
        """A target's change duration, falling back to the global default."""
        return float(override if override is not None else self.default_change_duration_s)

    def settle(self, now: float) -> None:
        """Apply the end state of Web+ changes that have finished since the last call."""
        with self.lock:
            for change in self.env_changes.values():
                if change.settled or not change.finished(now):
                    continue
                env = self.envs.get(change.env_id)
                if env is not None:
                    env.last_status = "UPDATING"
                    env.status = change.status_before if change.fails else "RUNNING"
                change.settled = True

    # -- seed merge ----------------------------------------------------------------------

    def merge_seed(self, seed: dict[str, Any]) -> None:
        """Merge a seed document (see README): by id, present fields override."""
        if not isinstance(seed, dict):
            raise SeedError("the seed must be a JSON object")
        with self.lock:
            defaults = seed.get("defaults") or {}
            if "change_duration_s" in defaults:
                self.default_change_duration_s = float(defaults["change_duration_s"])
            for item in seed.get("accounts") or []:
                self._merge_item(item, "access_key_id", self.accounts, Account)
            for item in seed.get("edas_applications") or []:
                self._merge_item(item, "app_id", self.apps, EdasApplication)
            for item in seed.get("webplus_environments") or []:
                self._merge_item(item, "env_id", self.envs, WebPlusEnvironment)

    @staticmethod
    def _merge_item(item: Any, id_field: str, table: dict[str, Any], cls: type) -> None:
        if not isinstance(item, dict) or not item.get(id_field):
            raise SeedError(f"each {cls.__name__} needs a non-empty {id_field!r}")
        existing = table.get(item[id_field])
        if existing is None:
            try:
                table[item[id_field]] = _build(cls, item)
            except TypeError as exc:
                raise SeedError(f"{cls.__name__}: {exc}") from None
        else:
            _merge(existing, item)

    def reset(self) -> None:
        """Forget everything (accounts, targets, changes)."""
        with self.lock:
            self.default_change_duration_s = DEFAULT_CHANGE_DURATION_S
            self.accounts.clear()
            self.apps.clear()
            self.envs.clear()
            self.change_orders.clear()
            self.env_changes.clear()

    # -- serialisation -------------------------------------------------------------------

    def to_dict(self, redact: bool = True) -> dict[str, Any]:
        """The whole state as JSON-able data; secrets and tokens are masked if ``redact``."""
        with self.lock:
            accounts = []
            for account in self.accounts.values():
                data = asdict(account)
                if redact:
                    data["access_key_secret"] = "***"
                    if data["security_token"] is not None:
                        data["security_token"] = "***"
                accounts.append(data)
            return {
                "defaults": {"change_duration_s": self.default_change_duration_s},
                "accounts": accounts,
                "edas_applications": [asdict(a) for a in self.apps.values()],
                "webplus_environments": [asdict(e) for e in self.envs.values()],
                "edas_change_orders": [asdict(c) for c in self.change_orders.values()],
                "webplus_changes": [asdict(c) for c in self.env_changes.values()],
            }

    def load_dict(self, data: dict[str, Any]) -> None:
        """Replace the state with a document produced by :meth:`to_dict` (unredacted)."""
        with self.lock:
            self.reset()
            self.merge_seed(data)
            for item in data.get("edas_change_orders") or []:
                order = _build(EdasChangeOrder, item)
                self.change_orders[order.change_order_id] = order
            for item in data.get("webplus_changes") or []:
                change = _build(WebPlusChange, item)
                self.env_changes[change.change_id] = change

    def save(self) -> None:
        """Write the state file atomically, if persistence is on."""
        if not self.state_path:
            return
        with self.lock:
            text = json.dumps(self.to_dict(redact=False), indent=2, sort_keys=True)
            directory = os.path.dirname(os.path.abspath(self.state_path))
            fd, tmp = tempfile.mkstemp(prefix=".emulator-state-", dir=directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.replace(tmp, self.state_path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise

    def load(self) -> bool:
        """Load the state file if it exists; return whether it did."""
        if not self.state_path or not os.path.exists(self.state_path):
            return False
        with open(self.state_path, encoding="utf-8") as handle:
            self.load_dict(json.load(handle))
        return True
