"""What a product operation handler receives: the world, the caller and the parameters."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.errors import invalid_parameter, missing_parameter
from emulator.faults import FaultInjector
from emulator.signatures import Caller
from emulator.state import World


@dataclass
class CallContext:
    """One verified product call.

    ``params`` holds each parameter read only from where the official SDKs put it (the route's
    body parameters from the form body, every other one from the query; see
    ``emulator.server.Route.params``), so one sent in the other place is simply missing.
    ``region`` comes from the ``RegionId`` query parameter or else the ``x-acs-region-id``
    header (None: any region).
    A handler may set ``result_id`` (the change id it created) for the journal.
    """

    world: World
    faults: FaultInjector
    caller: Caller
    params: dict[str, str]
    region: str | None
    now: float
    result_id: str | None = None

    def required(self, name: str) -> str:
        """A required parameter, or 400 MissingParameter."""
        value = self.params.get(name)
        if value is None or value.strip() == "":
            raise missing_parameter(name)
        return value.strip()

    def optional_int(self, name: str, low: int = 0, high: int | None = None) -> int | None:
        """An optional integer parameter within bounds, or 400 InvalidParameter."""
        raw = self.params.get(name)
        if raw is None or raw == "":
            return None
        try:
            value = int(raw.strip())
        except ValueError:
            raise invalid_parameter(name, raw, "an integer is expected") from None
        if value < low or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"between {low} and {high}"
            raise invalid_parameter(name, raw, f"must be {bounds}")
        return value

    def optional_bool(self, name: str) -> bool | None:
        """An optional boolean: ``true``/``false`` in any case, or 400 InvalidParameter."""
        raw = self.params.get(name)
        if raw is None or raw == "":
            return None
        lowered = raw.strip().lower()
        if lowered not in ("true", "false"):
            raise invalid_parameter(name, raw, "true or false is expected")
        return lowered == "true"

    def visible(self, region: str, account_id: str | None) -> bool:
        """Whether a resource in ``region`` owned by ``account_id`` is visible to this call."""
        if self.region is not None and region != self.region:
            return False
        return account_id is None or account_id == self.caller.account_id
