"""The pure modules load neither pulumi nor grpc, each in a fresh interpreter (docs/ARCHITECTURE.md,
"Rules that keep it this shape"): the one list, one test."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE_MODULES = [
    "restart_trigger",  # the lazy public API
    "restart_trigger.plan",
    "restart_trigger.inputs",
    "restart_trigger.validation",
    "restart_trigger.backoff",
    "restart_trigger.hashing",
    "restart_trigger.targets",
    "restart_trigger.aliyun",
    "restart_trigger.lines",
    "restart_trigger.runner",
    "restart_trigger.rollout",
    "restart_trigger.journal",
    "restart_trigger.stopping",
    "restart_trigger.preview_summary",
]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_a_pure_module_loads_neither_pulumi_nor_grpc(module):
    code = (
        f"import sys, {module}\n"
        "loaded = [m for m in ('pulumi', 'grpc') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
