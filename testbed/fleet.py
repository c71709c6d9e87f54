"""Ids and emulator seeds for the fleet program (testbed/programs/fleet)."""

from __future__ import annotations

from typing import Any


def target_ids(n: int, kind: str = "edas") -> list[tuple[str, str]]:
    """n (kind, id) pairs; kind "mixed" alternates EDAS applications and Web+ environments."""
    out = []
    for i in range(n):
        k = kind if kind != "mixed" else ("edas" if i % 2 == 0 else "webplus")
        out.append((k, f"fleet-app-{i:04d}" if k == "edas" else f"we-fleet{i:018d}"))
    return out


def fleet_seed(n: int, kind: str = "edas", duration_s: float = 0.5, region: str = "cn-hangzhou"):
    """An emulator seed holding the n targets of target_ids(n, kind)."""
    seed: dict[str, Any] = {"edas_applications": [], "webplus_environments": []}
    for k, ident in target_ids(n, kind):
        if k == "edas":
            seed["edas_applications"].append(
                {
                    "app_id": ident,
                    "region": region,
                    "name": ident,
                    "ecc_ids": [f"{ident}-ecc"],
                    "change_duration_s": duration_s,
                }
            )
        else:
            seed["webplus_environments"].append(
                {
                    "env_id": ident,
                    "region": region,
                    "name": ident,
                    "status": "RUNNING",
                    "change_duration_s": duration_s,
                }
            )
    return seed
