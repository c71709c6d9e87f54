"""The unsigned JSON admin API under ``/__emulator__/`` (documented in emulator/README.md).

Faults never apply here, and nothing here is journaled.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from emulator import __version__, edas, sae, webplus
from emulator.clock import Clock
from emulator.faults import FaultConfig, FaultInjector
from emulator.journal import Journal
from emulator.state import SeedError, World

PREFIX = "/__emulator__/"


@dataclass
class AdminResult:
    """An admin answer: HTTP status and a JSON-able body."""

    status: int
    body: Any


def _error(status: int, message: str) -> AdminResult:
    return AdminResult(status, {"error": message})


class AdminApi:
    """Dispatches admin requests to the world, the fault injector and the journal."""

    def __init__(
        self,
        world: World,
        faults: FaultInjector,
        journal: Journal,
        clock: Clock | None = None,
        on_reset: Callable[[], None] | None = None,
    ) -> None:
        self.world = world
        self.faults = faults
        self.journal = journal
        self.clock = clock or Clock()
        self._on_reset = on_reset

    def handle(self, method: str, path: str, query: str, body: bytes) -> AdminResult:
        """Answer one admin request."""
        name = path[len(PREFIX) :].strip("/")
        try:
            payload = json.loads(body.decode("utf-8")) if body.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _error(400, f"the body is not valid JSON: {exc}")
        try:
            return self._dispatch(method, name, parse_qs(query), payload)
        except (SeedError, ValueError, TypeError) as exc:
            return _error(400, str(exc))

    def _dispatch(
        self, method: str, name: str, query: dict[str, list[str]], payload: Any
    ) -> AdminResult:
        if name == "health" and method == "GET":
            return AdminResult(200, {"ok": True, "version": __version__})
        if name == "seed" and method == "POST":
            if not isinstance(payload, dict):
                return _error(400, "POST /__emulator__/seed needs a JSON object")
            self.world.merge_seed(payload)
            self.world.save()
            return AdminResult(200, self._state())
        if name == "state":
            if method == "GET":
                return AdminResult(200, self._state())
            if method == "DELETE":
                self.world.reset()
                self.clock.reset()
                if self._on_reset is not None:
                    self._on_reset()
                self.world.save()
                return AdminResult(200, self._state())
        if name == "journal":
            if method == "GET":
                since = int((query.get("since") or ["0"])[0])
                return AdminResult(200, {"entries": self.journal.entries(since)})
            if method == "DELETE":
                self.journal.clear()
                return AdminResult(200, {"entries": []})
        if name == "faults":
            if method == "GET":
                return AdminResult(200, self.faults.config.to_dict())
            if method == "PUT":
                self.faults.configure(FaultConfig.from_dict(payload or {}))
                return AdminResult(200, self.faults.config.to_dict())
            if method == "PATCH":
                merged = {**self.faults.config.to_dict(), **(payload or {})}
                self.faults.configure(FaultConfig.from_dict(merged))
                return AdminResult(200, self.faults.config.to_dict())
            if method == "DELETE":
                self.faults.configure(FaultConfig())
                return AdminResult(200, self.faults.config.to_dict())
        if name == "confirm" and method == "POST":
            return self._confirm(payload)
        if name == "clock":
            if method == "POST":
                advance = payload.get("advance_s") if isinstance(payload, dict) else None
                if not isinstance(advance, int | float) or isinstance(advance, bool):
                    return _error(400, 'POST /__emulator__/clock needs {"advance_s": <seconds>}')
                self.clock.advance(float(advance))
            elif method == "DELETE":
                self.clock.reset()
            elif method != "GET":
                return _error(404, f"no admin endpoint {method} {PREFIX}{name}")
            return AdminResult(200, {"now": self.clock(), "offset_s": self.clock.offset_s})
        return _error(404, f"no admin endpoint {method} {PREFIX}{name}")

    def _confirm(self, payload: Any) -> AdminResult:
        """Release the next batch of an EDAS or SAE order at status 8, or resume a paused Web+
        change, as ContinuePipeline / ResumeChange would (no signature, any account)."""
        change_id = payload.get("change_id") if isinstance(payload, dict) else None
        if not isinstance(change_id, str) or not change_id:
            return _error(400, 'POST /__emulator__/confirm needs {"change_id": "..."}')
        now = self.clock()
        with self.world.lock:
            self.world.settle(now)
            order = self.world.change_orders.get(change_id)
            change = self.world.env_changes.get(change_id)
            sae_order = self.world.sae_orders.get(change_id)
            try:
                if order is not None:
                    kind, batch = "edas", edas.confirm(order, now)
                elif change is not None:
                    kind, batch = "webplus", webplus.resume(change, now)
                elif sae_order is not None:
                    kind, batch = "sae", sae.confirm(sae_order, now)
                else:
                    return _error(404, f"no change order or change {change_id}")
            except (edas.NotWaiting, webplus.NotPaused, sae.NotWaiting) as exc:
                return _error(409, str(exc))
            self.world.save()
        return AdminResult(200, {"kind": kind, "change_id": change_id, "next_batch": batch + 1})

    def _state(self) -> dict[str, Any]:
        self.world.settle(self.clock())
        return self.world.to_dict(redact=True)
