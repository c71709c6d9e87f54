"""Ids and emulator seeds for the fleet program (testbed/programs/fleet)."""

from __future__ import annotations

from typing import Any

#: What ``target_kind`` "four" cycles through: every kind of target there is.
FOUR_KINDS = ("edas", "webplus", "sae", "edas-k8s")


def _kind_at(kind: str, i: int) -> str:
    if kind == "mixed":
        return "edas" if i % 2 == 0 else "webplus"
    if kind == "four":
        return FOUR_KINDS[i % len(FOUR_KINDS)]
    return kind


def _ident(kind: str, i: int) -> str:
    if kind == "edas":
        return f"fleet-app-{i:04d}"
    if kind == "webplus":
        return f"we-fleet{i:018d}"
    if kind == "sae":
        return f"f1ee7000-0000-4000-8000-{i:012d}"  # SAE application ids are UUIDs
    if kind == "edas-k8s":
        return f"fleet-k8s-{i:04d}"
    raise ValueError(f"unknown target kind {kind!r}")


def target_ids(n: int, kind: str = "edas") -> list[tuple[str, str]]:
    """n (kind, id) pairs; kind "mixed" alternates EDAS applications and Web+ environments,
    "four" cycles EDAS, Web+, SAE and EDAS K8s targets; any other is one of those kinds."""
    return [(k, _ident(k, i)) for i in range(n) for k in [_kind_at(kind, i)]]


def fleet_seed(n: int, kind: str = "edas", duration_s: float = 0.5, region: str = "cn-hangzhou"):
    """An emulator seed holding the n targets of target_ids(n, kind)."""
    seed: dict[str, Any] = {
        "edas_applications": [],
        "webplus_environments": [],
        "sae_applications": [],
        "edas_k8s_applications": [],
    }
    for k, ident in target_ids(n, kind):
        common = {"region": region, "name": ident, "change_duration_s": duration_s}
        if k == "edas":
            seed["edas_applications"].append(
                {"app_id": ident, "ecc_ids": [f"{ident}-ecc"], **common}
            )
        elif k == "webplus":
            seed["webplus_environments"].append({"env_id": ident, "status": "RUNNING", **common})
        elif k == "sae":
            seed["sae_applications"].append({"app_id": ident, **common})
        else:
            seed["edas_k8s_applications"].append({"app_id": ident, **common})
    return seed
